"""Overview: the live V2 and V1 usage bars."""

from __future__ import annotations

import dash
from dash import html

from components.live_usage import live_usage_panel

dash.register_page(__name__, path="/", title="Overview", name="Overview", order=0)


def layout(**_: str) -> html.Div:
    return html.Div(
        [
            html.H1("API usage", className="h3 mb-3"),
            html.Div(html.Div(live_usage_panel(), className="card-body"), className="card mb-3"),
        ]
    )
