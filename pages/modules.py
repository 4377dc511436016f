"""Modules: the graph view, list view and View all of calls by module."""

from __future__ import annotations

import dash
from dash import html

from components.classification import classification_body

PATH = "/modules"
dash.register_page(__name__, path=PATH, title="Modules · API usage", name="Modules", order=2)


def layout(**query: str) -> html.Div:
    return classification_body(
        "module",
        PATH,
        query,
        title="Modules",
        intro=(
            "Calls by CRM module. Click a slice or a name to open the table view with Module first."
        ),
        top_n=5,
    )
