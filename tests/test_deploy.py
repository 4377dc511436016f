"""The app as deployed: gunicorn with several workers, under a sub-path, inside a portal's
iframe, with viewer access control. Servers run on loopback only."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import TOKEN
from factory import v2_rows, write
from servers import gunicorn, static_site


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def post_events(url: str, lines: list[dict]) -> int:
    body = "\n".join(json.dumps(line) for line in lines).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def server_env(env: Path, **extra: str) -> dict[str, str]:
    return {
        "APIDASH_DATA_DIR": str(env / "lake"),
        "APIDASH_CACHE_DIR": str(env / "cache"),
        "APIDASH_INGEST_TOKEN": TOKEN,
        **extra,
    }


def test_gunicorn_workers_serve_health_pages_and_ingest(env, lake):
    from conftest import event

    write(lake, v2_rows(__import__("datetime").datetime.now(__import__("datetime").UTC)))
    with gunicorn(server_env(env), workers=2) as base:
        status, _, body = get(base + "/health")
        assert (status, body) == (200, b"OK")
        status, headers, body = get(base + "/")
        assert status == 200 and b"_dash-config" in body
        assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "X-Frame-Options" not in headers
        # Several batches, spread over both workers, all stored once.
        statuses = [
            post_events(base + "/ingest/events", [event(id=f"e{i}-{j}") for j in range(50)])
            for i in range(8)
        ]
        assert statuses == [202] * 8
    files = lake.files(
        *(lambda n: (n.replace(year=n.year - 1), n.replace(year=n.year + 1)))(
            __import__("datetime").datetime.now(__import__("datetime").UTC)
        )
    )
    assert files


@pytest.mark.browser
def test_the_whole_app_works_under_a_sub_path(env, lake, dash_br):
    with gunicorn(
        server_env(env, DASH_URL_BASE_PATHNAME="/usage/"), health="/usage/health"
    ) as base:
        assert get(base + "/usage/health")[0] == 200
        assert post_events(base + "/usage/ingest/events", [__import__("conftest").event()]) == 202
        assert get(base + "/health")[0] == 404
        dash_br.driver.get(base + "/usage/modules")
        dash_br.wait_for_element("#navbar", timeout=20)
        dash_br.wait_for_element(".doughnut-graph, .empty-state", timeout=20)
        links = [a.get_attribute("href") for a in dash_br.find_elements("#navbar a")]
        assert links and all("/usage/" in href for href in links)
        dash_br.find_element("#view-list").click()
        dash_br.wait_for_element("#topn-module, .empty-state", timeout=20)
        assert "/usage/modules?view=list" in dash_br.driver.current_url
        assert [e for e in dash_br.get_logs() if "404" in e["message"]] == []
        assert dash_br.get_logs() == []


def _portal(folder: Path, app_url: str) -> Path:
    folder.mkdir()
    (folder / "favicon.ico").write_bytes(b"")
    (folder / "portal.html").write_text(
        f"<!doctype html><title>Portal</title><h1>Portal</h1>"
        f'<iframe id="usage" src="{app_url}" width="1200" height="800"></iframe>'
    )
    return folder


@pytest.mark.browser
def test_an_allowed_portal_embeds_the_app_and_another_site_is_refused(env, tmp_path, dash_br):
    allowed_folder = _portal(tmp_path / "allowed", "about:blank")
    with (
        static_site(allowed_folder, host="127.0.0.2") as portal,
        gunicorn(server_env(env, APIDASH_FRAME_ANCESTORS=f"'self' {portal}")) as base,
    ):
        app_url = base + "/modules?embed=1"
        _portal_page = allowed_folder / "portal.html"
        _portal_page.write_text(_portal_page.read_text().replace("about:blank", app_url))
        dash_br.driver.get(portal + "/portal.html")
        frame = dash_br.wait_for_element("#usage", timeout=10)
        dash_br.driver.switch_to.frame(frame)
        dash_br.wait_for_element(".filter-bar", timeout=20)
        # Embedded: no navigation chrome, and the view's state is in the frame's URL.
        assert "d-none" in dash_br.find_element("#navbar").get_attribute("class")
        dash_br.find_element("#view-list").click()
        dash_br.wait_for_element("#topn-module, .empty-state", timeout=20)
        assert "embed=1" in dash_br.driver.execute_script("return location.href")
        dash_br.driver.switch_to.default_content()
        assert dash_br.get_logs() == []

        refused_folder = _portal(tmp_path / "refused", app_url)
        with static_site(refused_folder, host="127.0.0.3") as other:
            dash_br.driver.get(other + "/portal.html")
            frame = dash_br.wait_for_element("#usage", timeout=10)
            time.sleep(1.5)
            logs = dash_br.get_logs()
            dash_br.driver.switch_to.frame(frame)
            assert dash_br.find_elements(".filter-bar") == []
            dash_br.driver.switch_to.default_content()
            assert any("frame-ancestors" in entry["message"] for entry in logs), logs


def test_viewers_outside_the_allow_list_are_refused(env):
    extra = {
        "APIDASH_VIEWER_HEADER": "X-Forwarded-Email",
        "APIDASH_VIEWER_ALLOW": "@example.com,boss@corp.test",
    }
    with gunicorn(server_env(env, **extra)) as base:
        assert get(base + "/")[0] == 403
        assert get(base + "/", {"X-Forwarded-Email": "eve@evil.test"})[0] == 403
        assert get(base + "/", {"X-Forwarded-Email": "ana@example.com"})[0] == 200
        assert get(base + "/", {"X-Forwarded-Email": "boss@corp.test"})[0] == 200
        status, _, body = get(base + "/_dash-layout")
        assert status == 403 and b"list of viewers" in body
        assert get(base + "/health")[0] == 200  # the platform's probe needs no viewer


def test_basic_auth_from_the_environment(env):
    with gunicorn(server_env(env, APIDASH_BASIC_AUTH="analyst:s3cret")) as base:
        status, headers, _ = get(base + "/")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
        bad = base64.b64encode(b"analyst:wrong").decode()
        assert get(base + "/", {"Authorization": f"Basic {bad}"})[0] == 401
        good = base64.b64encode(b"analyst:s3cret").decode()
        assert get(base + "/", {"Authorization": f"Basic {good}"})[0] == 200


@pytest.mark.parametrize("path", ["/no-such-page-xyz", "/_dash-update-component"])
def test_errors_never_show_a_stack_trace(env, path):
    with gunicorn(server_env(env), workers=1) as base:
        request = urllib.request.Request(
            base + path,
            data=b"{not json",
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
        assert b"Traceback" not in body and b'File "' not in body


def test_a_fresh_worker_serves_concurrent_first_requests(env):
    """Dash's first-request set-up is not thread-safe: the gunicorn hook warms each worker
    before it takes traffic, so a burst of first requests all succeed."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    for _ in range(2):
        with gunicorn(server_env(env), workers=2) as base:
            _, _, page = get(base + "/")
            scripts = re.findall(rb'<script src="([^"]+)"', page)
            assert scripts
            urls = [base + s.decode() for s in scripts] * 4 + [base + "/_dash-layout"] * 8
            with ThreadPoolExecutor(16) as pool:
                statuses = list(pool.map(lambda u: get(u)[0], urls))
            assert statuses == [200] * len(urls)


def test_worker_warm_up_computes_no_statistics(env, lake, monkeypatch, caplog):
    """The gunicorn hook draws the live panel and one figure of each kind before the worker
    takes traffic (the first Polars scans and Plotly figure cost ~300 ms), but it computes
    and caches no statistics: the first viewer of a period still gets them fresh."""
    import logging
    import runpy
    from datetime import UTC, datetime

    from data.cache import get_cache
    from server import background

    monkeypatch.setattr(background, "start", lambda: None)  # no upkeep thread in this test
    write(lake, v2_rows(datetime.now(UTC)))
    hook = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))

    class Worker:
        log = logging.getLogger("test-worker")

    with caplog.at_level(logging.INFO, logger="test-worker"):
        hook["post_worker_init"](Worker())
    assert [r.getMessage()[:24] for r in caplog.records] == ["worker warmed up (200 OK"]
    assert get_cache().computed == 0 and len(get_cache().store) == 0
