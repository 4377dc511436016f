"""The live V2 counter in an open page: an ingested batch shows within seconds, no reload."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

import factory
from conftest import TOKEN, event, reset_caches
from data.runtime import get_lake

pytestmark = pytest.mark.browser

CAPTION = "#usage-bar-v2 ~ .usage-caption"


@pytest.fixture(autouse=True)
def no_upkeep(monkeypatch: pytest.MonkeyPatch) -> None:
    """No upkeep thread: it would outlive this test's server."""
    from server import background

    monkeypatch.setattr(background, "start", lambda: None)


def read_bar(dash_duo) -> tuple[str, str] | None:
    """The V2 bar's aria-valuenow and caption, read at once (the bars redraw every 5 s)."""
    return dash_duo.driver.execute_script(
        """const bar = document.querySelector('#usage-bar-v2');
        const caption = bar && bar.parentElement.querySelector('.usage-caption');
        return bar && caption ? [bar.getAttribute('aria-valuenow'), caption.textContent] : null;""",
    )


def used_of(caption: str) -> tuple[int, int]:
    match = re.fullmatch(r"([\d,]+) of ([\d,]+) used \(\d+\.\d %\)", caption.strip())
    assert match, caption
    return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))


def until(check, what: str, timeout: float):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def test_ingested_credits_show_in_the_open_page(env, dash_duo, monkeypatch) -> None:
    monkeypatch.setenv("APIDASH_LIMIT_V2", "1000")
    reset_caches()
    now = datetime.now(UTC)
    rows = factory.v2_rows(now)  # 280 calls in the last two hours
    factory.write(get_lake(), rows)
    before = sum(r["credits"] for r in rows)
    from app import app

    dash_duo.start_server(app)
    dash_duo.wait_for_element("#usage-bar-v2")
    percent, caption = until(lambda: read_bar(dash_duo), "the V2 bar", 10)
    used, limit = used_of(caption)
    assert (used, limit) == (before, 1000)
    assert percent == f"{before / 10:.1f}"
    dash_duo.driver.execute_script("window.notReloaded = true")

    sent = [5, 1, 3, 7]
    ts = (datetime.now(UTC) - timedelta(seconds=20)).isoformat().replace("+00:00", "Z")
    body = "\n".join(
        json.dumps(event(ts=ts, credits=c, application="Live Test", id=f"live-{i}"))
        for i, c in enumerate(sent)
    )
    response = requests.post(
        f"{dash_duo.server_url}/ingest/events",
        data=body.encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 4, "duplicates": 0}

    expected = used + sum(sent)
    percent, caption = until(
        lambda: (bar := read_bar(dash_duo)) and used_of(bar[1])[0] != used and bar,
        "the caption to change",
        12,
    )
    assert used_of(caption) == (expected, 1000)
    assert caption == f"{expected:,} of 1,000 used ({expected / 10:.1f} %)"
    assert percent == f"{expected / 10:.1f}"
    assert dash_duo.driver.execute_script("return window.notReloaded === true")
    assert dash_duo.get_logs() == []
