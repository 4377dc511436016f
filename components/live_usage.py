"""The V2 and V1 usage bars, read live from the lake (never from the statistics cache)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dash import Input, Output, callback, dcc, html

from components.usage_bar import usage_bar
from config import get_settings
from data.runtime import get_lake
from data.usage import v1_usage, v2_usage

REFRESH_MS = 5_000


def _local(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%b %d %H:%M} {local.tzname()}"


def live_bars(now: datetime | None = None) -> list[html.Div]:
    """Both bars as of ``now`` (default: this instant)."""
    settings = get_settings()
    lake = get_lake()
    v2 = v2_usage(lake, settings.limit_v2, now)
    v1 = v1_usage(lake, settings.limit_v1, settings.v1_timezone, now)
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


def live_usage_panel() -> html.Div:
    """The bars plus the timer that redraws them every few seconds, without a reload."""
    return html.Div(
        [
            html.Div(live_bars(), id="live-usage-bars"),
            dcc.Interval(id="live-usage-interval", interval=REFRESH_MS),
        ],
        className="live-usage",
    )


@callback(
    Output("live-usage-bars", "children"),
    Input("live-usage-interval", "n_intervals"),
    prevent_initial_call=True,
)
def refresh_live_usage(_n: int) -> list[html.Div]:
    return live_bars()
