"""What only a browser shows: slice clicks, list and View all, the table view's controls,
the CSV download, reloads that restore the view, the usage bar's colour and empty states.

Every test starts the app on a fresh lake of hand-made events (tests/factory.py) and ends
with no error in the browser console.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By

import factory
from conftest import reset_caches
from data.runtime import get_lake
from data.stats import as_of

pytestmark = pytest.mark.browser

TIMEOUT = 10.0
#: The table view's dimensions, in the order its columns follow the first one.
TABLE_KEYS = ("application", "module", "method", "user", "ip", "api_version")
LABELS = {
    "application": "Application",
    "module": "Module",
    "ip": "IP address",
    "user": "User",
    "method": "Method",
}
PINNED_CELLS = ".ag-pinned-left-cols-container .ag-row .ag-cell"


# -- data --------------------------------------------------------------------------------


@pytest.fixture
def events(lake) -> list[dict[str, object]]:
    """The factory's 280 V2 calls and 30 V1 calls in the lake; returns the V2 ones.

    The statistics are as of the start of the refresh period (``data.stats.as_of``): calls
    made since then show at the next refresh. So the calls end a minute before that instant,
    and every page shows all of them (also when a new period starts during the test).
    """
    fresh = as_of()[0]
    v2 = factory.v2_rows(fresh)
    factory.write(lake, v2 + factory.v1_rows(fresh))
    return v2


def combinations(rows: list[dict[str, object]], dim: str, value: str | None = None) -> Counter:
    """Calls per table row (one row per combination of the dimensions), in plain Python."""
    return Counter(
        tuple(r[k] for k in TABLE_KEYS) for r in rows if value is None or r[dim] == value
    )


def biggest(rows: list[dict[str, object]], dim: str) -> str:
    (value, _), (_, second) = factory.counts(rows, dim).most_common(2)
    assert factory.counts(rows, dim)[value] > second, "the factory data must have one biggest"
    return str(value)


# -- browser helpers ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_upkeep(monkeypatch: pytest.MonkeyPatch) -> None:
    """No upkeep thread: it would outlive this test's server (dash_duo stops the server by
    raising SystemExit in every thread started since) and tend a lake this test never uses."""
    from server import background

    monkeypatch.setattr(background, "start", lambda: None)


@pytest.fixture
def served(env, dash_duo) -> None:
    """The app started in ``dash_duo`` (imported after ``env`` has set the settings)."""
    start(dash_duo)


def start(dash_duo) -> None:
    from app import app

    # No first visit to the Overview: each test opens the page it is about.
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.set_window_size(1400, 1000)


def until(check: Callable[[], object], what: str, timeout: float = TIMEOUT) -> object:
    """Poll ``check`` until it returns something truthy; elements may go stale meanwhile
    (the page re-renders on every navigation, the usage bars every five seconds)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = check()
            if last:
                return last
        except (StaleElementReferenceException, WebDriverException) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
        time.sleep(0.1)


def open_page(dash_duo, path: str) -> None:
    dash_duo.wait_for_page(dash_duo.server.url.rstrip("/") + path)


