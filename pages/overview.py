"""Overview: the live V2 and V1 bars, the top values of each classification, a time chart."""

from __future__ import annotations

import dash
import polars as pl
from dash import html

from components.cards import notice, topn_card
from components.filters import filter_bar
from components.live_usage import live_usage_panel
from components.time_chart import time_chart
from components.view_state import ViewState
from config import get_settings
from data import stats
from data.queries import top_with_other

PATH = "/"
dash.register_page(__name__, path=PATH, title="API usage", name="Overview", order=0)

CARDS = (
    # (dimension, title, page, how many, V2 only)
    ("application", "Top applications", "/applications", 5, True),
    ("module", "Top modules", "/modules", 5, False),
    ("ip", "Top IP addresses", "/ip-addresses", 5, False),
    ("method", "Top methods", "/methods", 5, False),
    ("user", "Prolific API users", "/users", 3, False),
)


def _version_for(v2_only: bool, state: ViewState) -> str:
    return "v2" if v2_only else state.version


def _card(
    dimension: str,
    title: str,
    page: str,
    n: int,
    state: ViewState,
    ranked: pl.DataFrame | None,
) -> html.Div:
    """The top ``n`` values of one classification; ``ranked`` None: V2 only, V1 chosen."""
    message = None
    if ranked is None:
        top, message = pl.DataFrame(), "Applications are tracked for V2 calls only."
    else:
        top = top_with_other(ranked, n)
    return topn_card(
        title,
        top,
        dimension,
        state,
        page_href=state.href(page),
        card_id=f"card-{dimension}",
        message=message,
    )


def layout(**query: str) -> html.Div:
    state = ViewState.from_query(query)
    rng = state.time_range()
    shown = [
        (d, _version_for(v2, state))
        for d, _, _, _, v2 in CARDS
        if not (v2 and state.version == "v1")
    ]
    answers = stats.overview(
        rng.start, rng.end, state.version, rng.bucket, get_settings().timezone, tuple(shown)
    )
    totals = answers["summary"]
    cards = [
        html.Div(
            _card(d, t, p, n, state, answers["rankings"].get((d, _version_for(v2, state)))),
            className="col-12 col-md-6 col-xl-4",
        )
        for d, t, p, n, v2 in CARDS
    ]
    summary = html.Div(
        [
            html.Div(
                [
                    html.Div("Calls", className="small text-muted"),
                    html.Div(f"{totals['calls']:,}", className="fs-4 tabular", id="total-calls"),
                ],
                className="col",
            ),
            html.Div(
                [
                    html.Div("Credits", className="small text-muted"),
                    html.Div(
                        f"{totals['credits']:,}", className="fs-4 tabular", id="total-credits"
                    ),
                ],
                className="col",
            ),
            html.Div(
                [
                    html.Div("Errors", className="small text-muted"),
                    html.Div(f"{totals['errors']:,}", className="fs-4 tabular", id="total-errors"),
                ],
                className="col",
            ),
        ],
        className="row text-center",
    )
    return html.Div(
        [
            html.H1("API usage", className="h3 mb-3"),
            html.Div(html.Div(live_usage_panel(), className="card-body"), className="card mb-3"),
            filter_bar(state, PATH, rng),
            notice(rng.notice),
            html.Div(html.Div(summary, className="card-body py-2"), className="card mb-3"),
            html.Div(cards, className="row g-3 mb-3"),
            html.Div(
                [
                    html.Div(
                        html.H2("Calls over time", className="h6 mb-0"), className="card-header"
                    ),
                    html.Div(
                        time_chart(
                            rng,
                            state.version,
                            graph_id="overview-time-chart",
                            buckets=answers["timeline"],
                        ),
                        className="card-body",
                    ),
                ],
                className="card",
            ),
        ]
    )
