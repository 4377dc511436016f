"""Methods: the graph view, list view and View all of calls by method."""

from __future__ import annotations

import dash
from dash import html

from components.classification import classification_body

PATH = "/methods"
dash.register_page(__name__, path=PATH, title="Methods · API usage", name="Methods", order=5)


def layout(**query: str) -> html.Div:
    return classification_body(
        "method",
        PATH,
        query,
        title="Methods",
        intro="Calls by method: HTTP methods for V2, API method names for V1.",
        top_n=5,
    )
