"""The V2 and V1 usage bars and the V2 outlook, read live from the lake.

Never from the statistics cache: the bars redraw every few seconds in the open page, so an
accepted ingest shows within seconds without a reload.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dash import Input, Output, callback, dcc, html

from components.figures import returning_figure
from components.usage_bar import usage_bar
from config import get_settings
from data import clock
from data.forecast import Outlook, v2_outlook
from data.runtime import get_lake
from data.usage import live_usage

REFRESH_MS = 5_000
OUTLOOK_REFRESH_MS = 60_000


def _local(moment: datetime, zone: str, fmt: str = "%b %d %H:%M") -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.strftime(fmt)} {local.tzname()}"


def live_bars(now: datetime | None = None) -> list[html.Div]:
    """Both bars as of ``now`` (default: this instant)."""
    settings = get_settings()
    lake = get_lake()
    now = now or clock.now()
    v2, v1 = live_usage(lake, settings.limit_v2, settings.limit_v1, settings.v1_timezone, now)
    return [
        usage_bar(
            v2,
            title="V2 API · last 24 hours",
            window=f"rolling window since {_local(v2.window_start, settings.timezone)}",
            bar_id="usage-bar-v2",
        ),
        usage_bar(
            v1,
            title="V1 API · today",
            window=f"calendar day since {_local(v1.window_start, settings.v1_timezone)}",
            bar_id="usage-bar-v1",
        ),
    ]


def outlook_text(outlook: Outlook, timezone: str) -> str:
    """One sentence: when the limit is reached at the current rate, and who drives it."""
    if outlook.over_now:
        when = "The V2 limit is reached now: calls may be refused until credits come back."
    elif outlook.reach_at is None:
        when = (
            f"At the current rate ({outlook.rate_per_hour:,} credits in the last hour) "
            "the V2 limit is not reached within 24 hours."
        )
    else:
        at = _local(outlook.reach_at, timezone, "%H:%M")
        zone = ZoneInfo(timezone)  # "tomorrow" in the zone the time is shown in
        same_day = outlook.reach_at.astimezone(zone).date() == outlook.now.astimezone(zone).date()
        day = "" if same_day else " tomorrow"
        when = (
            f"At the current rate ({outlook.rate_per_hour:,} credits in the last hour) "
            f"the V2 limit is reached at {at}{day}."
        )
    if outlook.driver:
        when += f" Most of that use comes from {outlook.driver} ({outlook.driver_share:.0%})."
    return when


def live_outlook(now: datetime | None = None) -> tuple[str, object]:
    settings = get_settings()
    outlook = v2_outlook(get_lake(), settings.limit_v2, now or clock.now())
    return outlook_text(outlook, settings.timezone), returning_figure(
        outlook.returning, timezone=settings.timezone
    )


def live_usage_panel(*, outlook: bool = True) -> html.Div:
    """The bars (and the V2 outlook) plus the timers that redraw them without a reload."""
    children: list = [
        html.Div(live_bars(), id="live-usage-bars", **{"aria-live": "polite"}),
        dcc.Interval(id="live-usage-interval", interval=REFRESH_MS),
    ]
    if outlook:
        text, figure = live_outlook()
        children += [
            html.P(text, id="v2-outlook-text", className="mb-1 small"),
            html.Details(
                [
                    html.Summary("Credits coming back over the next 24 hours", className="small"),
                    dcc.Graph(
                        id="v2-returning-chart", figure=figure, config={"displayModeBar": False}
                    ),
                ]
            ),
            dcc.Interval(id="v2-outlook-interval", interval=OUTLOOK_REFRESH_MS),
        ]
    return html.Div(children, className="live-usage")


@callback(
    Output("live-usage-bars", "children"),
    Input("live-usage-interval", "n_intervals"),
    prevent_initial_call=True,
)
def refresh_live_usage(_n: int) -> list[html.Div]:
    return live_bars()


@callback(
    Output("v2-outlook-text", "children"),
    Output("v2-returning-chart", "figure"),
    Input("v2-outlook-interval", "n_intervals"),
    prevent_initial_call=True,
)
def refresh_outlook(_n: int) -> tuple[str, object]:
    return live_outlook()
