"""Table view: every combination of application, module, method, user, IP and version.

The default column (``dim``) comes first and the others follow; ``value`` selects one value of
it. Hovering a value shows what it connects to; clicking one lists its connections in full.
"""

from __future__ import annotations

import dash
import dash_ag_grid as dag
import polars as pl
from dash import Input, Output, Patch, State, callback, clientside_callback, dcc, html, no_update

from components.cards import empty_state, notice
from components.filters import NAV, filter_bar
from components.view_state import ViewState
from data import stats
from data.queries import DIMENSIONS

PATH = "/table"
dash.register_page(__name__, path=PATH, title="Table view · API usage", name="Table", order=7)

SORTS = {
    "calls-desc": ("Calls, most first", "calls", True),
    "calls-asc": ("Calls, fewest first", "calls", False),
    "credits-desc": ("Credits, most first", "credits", True),
    "errors-desc": ("Errors, most first", "errors", True),
    "name-asc": ("Name, A to Z", None, False),
    "name-desc": ("Name, Z to A", None, True),
}
DEFAULT_SORT = "calls-desc"
DEFAULT_DIM = "application"
LINKS_PER_DIMENSION = 5
MAX_ROWS = 20_000


def column_order(first: str) -> list[str]:
    """The default column first, then the other dimensions in their usual order."""
    return [first] + [d for d in DIMENSIONS if d != first]


def sort_rows(rows: pl.DataFrame, first: str, sort: str) -> pl.DataFrame:
    """Rows in the order the sort-order control asks for (ties: calls, then names)."""
    _, measure, descending = SORTS[sort]
    keys = column_order(first)
    if measure is None:
        return rows.sort([first, "calls"], descending=[descending, True], nulls_last=True)
    return rows.sort([measure, *keys], descending=[descending] + [False] * len(keys))


def connection_texts(rows: pl.DataFrame) -> dict[str, dict[str, str]]:
    """For every value of every dimension in ``rows``: its top connections, as text.

    ``{"user": {"ana@example.com": "IP address: 192.0.2.1 (1,204), …\\nModule: …"}}``
    """
    texts: dict[str, dict[str, str]] = {}
    for dim in DIMENSIONS:
        lines: dict[str, list[str]] = {}
        for other, label in DIMENSIONS.items():
            if other == dim:
                continue
            pairs = (
                rows.group_by(dim, other)
                .agg(pl.col("calls").sum())
                .sort([dim, "calls", other], descending=[False, True, False])
                .group_by(dim, maintain_order=True)
                .agg(
                    pl.col(other).head(LINKS_PER_DIMENSION),
                    pl.col("calls").head(LINKS_PER_DIMENSION),
                    pl.len().alias("n"),
                )
            )
            for value, names, calls, n in pairs.iter_rows():
                shown = ", ".join(
                    f"{name} ({count:,})" for name, count in zip(names, calls, strict=True)
                )
                more = f" and {n - len(names)} more" if n > len(names) else ""
                lines.setdefault(str(value), []).append(f"{label}: {shown}{more}")
        texts[dim] = {value: "\n".join(parts) for value, parts in lines.items()}
    return texts


def _column_defs(first: str) -> list[dict]:
    dims = [
        {
            "field": dim,
            "headerName": DIMENSIONS[dim],
            "filter": "agTextColumnFilter",
            "tooltipValueGetter": {"function": "apidashConnections(params)"},
            "pinned": "left" if dim == first else None,
            "minWidth": 220 if dim == first else 110,
            "cellClass": "fw-semibold" if dim == first else None,
        }
        for dim in column_order(first)
    ]
    numbers = [
        {
            "field": "calls",
            "headerName": "Calls",
            "filter": "agNumberColumnFilter",
            "type": "numericColumn",
            "valueFormatter": {"function": "d3.format(',')(params.value)"},
        },
        {
            "field": "credits",
            "headerName": "Credits",
            "filter": "agNumberColumnFilter",
            "type": "numericColumn",
            "valueFormatter": {"function": "d3.format(',')(params.value)"},
        },
        {
            "field": "errors",
            "headerName": "Errors",
            "filter": "agNumberColumnFilter",
            "type": "numericColumn",
            "valueFormatter": {"function": "d3.format(',')(params.value)"},
        },
        {
            "field": "p95_ms",
            "headerName": "p95 ms",
            "filter": "agNumberColumnFilter",
            "type": "numericColumn",
            "valueFormatter": {
                "function": "params.value == null ? '' : d3.format(',.0f')(params.value)"
            },
        },
    ]
    return dims + numbers