def location(dash_duo) -> tuple[str, dict[str, str]]:
    parts = urlsplit(dash_duo.driver.current_url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def wait_for_location(dash_duo, path: str, **query: str) -> None:
    """Wait until the URL is ``path`` with exactly ``query`` as its query string."""
    until(
        lambda: location(dash_duo) == (path, query),
        f"the URL {path}?{query} (now {dash_duo.driver.current_url})",
    )


def count(dash_duo, selector: str) -> int:
    """How many elements match, at once (``find_elements`` waits 2 s when there are none)."""
    return dash_duo.driver.execute_script(
        "return document.querySelectorAll(arguments[0]).length", selector
    )


def texts(dash_duo, selector: str) -> list[str]:
    """The rendered text of every match (at once: ``find_elements`` waits when none)."""
    return dash_duo.driver.execute_script(
        """return Array.from(document.querySelectorAll(arguments[0]),
            (e) => (e.innerText === undefined ? e.textContent : e.innerText).trim());""",
        selector,
    )


def list_items(dash_duo, list_id: str) -> list[tuple[str, str]]:
    """A top-N list's items as (name, calls) the way they are shown."""
    items = dash_duo.driver.execute_script(
        """return Array.from(document.querySelectorAll('#' + arguments[0] + ' > li'), (li) => [
            li.querySelector('.d-flex').firstElementChild.innerText.trim(),
            li.querySelector('.tabular').innerText.trim(),
        ]);""",
        list_id,
    )
    return [(name, calls) for name, calls in items]


def wait_for_text(dash_duo, selector: str, text: str) -> None:
    until(lambda: texts(dash_duo, selector)[:1] == [text], f"{selector!r} to read {text!r}")


def click_first_slice(dash_duo) -> None:
    """Click inside the first (biggest) slice of the page's doughnut, as a user would.

    A slice's bounding-box centre can fall in the hole or on another slice, so look for a
    point that the slice itself is drawn at, and click there with the real pointer.
    """
    path = dash_duo.wait_for_element(".doughnut-graph g.slice path.surface")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", path)
    point = dash_duo.driver.execute_script(
        """
        const path = arguments[0], box = path.getBoundingClientRect(), hits = [];
        for (let i = 1; i < 24; i++) {
          for (let j = 1; j < 24; j++) {
            const x = box.left + (box.width * i) / 24, y = box.top + (box.height * j) / 24;
            if (document.elementFromPoint(x, y) === path) hits.push([x, y]);
          }
        }
        return hits.length ? hits[Math.floor(hits.length / 2)] : null;
        """,
        path,
    )
    assert point, "no visible point inside the first slice"
    actions = ActionBuilder(dash_duo.driver)
    actions.pointer_action.move_to_location(int(point[0]), int(point[1]))
    actions.pointer_action.click()
    actions.perform()


def grid_rows(dash_duo, grid_id: str) -> list[dict]:
    """Every row of an AG Grid in its displayed order (sorted and filtered), rendered or not."""
    return dash_duo.driver.execute_script(
        """
        const api = window.dash_ag_grid && dash_ag_grid.getApi(arguments[0]);
        if (!api) return [];
        const rows = [];
        api.forEachNodeAfterFilterAndSort((node) => rows.push(node.data));
        return rows;
        """,
        grid_id,
    )


def first_cell(dash_duo, dim: str) -> str:
    """The first row's value in the table view's pinned first column, as displayed."""
    row = ".ag-pinned-left-cols-container .ag-row[row-index='0']"
    return (texts(dash_duo, f"{row} [col-id='{dim}']") or [""])[0]


def check_table_view(dash_duo, dim: str, value: str, rows: list[dict[str, object]]) -> None:
    """The table view with ``dim`` first shows ``value``'s rows, and only them."""
    wait_for_text(dash_duo, "#table-selected-value", value)
    wait_for_text(dash_duo, ".ag-pinned-left-header .ag-header-cell-text", LABELS[dim])
    expected = combinations(rows, dim, value)
    until(lambda: texts(dash_duo, PINNED_CELLS), "the table's rows")
    shown = texts(dash_duo, PINNED_CELLS)
    assert set(shown) == {value}, shown
    assert 0 < len(shown) <= len(expected)
    data = grid_rows(dash_duo, "table-grid")
    assert len(data) == len(expected)
    assert {row[dim] for row in data} == {value}
    assert sum(row["calls"] for row in data) == sum(expected.values())
    assert texts(dash_duo, "#table-summary") == [
        f"{len(expected):,} rows · {sum(expected.values()):,} calls"
    ]


def classes(dash_duo, element_id: str) -> list[str]:
    return dash_duo.find_element(f"#{element_id}").get_attribute("class").split()


def rgb(css_colour: str) -> str:
    """``rgba(111, 66, 193, 1)`` (what WebDriver may report) as ``rgb(111, 66, 193)``."""
    inside = css_colour[css_colour.index("(") + 1 : css_colour.rindex(")")]
    parts = [p.strip() for p in inside.split(",")]
    assert len(parts) == 3 or parts[3] in ("1", "1.0"), css_colour
    return f"rgb({', '.join(parts[:3])})"


# -- 1. a slice opens the table view -----------------------------------------------------


@pytest.mark.parametrize(
    ("page", "dim"),
    [
        ("/applications", "application"),
        ("/modules", "module"),
        ("/ip-addresses", "ip"),
        ("/users", "user"),
        ("/methods", "method"),
    ],
)
def test_slice_click_opens_table_on_that_value(
    served, dash_duo, events, page: str, dim: str
) -> None:
    """A click on the biggest slice opens /table with that dimension first, on that value."""
    value = biggest(events, dim)
    open_page(dash_duo, page)
    until(lambda: texts(dash_duo, ".doughnut-graph .legendtext")[:1] == [value], "the legend")
    click_first_slice(dash_duo)
    wait_for_location(dash_duo, "/table", dim=dim, value=value)
    check_table_view(dash_duo, dim, value, events)
    assert dash_duo.get_logs() == []


# -- 2. View all -------------------------------------------------------------------------


def test_view_all_lists_every_value(served, dash_duo, events) -> None:
    """View all lists every value (more than the doughnut's five), and a name opens it."""
    cells = ".ag-center-cols-container .ag-row [col-id='value']"
    for page, dim in (("/ip-addresses", "ip"), ("/modules", "module")):
        # Most calls first; ties by name. IP addresses: 8, modules: 7.
        ranking = sorted(factory.counts(events, dim).items(), key=lambda vc: (-vc[1], vc[0]))
        assert len(ranking) > 5
        open_page(dash_duo, f"{page}?view=all")
        n = len(ranking)
        until(lambda n=n: len(texts(dash_duo, cells)) == n, f"{n} rows")
        assert texts(dash_duo, cells) == [str(v) for v, _ in ranking]
        assert texts(dash_duo, ".ag-center-cols-container .ag-row [col-id='calls']") == [
            str(c) for _, c in ranking
        ]
        assert "btn-primary" in classes(dash_duo, "view-all")
        last = str(ranking[-1][0])
        dash_duo.find_elements(cells)[-1].click()
        wait_for_location(dash_duo, "/table", dim=dim, value=last)
        check_table_view(dash_duo, dim, last, events)
    assert dash_duo.get_logs() == []


# -- 3. list view ------------------------------------------------------------------------


def test_list_view_shows_top_values_with_counts(served, dash_duo, events) -> None:
    """The list toggle shows the top five and "Other" with their calls; a name opens it."""
    open_page(dash_duo, "/modules")
    dash_duo.wait_for_element(".doughnut-graph")
    dash_duo.find_element("#view-list").click()
    wait_for_location(dash_duo, "/modules", view="list")
    until(lambda: len(list_items(dash_duo, "topn-module")) == 6, "five modules and Other")
    top = [(m, str(c)) for m, c in factory.counts(events, "module").most_common()]
    assert list_items(dash_duo, "topn-module") == [*top[:5], ("Other (2)", "30")]
    assert top[0] == ("Leads", "70")
    assert count(dash_duo, "#topn-module li.list-group-item") == 6
    assert "btn-primary" in classes(dash_duo, "view-list")
    dash_duo.find_element("#topn-module .topn-link").click()
    wait_for_location(dash_duo, "/table", dim="module", value="Leads")
    check_table_view(dash_duo, "module", "Leads", events)
    assert dash_duo.get_logs() == []


# -- 4. sort order -----------------------------------------------------------------------


def test_sort_order_control_reorders_rows_and_goes_in_the_url(served, dash_duo, events) -> None:
    """The sort-order control changes the first row; the URL carries ``sort``."""
    # The table's rows are combinations; ties are broken by the columns, Module first.
    combos = combinations(events, "module")
    columns = [TABLE_KEYS.index(k) for k in ("module", "application", "method", "user", "ip")]

    def first_module(calls_sign: int) -> str:
        row, _ = min(
            combos.items(), key=lambda kv: (calls_sign * kv[1], *(kv[0][i] for i in columns))
        )
        return str(row[TABLE_KEYS.index("module")])

    most, fewest = first_module(-1), first_module(+1)

    open_page(dash_duo, "/table?dim=module")
    until(lambda: first_cell(dash_duo, "module") == most, f"{most} first (calls, most first)")
    assert "sort" not in location(dash_duo)[1]
    dash_duo.select_dcc_dropdown("#table-sort", "Name, Z to A")
    wait_for_location(dash_duo, "/table", dim="module", sort="name-desc")
    until(lambda: first_cell(dash_duo, "module") == "Tasks", "Tasks first")
    wait_for_text(dash_duo, "#table-sort-value", "Name, Z to A")
    assert [r["module"] for r in grid_rows(dash_duo, "table-grid")][-1] == "Accounts"

    dash_duo.select_dcc_dropdown("#table-sort", "Calls, fewest first")
    wait_for_location(dash_duo, "/table", dim="module", sort="calls-asc")
    until(lambda: first_cell(dash_duo, "module") == fewest, f"{fewest} first")
    wait_for_text(dash_duo, "#table-sort-value", "Calls, fewest first")
    calls = [r["calls"] for r in grid_rows(dash_duo, "table-grid")]
    assert calls == sorted(calls)
    assert dash_duo.get_logs() == []


# -- 5. CSV download ---------------------------------------------------------------------


def read_csv(file: Path) -> tuple[list[str], list[list[str]]]:
    with file.open(newline="", encoding="utf-8-sig") as handle:
        header, *rows = csv.reader(handle)
    return header, rows


def wait_for_download(folder: Path) -> Path:
    """The one finished CSV download in ``folder``."""

    def finished() -> Path | None:
        done = [p for p in folder.glob("api-usage-*.csv") if p.stat().st_size > 0]
        busy = list(folder.glob("*.crdownload"))
        return done[0] if len(done) == 1 and not busy else None

    return until(finished, f"a CSV file in {folder}")


def test_csv_export_downloads_the_rows_shown(served, dash_duo, events) -> None:
    """Export CSV downloads the table's rows: Module first, only Leads, 70 calls in all; after
    a quick search, only the rows the search leaves."""
    expected = combinations(events, "module", "Leads")
    open_page(dash_duo, "/table?dim=module&value=Leads")
    wait_for_text(dash_duo, "#table-selected-value", "Leads")
    until(lambda: texts(dash_duo, PINNED_CELLS), "the table's rows")
    dash_duo.find_element("#table-export").click()
    folder = Path(dash_duo.download_path)
    file = wait_for_download(folder)
    assert file.name == "api-usage-module-Leads-30d-v2.csv"
    header, rows = read_csv(file)
    assert header[:6] == ["Module", "Application", "Method", "User", "IP address", "Version"]
    assert header[6:9] == ["Calls", "Credits", "Errors"]
    assert len(rows) == len(expected)
    assert {row[0] for row in rows} == {"Leads"}
    assert sum(int(row[6]) for row in rows) == 70

    # Chrome overwrites a download of the same name: take the first one away.
    file.unlink()
    found = Counter({k: v for k, v in expected.items() if k[3] == "bo@example.com"})
    dash_duo.find_element("#table-search").send_keys("bo@example.com")
    until(lambda: len(grid_rows(dash_duo, "table-grid")) == len(found), "the search")
    dash_duo.find_element("#table-export").click()
    header, rows = read_csv(wait_for_download(folder))
    assert len(rows) == len(found)
    assert {(row[0], row[3]) for row in rows} == {("Leads", "bo@example.com")}
    assert sum(int(row[6]) for row in rows) == sum(found.values())
    assert dash_duo.get_logs() == []


# -- 6. reload ---------------------------------------------------------------------------


def reload(dash_duo) -> None:
    """Reload the page, wait until the new document is there; the URL must not change."""
    url = dash_duo.driver.current_url
    dash_duo.driver.execute_script("window.beforeReload = true")
    dash_duo.driver.refresh()
    until(
        lambda: dash_duo.driver.execute_script("return window.beforeReload === undefined"),
        "the reload",
    )
    assert dash_duo.driver.current_url == url


def test_reload_restores_the_view(served, dash_duo, events) -> None:
    """A reload keeps the view its URL names: a table view's first column, selected value and
    sort order; a classification's list view, range and version (and their active buttons)."""

    def check_table() -> None:
        assert location(dash_duo) == (
            "/table",
            {"dim": "user", "value": "ana@example.com", "sort": "name-asc"},
        )
        wait_for_text(dash_duo, "#table-sort-value", "Name, A to Z")
        check_table_view(dash_duo, "user", "ana@example.com", events)

    open_page(dash_duo, "/table?dim=user&value=ana@example.com&sort=name-asc")
    check_table()
    reload(dash_duo)
    check_table()

    def check_modules() -> None:
        assert location(dash_duo) == ("/modules", {"view": "list", "range": "7d", "version": "all"})
        # V2 and V1 together: Leads 70 + 15, Contacts 60 + 15.
        until(lambda: list_items(dash_duo, "topn-module"), "the list")
        assert list_items(dash_duo, "topn-module")[:2] == [("Leads", "85"), ("Contacts", "75")]
        for element_id in ("view-list", "range-7d", "version-all"):
            assert "btn-primary" in classes(dash_duo, element_id), element_id
        for element_id in ("view-graph", "range-30d", "version-v2"):
            assert "btn-primary" not in classes(dash_duo, element_id), element_id
        assert count(dash_duo, ".doughnut-graph") == 0

    open_page(dash_duo, "/modules?view=list&range=7d&version=all")
    check_modules()
    reload(dash_duo)
    check_modules()
    assert dash_duo.get_logs() == []


# -- 7. the usage bar's colour -----------------------------------------------------------


def v2_credits(now: datetime, credits: list[int], hours_ago: float) -> list[dict[str, object]]:
    return [
        {
            "ts": now - timedelta(hours=hours_ago, seconds=i),
            "api_version": "v2",
            "application": "Zapier Sync",
            "module": "Leads",
            "method": "GET",
            "user": "ana@example.com",
            "ip": "192.0.2.1",
            "status": 200,
            "latency_ms": 100.0,
            "credits": c,
            "id": None,
        }
        for i, c in enumerate(credits)
    ]


def read_v2_bar(dash_duo) -> dict[str, str]:
    """What the V2 bar shows: its role, aria-valuenow, state class, colour and caption."""
    bar = dash_duo.driver.find_element(By.CSS_SELECTOR, "#usage-bar-v2")
    fill = bar.find_element(By.CSS_SELECTOR, ".progress-bar")
    return {
        "role": bar.get_attribute("role"),
        "aria-valuenow": bar.get_attribute("aria-valuenow"),
        "class": fill.get_attribute("class"),
        "colour": rgb(fill.value_of_css_property("background-color")),
        "text": bar.find_element(By.XPATH, "..").text,
    }


def shows(reading: dict[str, str], used: int, state: str, colour: str, percent: str) -> bool:
    return (
        reading["role"] == "progressbar"
        and reading["aria-valuenow"] == percent
        and f"usage-bar-{state}" in reading["class"].split()
        and reading["colour"] == colour
        and f"{used:,} of 1,000 used ({percent} %)" in reading["text"]
    )


PURPLE, RED = "rgb(111, 66, 193)", "rgb(220, 53, 69)"


def test_v2_bar_turns_red_at_90_percent(env, dash_duo, monkeypatch) -> None:
    """With a V2 limit of 1,000 credits: 899 in the last 24 h is purple (89.9 %); one more
    credit turns the open page's bar red (90.0 %) within seconds, without a reload.

    Credits from 25 hours ago are outside the rolling window and do not count.
    """
    monkeypatch.setenv("APIDASH_LIMIT_V2", "1000")
    reset_caches()
    lake = get_lake()
    now = datetime.now(UTC)
    factory.write(lake, v2_credits(now, [100] * 8 + [99], 0.5) + v2_credits(now, [500], 25))
    start(dash_duo)
    open_page(dash_duo, "/")
    reading = until(lambda: read_v2_bar(dash_duo), "the V2 bar")
    assert shows(reading, 899, "ok", PURPLE, "89.9"), reading

    dash_duo.driver.execute_script("window.beforeReload = true")
    factory.write(lake, v2_credits(datetime.now(UTC), [1], 0.1))
    until(
        lambda: shows(read_v2_bar(dash_duo), 900, "over", RED, "90.0"),
        "the bar to turn red",
        timeout=12,  # the bars redraw every 5 s
    )
    assert dash_duo.driver.execute_script("return window.beforeReload === true")
    assert dash_duo.get_logs() == []


# -- 8. and 9. empty states --------------------------------------------------------------


def test_empty_states_instead_of_a_chart(served, dash_duo, events) -> None:
    """No doughnut where there is nothing to draw: Applications with version=v1 say they are
    V2 only; a date inside retention without calls says "No API calls"."""
    open_page(dash_duo, "/applications?version=v1")
    until(lambda: texts(dash_duo, ".empty-state"), "the empty state")
    assert "Applications are tracked for V2 calls only." in texts(dash_duo, ".empty-state")[0]
    assert "btn-primary" in classes(dash_duo, "version-v1")
    assert count(dash_duo, ".doughnut-graph") == 0
    assert count(dash_duo, ".js-plotly-plot") == 0

    day = (datetime.now(UTC) - timedelta(days=3)).date()
    open_page(dash_duo, f"/modules?range=date&date={day.isoformat()}")
    until(lambda: texts(dash_duo, ".empty-state"), "the empty state")
    assert texts(dash_duo, ".empty-state")[0].startswith("No API calls in this range.")
    assert day.strftime("%a %b %d, %Y") in texts(dash_duo, "#range-label")[0]
    assert count(dash_duo, ".doughnut-graph") == 0
    assert count(dash_duo, ".alert") == 0
    assert dash_duo.get_logs() == []


# -- 10. what the first view loads ---------------------------------------------------------


def test_charts_draw_with_the_basic_plotly_bundle_and_the_table_loads_none(
    served, dash_duo, events
) -> None:
    """The Overview's time chart and a doughnut draw with plotly.js's basic bundle (a quarter
    of the full one, which took half of a cold Overview's time); the table view, which has
    no chart, loads no plotly.js at all."""
    fetched = (
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('plotly')).map(e => e.name)"
    )
    for path, chart in (("/", "#overview-time-chart"), ("/modules", ".doughnut-graph")):
        open_page(dash_duo, path)
        until(lambda chart=chart: count(dash_duo, f"{chart} .main-svg"), f"{chart} on {path}")
        names = [urlsplit(url).path for url in dash_duo.driver.execute_script(fetched)]
        assert names == ["/_dash-component-suites/plotly/package_data/plotly.min.js"], path
        traces = dash_duo.driver.execute_script(
            "return Object.keys(Plotly.PlotSchema.get().traces).sort()"
        )
        assert traces == ["bar", "pie", "scatter"], path
    open_page(dash_duo, "/table")
    until(lambda: count(dash_duo, "#table-grid .ag-row"), "the table's rows")
    assert dash_duo.driver.execute_script(fetched) == []
    assert dash_duo.driver.execute_script("return typeof window.Plotly") == "undefined"
    assert dash_duo.get_logs() == []
