"""Pages and callbacks without a browser: layouts by component id, callbacks as functions."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

import dash
import polars as pl
import pytest

from data import clock
from data.cache import period_bounds
from factory import v1_rows, v2_rows, write

# The statistics are as of the start of the refresh period: the data lies before it.
NOW = period_bounds(datetime.now(UTC), 15)[0]


@pytest.fixture
def app(lake):
    clock.set_now(NOW + timedelta(minutes=5))
    write(lake, v2_rows(NOW) + v1_rows(NOW))
    from app import app as dash_app

    return dash_app


@contextlib.contextmanager
def dash_context(triggered_id):
    """Run a callback as a plain function with ``ctx.triggered_id`` set (as Dash would)."""
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    token = context_value.set(
        AttributeDict(
            triggered_inputs=[
                {
                    "prop_id": json.dumps(triggered_id, separators=(",", ":"), sort_keys=True)
                    + ".getRowsRequest",
                    "value": 1,
                }
            ]
        )
    )
    try:
        yield
    finally:
        context_value.reset(token)


def find(component, component_id):
    """The component with ``component_id`` in a layout tree, or None."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    if children is None:
        return None
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json") and (hit := find(child, component_id)) is not None:
            return hit
    return None


def text_of(component) -> str:
    return json.dumps(component.to_plotly_json(), default=str)


def test_navigation_is_built_from_the_page_registry(app):
    names = [p["name"] for p in dash.page_registry.values()]
    assert names[:8] == [
        "Overview",
        "Applications",
        "Modules",
        "IP addresses",
        "Users",
        "Methods",
        "Time",
        "Table",
    ]
    assert all(name in text_of(app.layout) for name in names)


def test_overview_shows_bars_top_cards_and_time_chart(app):
    from pages import overview

    page = overview.layout()
    for component_id in (
        "usage-bar-v2",
        "usage-bar-v1",
        "card-application",
        "card-module",
        "card-ip",
        "card-method",
        "card-user",
        "overview-time-chart",
    ):
        assert find(page, component_id) is not None, component_id
    assert find(page, "total-calls").children == "280"
    users = find(page, "card-user-list")
    assert len(users.children) == 4  # top 3 + Other


def test_applications_page_says_v2_only_for_v1(app):
    from pages import applications

    page = applications.layout(version="v1")
    assert "V2 calls only" in text_of(page)
    assert '"doughnut"' not in text_of(page)


def test_classification_graph_slices_link_to_the_table(app):
    from pages import modules

    page = modules.layout()
    graph = find(page, {"type": "doughnut", "dimension": "module"})
    pie = graph.figure.data[0]
    assert list(pie.labels) == ["Leads", "Contacts", "Deals", "Accounts", "Tasks", "Other (2)"]
    assert pie.customdata[0] == "/table?dim=module&value=Leads"
    assert pie.customdata[-1] == "/modules?view=all"


def test_view_all_serves_every_value_page_by_page(app):
    from components.classification import serve_all_values
    from pages import ip_addresses

    page = ip_addresses.layout(view="all")
    grid = find(page, {"type": "all-values", "dimension": "ip"})
    assert grid.rowModelType == "infinite"
    assert getattr(grid, "rowData", None) is None  # nothing shipped up front
    query = find(page, {"type": "all-values-query", "dimension": "ip"}).data
    request = {"startRow": 0, "endRow": 5, "sortModel": [{"colId": "calls", "sort": "desc"}]}
    with dash_context({"type": "all-values", "dimension": "ip"}):
        first = serve_all_values(request, query)
        assert first["rowCount"] == 8
        assert [r["value"] for r in first["rowData"]][:2] == ["192.0.2.1", "198.51.100.4"]
        assert len(first["rowData"]) == 5
        rest = serve_all_values({**request, "startRow": 5, "endRow": 10}, query)
        assert len(rest["rowData"]) == 3
        only = serve_all_values(
            {
                **request,
                "filterModel": {
                    "value": {"filterType": "text", "type": "contains", "filter": "2001"}
                },
            },
            query,
        )
        assert [r["value"] for r in only["rowData"]] == ["2001:db8::8"] and only["rowCount"] == 1


