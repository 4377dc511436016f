"""A classification's page body: the graph view (doughnut), the list view and "View all".

Shared by Applications, Modules, IP addresses, Users and Methods. A click on a slice, a name
or a row opens the table view with that classification as the default (first) column and
the clicked value selected.
"""

from __future__ import annotations

from datetime import datetime

import dash_ag_grid as dag
import polars as pl
from dash import ALL, MATCH, Input, Output, State, callback, ctx, dcc, html, no_update

from components.cards import empty_state, notice, table_href, topn_list
from components.figures import doughnut_figure
from components.filters import NAV, filter_bar
from components.view_state import ViewState
from data import paging, stats
from data.queries import DIMENSIONS, top_with_other
from data.timerange import TimeRange

VIEWS = {"graph": "Graph", "list": "List", "all": "View all"}


def _view_switch(state: ViewState, path: str, view: str) -> html.Div:
    return html.Div(
        [
            dcc.Link(
                label,
                href=state.href(path, view=None if key == "graph" else key),
                className=f"btn btn-sm {'btn-primary' if key == view else 'btn-outline-secondary'}",
                id=f"view-{key}",
            )
            for key, label in VIEWS.items()
        ],
        className="btn-group",
        role="group",
        **{"aria-label": "View"},
    )


PAGE_ROWS = 200


def _all_values_grid(dimension: str, rng: TimeRange, version: str) -> html.Div:
    """Every value, served page by page (AG Grid's infinite row model): the browser only
    ever holds a few hundred rows, whether there are 12 modules or 100,000 IP addresses."""
    label = DIMENSIONS[dimension]
    grid = dag.AgGrid(
        id={"type": "all-values", "dimension": dimension},
        rowModelType="infinite",
        columnDefs=[
            {
                "field": "value",
                "headerName": label,
                "cellClass": "link-cell",
                "filter": "agTextColumnFilter",
                "tooltipValueGetter": {"function": "'Open ' + params.value + ' in the table view'"},
            },
            {
                "field": "calls",
                "headerName": "Calls",
                "type": "numericColumn",
                "sort": "desc",
                "filter": "agNumberColumnFilter",
            },
            {
                "field": "credits",
                "headerName": "Credits",
                "type": "numericColumn",
                "filter": "agNumberColumnFilter",
            },
            {
                "field": "errors",
                "headerName": "Errors",
                "type": "numericColumn",
                "filter": "agNumberColumnFilter",
            },
            {
                "field": "share",
                "headerName": "Share of calls (%)",
                "type": "numericColumn",
                "filter": "agNumberColumnFilter",
            },
        ],
        defaultColDef={"sortable": True, "resizable": True, "flex": 1},
        dashGridOptions={
            "animateRows": False,
            "tooltipShowDelay": 300,
            "cacheBlockSize": PAGE_ROWS,
            "maxBlocksInCache": 10,
        },
        getRowId="params.data.value",
        columnSize="responsiveSizeToFit",
        style={"height": "560px"},
    )
    query = {"start": rng.start.isoformat(), "end": rng.end.isoformat(), "version": version}
    return html.Div(
        [grid, dcc.Store(id={"type": "all-values-query", "dimension": dimension}, data=query)]
    )


def classification_body(
    dimension: str,
    path: str,
    query: dict[str, str],
    *,
    title: str,
    intro: str,
    top_n: int = 5,
    v2_only: bool = False,
) -> html.Div:
    """The whole page for one classification, from its URL parameters."""
    state = ViewState.from_query(query)
    view = query.get("view") if query.get("view") in VIEWS else "graph"
    rng = state.time_range()
    header = [
        html.H1(title, className="h3 mb-1"),
        html.P(intro, className="text-muted mb-3"),
        filter_bar(state, path, rng, view=None if view == "graph" else view),
        notice(rng.notice),
    ]
    version = state.version
    if v2_only and version == "v1":
        content = empty_state(
            "Applications are tracked for V2 calls only.",
            "V1 calls are not made from registered applications: choose V2 to see them.",
        )
        return html.Div([*header, content])
    if v2_only and version == "all":
        version = "v2"
        header.append(
            html.P(
                "Showing V2 calls: applications are tracked for V2 only.",
                className="small text-muted",
            )
        )
    ranked = stats.ranking(dimension, rng.start, rng.end, version)
    switch = html.Div(
        [
            html.Span(
                f"{ranked.height:,} {DIMENSIONS[dimension].lower()} values",
                className="small text-muted",
            ),
            _view_switch(state, path, view),
        ],
        className="d-flex justify-content-between align-items-center mb-2",
    )
    if ranked.is_empty():
        content = empty_state(
            "No API calls in this range.", "Pick a longer range or another version."
        )
    elif view == "all":
        content = _all_values_grid(dimension, rng, version)
    else:
        top = top_with_other(ranked, top_n)
        if view == "list":
            content = topn_list(top, dimension, state, list_id=f"topn-{dimension}")
        else:
            hrefs = [
                state.href(path, view="all")
                if str(v).startswith("Other (")
                else table_href(state, dimension, str(v))
                for v in top.get_column("value").to_list()
            ]
            content = dcc.Graph(
                id={"type": "doughnut", "dimension": dimension},
                figure=doughnut_figure(top, hrefs),
                config={"displayModeBar": False, "responsive": True},
                className="doughnut-graph",
            )
    return html.Div(
        [*header, html.Div(html.Div([switch, content], className="card-body"), className="card")]
    )


@callback(
    Output(NAV, "href", allow_duplicate=True),
    Input({"type": "doughnut", "dimension": ALL}, "clickData"),
    prevent_initial_call=True,
)
def open_slice(clicks: list[dict | None]) -> str:
    """A click on a slice opens the link it carries (the table view, or View all for Other)."""
    click = next((c for c in clicks if c), None)
    if not click or not click.get("points"):
        return no_update
    return click["points"][0].get("customdata") or no_update


@callback(
    Output(NAV, "href", allow_duplicate=True),
    Input({"type": "all-values", "dimension": ALL}, "cellClicked"),
    State("filter-context", "data"),
    prevent_initial_call=True,
)
def open_row(cells: list[dict | None], context: dict) -> str:
    """A click on a name in View all opens the table view on that value."""
    cell = next((c for c in cells if c), None)
    if not cell or cell.get("colId") != "value" or ctx.triggered_id is None:
        return no_update
    state = ViewState.from_query(context["state"])
    return table_href(state, ctx.triggered_id["dimension"], str(cell["value"]))


@callback(
    Output({"type": "all-values", "dimension": MATCH}, "getRowsResponse"),
    Input({"type": "all-values", "dimension": MATCH}, "getRowsRequest"),
    State({"type": "all-values-query", "dimension": MATCH}, "data"),
    prevent_initial_call=True,
)
def serve_all_values(request: dict | None, query: dict) -> dict:
    """One page of View all, sorted and filtered as the grid asks (from the cached ranking)."""
    if not request:
        return no_update
    dimension = ctx.triggered_id["dimension"]
    start, end = datetime.fromisoformat(query["start"]), datetime.fromisoformat(query["end"])
    ranked = stats.ranking(dimension, start, end, query["version"])
    ranked = ranked.with_columns((pl.col("share") * 100).round(2).alias("share"))
    return paging.page(ranked, request)
