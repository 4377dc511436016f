"""The top navigation, built from the page registry; it keeps the viewer's range and version
from page to page, and disappears in the portal's iframe (``?embed=1``)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import dash
from dash import ALL, Input, Output, callback, dcc, html

from components.view_state import ViewState


def create_navbar(pages: list[dict]) -> html.Nav:
    """One link per registered page, in their ``order``."""
    links = [
        html.Li(
            dcc.Link(
                page["name"],
                href=page["relative_path"],
                className="nav-link",
                id={"type": "nav-link", "path": page["path"]},
            ),
            className="nav-item",
        )
        for page in pages
    ]
    return html.Nav(
        html.Div(
            [
                dcc.Link(
                    "API Usage Dashboard",
                    href=dash.get_relative_path("/"),
                    className="navbar-brand",
                ),
                html.Ul(links, className="navbar-nav flex-row flex-wrap column-gap-3"),
            ],
            className="container-fluid",
        ),
        className="navbar navbar-expand bg-body-tertiary border-bottom mb-3",
        id="navbar",
    )


@callback(
    Output({"type": "nav-link", "path": ALL}, "href"),
    Output({"type": "nav-link", "path": ALL}, "className"),
    Output("navbar", "className"),
    Input("nav-location", "pathname"),
    Input("nav-location", "search"),
)
def follow_location(pathname: str | None, search: str | None) -> tuple[list, list, str]:
    """Links that carry the shared filters, the current page marked, no chrome when embedded."""
    state = ViewState.from_query(dict(parse_qsl((search or "").lstrip("?"))))
    current = "/" + (dash.strip_relative_path(pathname or "/") or "")
    paths = [item["id"]["path"] for item in dash.callback_context.outputs_list[0]]
    hrefs = [state.href(path) for path in paths]
    classes = ["nav-link active fw-semibold" if p == current else "nav-link" for p in paths]
    chrome = "navbar navbar-expand bg-body-tertiary border-bottom mb-3"
    return hrefs, classes, f"{chrome} d-none" if state.embed else chrome
