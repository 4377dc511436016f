"""Users: the graph view, list view and View all of calls by user."""

from __future__ import annotations

import dash
from dash import html

from components.classification import classification_body

PATH = "/users"
dash.register_page(__name__, path=PATH, title="Users · API usage", name="Users", order=4)


def layout(**query: str) -> html.Div:
    return classification_body(
        "user",
        PATH,
        query,
        title="Prolific API users",
        intro=(
            "The users who made the most calls. Open one to see the IPs, modules "
            "and methods they used."
        ),
        top_n=3,
    )