def test_empty_range_gives_a_message_not_a_chart(app):
    from pages import modules, time

    for page in (
        modules.layout(range="date", date=(NOW.date().replace(day=1)).isoformat()),
        time.layout(version="v1", range="yesterday"),
    ):
        if "No API calls" not in text_of(page):
            pytest.skip("the factory's data fell on that day")  # only at the start of a month
        assert "No API calls" in text_of(page)


def test_table_puts_the_default_column_first_and_selects_the_value(app):
    from pages import table

    page = table.layout(dim="user", value="ana@example.com")
    grid = find(page, "table-grid")
    assert [c["field"] for c in grid.columnDefs][:6] == [
        "user",
        "application",
        "module",
        "method",
        "ip",
        "api_version",
    ]
    assert {row["user"] for row in grid.rowData} == {"ana@example.com"}
    assert find(page, "table-selected-value").children == "ana@example.com"


def test_sort_order_control_orders_rows():
    from pages.table import sort_rows

    rows = pl.DataFrame(
        {
            "module": ["b", "a", "c"],
            "application": ["x"] * 3,
            "method": ["GET"] * 3,
            "user": ["u"] * 3,
            "ip": ["1"] * 3,
            "api_version": ["v2"] * 3,
            "calls": [5, 1, 3],
            "credits": [5, 9, 3],
            "errors": [0, 2, 1],
        }
    )
    assert sort_rows(rows, "module", "calls-desc")["module"].to_list() == ["b", "c", "a"]
    assert sort_rows(rows, "module", "calls-asc")["module"].to_list() == ["a", "c", "b"]
    assert sort_rows(rows, "module", "name-desc")["module"].to_list() == ["c", "b", "a"]
    assert sort_rows(rows, "module", "credits-desc")["module"].to_list() == ["a", "b", "c"]
    assert sort_rows(rows, "module", "errors-desc")["module"].to_list() == ["a", "c", "b"]


def test_connection_texts_list_a_users_ips_with_counts():
    from pages.table import connection_texts

    rows = pl.DataFrame(
        {
            "user": ["ana", "ana", "bo"],
            "application": ["A", "A", "B"],
            "module": ["Leads", "Deals", "Leads"],
            "method": ["GET"] * 3,
            "ip": ["192.0.2.1", "192.0.2.2", "192.0.2.1"],
            "api_version": ["v2"] * 3,
            "calls": [5, 2, 1],
        }
    )
    text = connection_texts(rows)["user"]["ana"]
    assert "IP address: 192.0.2.1 (5), 192.0.2.2 (2)" in text
    assert "Module: Leads (5), Deals (2)" in text
    assert "User: ana (7)" in connection_texts(rows)["application"]["A"]


def test_sort_and_dimension_callbacks_navigate():
    from pages.table import change_view

    context = {"state": {"range": "7d"}, "dim": "module", "sort": "calls-desc", "value": "Leads"}
    assert (
        change_view("module", "name-asc", context)
        == "/table?range=7d&dim=module&value=Leads&sort=name-asc"
    )
    assert change_view("user", "calls-desc", context) == "/table?range=7d&dim=user"


def test_slice_click_opens_its_link():
    from components.classification import open_slice

    click = {"points": [{"label": "Leads", "customdata": "/table?dim=module&value=Leads"}]}
    assert open_slice([click]) == "/table?dim=module&value=Leads"
    assert open_slice([None]) is dash.no_update


def test_date_pickers_navigate_to_the_range():
    from components.filters import pick_date, pick_range

    context = {"path": "/modules", "page": {"view": "list"}, "state": {"version": "v1"}}
    assert (
        pick_date("2026-11-20", context)
        == "/modules?range=date&date=2026-11-20&version=v1&view=list"
    )
    assert pick_range("2026-11-01", "2026-11-07", context) == (
        "/modules?range=custom&start=2026-11-01&end=2026-11-07&version=v1&view=list"
    )