def _controls(state: ViewState, first: str, value: str | None, sort: str) -> html.Div:
    chip = (
        html.Span(
            [
                html.Span(f"{DIMENSIONS[first]}: ", className="text-muted"),
                html.Strong(value, id="table-selected-value"),
                dcc.Link(
                    " ✕",
                    href=state.href(PATH, dim=first, sort=None if sort == DEFAULT_SORT else sort),
                    className="text-decoration-none ms-1",
                    title=f"Show every {DIMENSIONS[first].lower()}",
                ),
            ],
            className="badge text-bg-light border fs-6 fw-normal",
        )
        if value is not None
        else None
    )
    return html.Div(
        [
            html.Label("First column", htmlFor="table-dim", className="small text-muted"),
            dcc.Dropdown(
                id="table-dim",
                options=[{"label": label, "value": dim} for dim, label in DIMENSIONS.items()],
                value=first,
                clearable=False,
                searchable=False,
                className="table-control",
            ),
            html.Label("Sort order", htmlFor="table-sort", className="small text-muted"),
            dcc.Dropdown(
                id="table-sort",
                options=[{"label": label, "value": key} for key, (label, _, _) in SORTS.items()],
                value=sort,
                clearable=False,
                searchable=False,
                className="table-control",
            ),
            dcc.Input(
                id="table-search",
                type="search",
                placeholder="Search the table…",
                debounce=0.3,
                className="form-control form-control-sm table-search",
            ),
            chip,
            html.Button(
                "Export CSV", id="table-export", className="btn btn-sm btn-outline-primary ms-auto"
            ),
        ],
        className="d-flex flex-wrap align-items-center gap-2 mb-2",
    )


def layout(**query: str) -> html.Div:
    state = ViewState.from_query(query)
    first = query.get("dim") if query.get("dim") in DIMENSIONS else DEFAULT_DIM
    sort = query.get("sort") if query.get("sort") in SORTS else DEFAULT_SORT
    value = query.get("value") or None
    rng = state.time_range()
    page = {"dim": first, "value": value, "sort": None if sort == DEFAULT_SORT else sort}
    rows = stats.table(rng.start, rng.end, state.version, first, value)
    header = [
        html.H1(f"Table view · {DIMENSIONS[first]}", className="h3 mb-1"),
        html.P(
            "Every combination of application, module, method, user, IP address and version. "
            "Hover a value to see what it connects to; click it for the full list.",
            className="text-muted mb-3",
        ),
        filter_bar(state, PATH, rng, **page),
        notice(rng.notice),
        dcc.Store(
            id="table-context",
            data={"state": state.params(), "dim": first, "sort": sort, "value": value},
        ),
    ]
    if rows.is_empty():
        what = f"for {DIMENSIONS[first]} {value!r}" if value else "in this range"
        body = html.Div(
            [_controls(state, first, value, sort), empty_state(f"No API calls {what}.")]
        )
        return html.Div(
            [*header, html.Div(html.Div(body, className="card-body"), className="card")]
        )
    rows = sort_rows(rows, first, sort)
    total = int(rows.get_column("calls").sum())
    combinations = rows.height
    rows = rows.head(MAX_ROWS)  # the grid virtualises rows, but the page must not ship millions
    file_name = (
        "api-usage-"
        + "-".join(p for p in (first, value, state.range, state.version) if p)
        .replace(" ", "_")
        .replace("/", "_")
        + ".csv"
    )
    grid = dag.AgGrid(
        id="table-grid",
        rowData=rows.select(
            column_order(first) + ["calls", "credits", "errors", "p95_ms"]
        ).to_dicts(),
        columnDefs=_column_defs(first),
        defaultColDef={
            "useValueFormatterForExport": False,  # CSV numbers stay numbers: 1234, not "1,234"
            "sortable": True,
            "resizable": True,
            "floatingFilter": False,
            "minWidth": 110,
        },
        dashGridOptions={
            "animateRows": False,
            "tooltipShowDelay": 250,
            "tooltipInteraction": True,
            "enableCellTextSelection": True,
            "rowBuffer": 20,
        },
        csvExportParams={"fileName": file_name},
        columnSize="responsiveSizeToFit",
        style={"height": "600px"},
    )
    shown = (
        f"{combinations:,} rows · {total:,} calls"
        if combinations <= MAX_ROWS
        else f"The first {MAX_ROWS:,} of {combinations:,} rows ({total:,} calls) in this order: "
        "pick a value or a shorter range to see the others"
    )
    summary = html.Div(
        shown,
        className="small text-muted mb-2",
        id="table-summary",
    )
    body = html.Div(
        [
            _controls(state, first, value, sort),
            summary,
            grid,
            dcc.Store(id="table-links", data=connection_texts(rows)),
            dcc.Store(id="table-links-ready"),
            html.Div(id="table-details", className="mt-3"),
        ]
    )
    return html.Div([*header, html.Div(html.Div(body, className="card-body"), className="card")])


