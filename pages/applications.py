"""Applications: the graph view, list view and View all of calls by application."""

from __future__ import annotations

import dash
from dash import html

from components.classification import classification_body

PATH = "/applications"
dash.register_page(
    __name__, path=PATH, title="Applications · API usage", name="Applications", order=1
)


def layout(**query: str) -> html.Div:
    return classification_body(
        "application",
        PATH,
        query,
        title="Applications",
        intro=(
            "V2 calls by the application they were made from. Click a slice or a "
            "name to open its statistics in the table view."
        ),
        top_n=5,
        v2_only=True,
    )
