"""IP addresses: the graph view, list view and View all of calls by ip."""

from __future__ import annotations

import dash
from dash import html

from components.classification import classification_body

PATH = "/ip-addresses"
dash.register_page(
    __name__, path=PATH, title="IP addresses · API usage", name="IP addresses", order=3
)


def layout(**query: str) -> html.Div:
    return classification_body(
        "ip",
        PATH,
        query,
        title="IP addresses",
        intro="Calls by the IP address they came from: your users' access points.",
        top_n=5,
    )