@callback(
    Output(NAV, "href", allow_duplicate=True),
    Input("table-dim", "value"),
    Input("table-sort", "value"),
    State("table-context", "data"),
    prevent_initial_call=True,
)
def change_view(first: str, sort: str, context: dict) -> str:
    """The first column or the sort order changed: open that view (its own URL)."""
    if (first, sort) == (context["dim"], context["sort"]):
        return no_update
    state = ViewState.from_query(context["state"])
    value = context["value"] if first == context["dim"] else None
    return state.href(PATH, dim=first, value=value, sort=None if sort == DEFAULT_SORT else sort)


clientside_callback(
    """function (links) { window.apidashLinks = links || {}; return true; }""",
    Output("table-links-ready", "data"),
    Input("table-links", "data"),
)


@callback(
    Output("table-grid", "dashGridOptions"),
    Input("table-search", "value"),
    prevent_initial_call=True,
)
def quick_search(text: str | None) -> Patch:
    options = Patch()
    options["quickFilterText"] = text or ""
    return options


@callback(
    Output("table-grid", "exportDataAsCsv"),
    Input("table-export", "n_clicks"),
    prevent_initial_call=True,
)
def export_csv(_clicks: int) -> bool:
    """Download the rows as they are shown (sorted, filtered, searched) as CSV."""
    return True


@callback(
    Output("table-details", "children"),
    Input("table-grid", "cellClicked"),
    State("table-context", "data"),
    prevent_initial_call=True,
)
def show_connections(cell: dict | None, context: dict) -> html.Div:
    """A click on a value lists everything it connects to, with counts."""
    if not cell or cell.get("colId") not in DIMENSIONS or cell.get("value") is None:
        return no_update
    dim, value = cell["colId"], str(cell["value"])
    state = ViewState.from_query(context["state"])
    rng = state.time_range()
    links = stats.links(dim, value, rng.start, rng.end, state.version)
    groups = []
    for other, part in links.group_by("dimension", maintain_order=True):
        items = [
            html.Li(
                [html.Span(str(v)), html.Span(f"{c:,}", className="ms-auto tabular")],
                className="list-group-item d-flex gap-2 py-1",
            )
            for v, c in part.select("value", "calls").head(20).iter_rows()
        ]
        more = part.height - len(items)
        groups.append(
            html.Div(
                [
                    html.H3(DIMENSIONS[other[0]], className="h6"),
                    html.Ul(items, className="list-group list-group-flush small"),
                    html.Small(f"and {more:,} more", className="text-muted") if more > 0 else None,
                ],
                className="col-12 col-md-6 col-xl-4",
            )
        )
    return html.Div(
        [
            html.H2(
                [f"{DIMENSIONS[dim]} ", html.Strong(value), " connects to"],
                className="h6 mb-2",
            ),
            dcc.Link(
                f"Open the table with {DIMENSIONS[dim]} first",
                href=state.href(PATH, dim=dim, value=value),
                className="small d-inline-block mb-2",
            ),
            html.Div(groups, className="row g-3"),
        ],
        className="border rounded p-3 bg-body-tertiary",
        id="table-connections",
    )