def test_every_page_answers_over_http(app, client):
    for url in (
        "/",
        "/applications",
        "/modules?view=list",
        "/ip-addresses?view=all",
        "/users",
        "/methods",
        "/time?range=today",
        "/table?dim=ip",
        "/health",
    ):
        assert client.get(url).status_code == 200, url


def test_table_ships_at_most_max_rows_and_says_so(app, monkeypatch):
    from pages import table

    monkeypatch.setattr(table, "MAX_ROWS", 3)
    page = table.layout(dim="module")
    assert len(find(page, "table-grid").rowData) == 3
    assert "The first 3 of" in find(page, "table-summary").children


def test_csv_export_keeps_numbers_unformatted(app):
    """AG Grid exports the displayed text unless told otherwise: "1,234" would break CSV."""
    from pages import table

    grid = find(table.layout(dim="module"), "table-grid")
    assert grid.defaultColDef["useValueFormatterForExport"] is False


def graphs(component) -> list:
    """Every dcc.Graph in a layout tree."""
    found = [component] if getattr(component, "_type", None) == "Graph" else []
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            found += graphs(child)
    return found


def test_every_chart_uses_a_trace_type_of_the_vendored_plotly_bundle(app):
    """The browser draws with plotly.js's basic bundle (assets/plotly-basic.min.js: a quarter
    of the full bundle, which a first view would otherwise wait for). It has scatter, bar and
    pie only: another trace type would draw nothing (then serve the full bundle again)."""
    from components.figures import doughnut_figure

    pages = {
        "overview": {},
        "modules": {},
        "applications": {"view": "graph"},
        "time": {"range": "today"},
    }
    figures = [doughnut_figure(pl.DataFrame({"value": ["a"], "calls": [1]}), ["#"])]
    for module, query in pages.items():
        page = __import__(f"pages.{module}", fromlist=["layout"]).layout(**query)
        figures += [graph.figure for graph in graphs(page)]
    types = {trace.type for figure in figures for trace in figure.data}
    assert types == {"bar", "scatter", "pie"}


def test_graphs_get_the_vendored_basic_plotly_bundle(client):
    """dcc.Graph fetches plotly.js from Dash's URL the first time a page shows a chart: it gets
    assets/plotly-basic.min.js, the plotly.js version plotly.py was built for (update it with
    plotly: `npm pack plotly.js-basic-dist-min@VERSION`). No page loads it up front."""
    from plotly.offline import get_plotlyjs_version

    from conftest import ROOT

    bundle = (ROOT / "assets" / "plotly-basic.min.js").read_bytes()
    assert f"plotly.js (basic - minified) v{get_plotlyjs_version()}\n".encode() in bundle[:200]
    url = "/_dash-component-suites/plotly/package_data/plotly.min.js"
    response = client.get(url)
    assert response.status_code == 200 and response.data == bundle
    assert client.get(url, headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    page = client.get("/").data
    assert b"plotly-basic" not in page and b"plotly.min.js" not in page


def test_scripts_go_compressed_and_fingerprinted_assets_stay_cached(client):
    """A first view fetches ~4 MB of scripts: they go compressed when the browser accepts it
    (flask-compress, about a quarter of the size); assets linked as ``?m=<mtime>`` may be kept
    a year (a changed file gets a new URL), other responses are asked for again."""
    import gzip
    import re

    page = client.get("/").data.decode()
    bundle = re.search(r'src="(/_dash-component-suites/dash_ag_grid/[^"]+)"', page).group(1)
    plain = client.get(bundle)
    packed = client.get(bundle, headers={"Accept-Encoding": "gzip"})
    assert plain.headers.get("Content-Encoding") is None
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 3

    asset = re.search(r'src="(/assets/dashAgGridFunctions.js\?m=[^"]+)"', page).group(1)
    assert "immutable" in client.get(asset).headers["Cache-Control"]
    assert "immutable" not in client.get("/assets/app.css").headers.get("Cache-Control", "")
    assert "immutable" not in client.get("/").headers.get("Cache-Control", "")
