"""Time: calls over one day by hour, or over a range of dates by day (graph only)."""

from __future__ import annotations

import dash
from dash import html

from components.cards import notice
from components.filters import filter_bar
from components.time_chart import time_chart
from components.view_state import ViewState

PATH = "/time"
dash.register_page(__name__, path=PATH, title="Time · API usage", name="Time", order=6)


def layout(**query: str) -> html.Div:
    state = ViewState.from_query(query)
    rng = state.time_range()
    return html.Div(
        [
            html.H1("Time", className="h3 mb-1"),
            html.P(
                "When the calls were made: one day by hour, or a range of dates by day.",
                className="text-muted mb-3",
            ),
            filter_bar(state, PATH, rng),
            notice(rng.notice),
            html.Div(
                html.Div(time_chart(rng, state.version), className="card-body"), className="card"
            ),
        ]
    )
