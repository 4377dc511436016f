"""The filter bar on every page: range presets, a date or date range, and the version.

Presets and versions are plain links (each filter state has its own URL); the date pickers
navigate through one callback. The page re-renders from its URL.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from dash import Input, Output, State, callback, dcc, html, no_update

from components.view_state import ViewState
from config import get_settings
from data import clock
from data.stats import as_of
from data.timerange import PRESETS, VERSIONS, TimeRange

NAV = "nav-location"


def _button(label: str, href: str, active: bool, test_id: str) -> dcc.Link:
    return dcc.Link(
        label,
        href=href,
        className=f"btn btn-sm {'btn-primary' if active else 'btn-outline-secondary'}",
        id=test_id,
        title=f"{label} (selected)" if active else label,
    )


def filter_bar(state: ViewState, path: str, rng: TimeRange, **page: str | None) -> html.Div:
    """Range and version controls for the page at ``path`` (``page``: its own parameters)."""
    settings = get_settings()
    now = clock.now()
    zone = ZoneInfo(settings.timezone)
    fresh, next_refresh = as_of()
    today = now.astimezone(zone).date()
    oldest = (now - timedelta(days=settings.retention_days)).astimezone(zone).date()
    presets = [
        _button(
            label,
            state.with_(range=key, date=None, start=None, end=None).href(path, **page),
            state.range == key,
            f"range-{key}",
        )
        for key, label in PRESETS.items()
        if key not in ("date", "custom")
    ]
    versions = [
        _button(
            label,
            state.with_(version=key).href(path, **page),
            state.version == key,
            f"version-{key}",
        )
        for key, label in VERSIONS.items()
    ]
    return html.Div(
        [
            html.Div(
                presets,
                className="btn-group flex-wrap",
                role="group",
                **{"aria-label": "Time range"},
            ),
            dcc.DatePickerSingle(
                id="filter-date",
                date=rng.day.isoformat() if state.range == "date" and rng.day else None,
                min_date_allowed=oldest.isoformat(),
                max_date_allowed=today.isoformat(),
                placeholder="A date",
                display_format="YYYY-MM-DD",
                clearable=False,
            ),
            dcc.DatePickerRange(
                id="filter-range",
                start_date=rng.first.isoformat() if rng.first else None,
                end_date=rng.last.isoformat() if rng.last else None,
                min_date_allowed=oldest.isoformat(),
                max_date_allowed=today.isoformat(),
                start_date_placeholder_text="From",
                end_date_placeholder_text="To",
                minimum_nights=0,
                display_format="YYYY-MM-DD",
            ),
            html.Div(
                versions, className="btn-group", role="group", **{"aria-label": "API version"}
            ),
            html.Span(
                [
                    html.Strong(rng.label),
                    f" · times in {settings.timezone}",
                    html.Br(),
                    html.Span(
                        f"Statistics as of {fresh.astimezone(zone):%H:%M}"
                        f" · next refresh {next_refresh.astimezone(zone):%H:%M}",
                        id="stats-freshness",
                    ),
                ],
                className="small text-muted ms-md-auto text-md-end",
                id="range-label",
            ),
            dcc.Store(
                id="filter-context", data={"path": path, "page": page, "state": state.params()}
            ),
        ],
        className="filter-bar d-flex flex-wrap align-items-center gap-2 mb-3",
    )


def _restore(context: dict) -> tuple[ViewState, str, dict]:
    return ViewState.from_query(context["state"]), context["path"], context["page"]


@callback(
    Output(NAV, "href", allow_duplicate=True),
    Input("filter-date", "date"),
    State("filter-context", "data"),
    prevent_initial_call=True,
)
def pick_date(day: str | None, context: dict) -> str:
    """A date picked: show that one day."""
    if not day:
        return no_update
    state, path, page = _restore(context)
    if state.range == "date" and state.date == day[:10]:
        return no_update
    return state.with_(range="date", date=day[:10], start=None, end=None).href(path, **page)


@callback(
    Output(NAV, "href", allow_duplicate=True),
    Input("filter-range", "start_date"),
    Input("filter-range", "end_date"),
    State("filter-context", "data"),
    prevent_initial_call=True,
)
def pick_range(first: str | None, last: str | None, context: dict) -> str:
    """Both ends of a custom range picked: show those days."""
    if not first or not last:
        return no_update
    state, path, page = _restore(context)
    first, last = first[:10], last[:10]
    if state.range == "custom" and (state.start, state.end) == (first, last):
        return no_update
    return state.with_(range="custom", start=first, end=last, date=None).href(path, **page)
