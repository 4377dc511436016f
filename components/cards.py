"""Cards without callbacks: top-N lists, empty states, notices."""

from __future__ import annotations

import polars as pl
from dash import dcc, html

from components.view_state import ViewState


def empty_state(message: str, hint: str | None = None) -> html.Div:
    """Stands in place of a chart or table when there is nothing to show."""
    return html.Div(
        [html.P(message, className="fw-semibold mb-1"), html.P(hint or "", className="small mb-0")],
        className="empty-state d-flex flex-column justify-content-center align-items-center "
        "text-center text-muted border rounded bg-body-tertiary p-4",
        role="status",
    )


def notice(message: str | None) -> html.Div | None:
    """A dismissable word about a corrected URL value, or nothing."""
    if not message:
        return None
    return html.Div(message, className="alert alert-warning py-2 small", role="alert")


def table_href(state: ViewState, dimension: str, value: str | None) -> str:
    """The table view with ``dimension`` first and ``value`` selected."""
    return state.href("/table", dim=dimension, value=value)


def share_text(share: float) -> str:
    return f"{share * 100:.1f} %"


def topn_list(top: pl.DataFrame, dimension: str, state: ViewState, *, list_id: str) -> html.Ol:
    """The top values as a list: name (opens the table view), calls and share."""
    items = []
    for row in top.iter_rows(named=True):
        value = str(row["value"])
        other = value.startswith("Other (")
        name = (
            html.Span(value, className="text-muted")
            if other
            else dcc.Link(value, href=table_href(state, dimension, value), className="topn-link")
        )
        items.append(
            html.Li(
                html.Div(
                    [
                        html.Div(
                            [name, html.Span(f"{row['calls']:,}", className="ms-auto tabular")],
                            className="d-flex gap-2",
                        ),
                        html.Div(
                            [
                                html.Div(
                                    html.Div(
                                        className="progress-bar topn-share",
                                        style={"width": f"{row['share'] * 100:.2f}%"},
                                    ),
                                    className="progress topn-bar flex-grow-1",
                                ),
                                html.Small(
                                    share_text(row["share"]), className="text-muted tabular"
                                ),
                            ],
                            className="d-flex align-items-center gap-2",
                            title=f"{share_text(row['share'])} of calls",
                        ),
                    ],
                    className="flex-grow-1",
                ),
                className="list-group-item d-flex gap-2 py-1",
            )
        )
    return html.Ol(items, className="list-group list-group-numbered topn-list", id=list_id)


def topn_card(
    title: str,
    top: pl.DataFrame,
    dimension: str,
    state: ViewState,
    *,
    page_href: str,
    card_id: str,
    message: str | None = None,
) -> html.Div:
    """A card with the top values of one classification and a link to its page."""
    if message:
        body: html.Div | html.Ol = empty_state(message)
    elif top.is_empty():
        body = empty_state("No API calls in this range.")
    else:
        body = topn_list(top, dimension, state, list_id=f"{card_id}-list")
    return html.Div(
        [
            html.Div(
                [
                    html.H2(title, className="h6 mb-0"),
                    dcc.Link("Details", href=page_href, className="small ms-auto"),
                ],
                className="card-header d-flex align-items-center",
            ),
            html.Div(body, className="card-body p-2"),
        ],
        className="card h-100",
        id=card_id,
    )
