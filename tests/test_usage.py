"""Live usage against the limits: V2 rolling 24 hours, V1 calendar day, and the bar.

Every test passes an explicit ``now`` and writes its events relative to it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from components.usage_bar import percent_text, usage_bar
from data.lake import Lake
from data.usage import PURPLE, RED, Usage, v1_day_start, v1_usage, v2_usage
from factory import call, store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
LA = "America/Los_Angeles"
PARIS = "Europe/Paris"


# -- V2: rolling 24 hours -------------------------------------------------------------------


def test_v2_window_is_open_at_now_minus_24h_and_closed_at_now(lake: Lake) -> None:
    start = NOW - timedelta(hours=24)
    store(
        lake,
        [
            call(start - MS, credits=1000),
            call(start, credits=100),  # exactly now - 24 h: its credits are back
            call(start + MS, credits=1),
            call(NOW - timedelta(hours=3), credits=5),
            call(NOW, credits=20),
            call(NOW + MS, credits=3000),  # after now
        ],
    )
    usage = v2_usage(lake, 1000, now=NOW)
    assert usage.used == 1 + 5 + 20
    assert (usage.version, usage.limit) == ("v2", 1000)
    assert (usage.window_start, usage.window_end) == (start, NOW)
    # One millisecond later the oldest credit comes back.
    assert v2_usage(lake, 1000, now=NOW + MS).used == 5 + 20 + 3000


def test_v2_sums_credits_not_calls_and_ignores_v1(lake: Lake) -> None:
    store(
        lake,
        [
            call(NOW - timedelta(hours=1), credits=3),
            call(NOW - timedelta(hours=2), credits=0),
            call(NOW - timedelta(hours=5), credits=7),
            call(NOW - timedelta(hours=1), version="v1", credits=50),
            call(NOW - timedelta(minutes=1), version="v1", credits=1),
        ],
    )
    assert v2_usage(lake, 100, now=NOW).used == 10


def test_v2_window_with_a_sub_millisecond_now(lake: Lake) -> None:
    now = NOW + timedelta(microseconds=500)
    store(lake, [call(NOW, credits=1), call(NOW + MS, credits=10)])
    assert v2_usage(lake, 100, now=now).used == 1  # NOW + 1 ms is after now


def test_v2_of_an_empty_lake_is_zero(lake: Lake) -> None:
    usage = v2_usage(lake, 100, now=NOW)
    assert usage.used == 0
    assert usage.percent == 0.0


# -- V1: calendar day in a zone -------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "zone", "midnight"),
    [
        # An ordinary day: PST, midnight is 08:00 UTC.
        (datetime(2026, 11, 25, 12, tzinfo=UTC), LA, datetime(2026, 11, 25, 8, tzinfo=UTC)),
        # 2026-03-08, clocks spring forward at 02:00 PST: the day began at PST midnight...
        (datetime(2026, 3, 8, 19, tzinfo=UTC), LA, datetime(2026, 3, 8, 8, tzinfo=UTC)),
        (datetime(2026, 3, 9, 6, 59, tzinfo=UTC), LA, datetime(2026, 3, 8, 8, tzinfo=UTC)),
        # ... and lasts 23 hours: the next one begins at PDT midnight, 07:00 UTC.
        (datetime(2026, 3, 9, 7, tzinfo=UTC), LA, datetime(2026, 3, 9, 7, tzinfo=UTC)),
        # 2026-11-01, clocks fall back at 02:00 PDT: the day began at PDT midnight...
        (datetime(2026, 11, 1, 8, 30, tzinfo=UTC), LA, datetime(2026, 11, 1, 7, tzinfo=UTC)),
        (datetime(2026, 11, 1, 9, 30, tzinfo=UTC), LA, datetime(2026, 11, 1, 7, tzinfo=UTC)),
        (datetime(2026, 11, 2, 7, 59, tzinfo=UTC), LA, datetime(2026, 11, 1, 7, tzinfo=UTC)),
        # ... and lasts 25 hours: the next one begins at PST midnight, 08:00 UTC.
        (datetime(2026, 11, 2, 8, tzinfo=UTC), LA, datetime(2026, 11, 2, 8, tzinfo=UTC)),
        # Another zone, on both sides of its switch (2026-03-29 and 2026-10-25).
        (datetime(2026, 3, 29, 12, tzinfo=UTC), PARIS, datetime(2026, 3, 28, 23, tzinfo=UTC)),
        (datetime(2026, 3, 30, 12, tzinfo=UTC), PARIS, datetime(2026, 3, 29, 22, tzinfo=UTC)),
        (datetime(2026, 10, 25, 12, tzinfo=UTC), PARIS, datetime(2026, 10, 24, 22, tzinfo=UTC)),
        (datetime(2026, 10, 26, 12, tzinfo=UTC), PARIS, datetime(2026, 10, 25, 23, tzinfo=UTC)),
        (datetime(2026, 11, 25, 12, tzinfo=UTC), "UTC", datetime(2026, 11, 25, tzinfo=UTC)),
    ],
)
def test_v1_day_start_is_local_midnight(now: datetime, zone: str, midnight: datetime) -> None:
    start = v1_day_start(now, zone)
    assert start == midnight
    assert start.utcoffset() == timedelta(0)
    local = start.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    assert local.date() == now.astimezone(ZoneInfo(zone)).date()
    # The same instant given in another zone gives the same answer.
    assert v1_day_start(now.astimezone(ZoneInfo("Asia/Tokyo")), zone) == midnight


@pytest.mark.parametrize(
    ("now", "zone", "midnight"),
    [
        (datetime(2026, 3, 8, 19, tzinfo=UTC), LA, datetime(2026, 3, 8, 8, tzinfo=UTC)),
        (datetime(2026, 3, 9, 7, 30, tzinfo=UTC), LA, datetime(2026, 3, 9, 7, tzinfo=UTC)),
        (datetime(2026, 11, 1, 9, 30, tzinfo=UTC), LA, datetime(2026, 11, 1, 7, tzinfo=UTC)),
        (datetime(2026, 11, 2, 8, 30, tzinfo=UTC), LA, datetime(2026, 11, 2, 8, tzinfo=UTC)),
        (datetime(2026, 3, 29, 12, tzinfo=UTC), PARIS, datetime(2026, 3, 28, 23, tzinfo=UTC)),
        (datetime(2026, 10, 26, 12, tzinfo=UTC), PARIS, datetime(2026, 10, 25, 23, tzinfo=UTC)),
    ],
)
def test_v1_counts_calls_since_local_midnight(
    lake: Lake, now: datetime, zone: str, midnight: datetime
) -> None:
    store(
        lake,
        [
            call(midnight - timedelta(hours=3), version="v1"),  # yesterday
            call(midnight - MS, version="v1"),  # 23:59:59.999 yesterday
            call(midnight, version="v1", credits=9),  # 00:00:00.000 today
            call(midnight + MS, version="v1"),
            call(midnight + (now - midnight) / 2, version="v1"),
            call(now, version="v1"),
            call(now + MS, version="v1"),  # after now
            call(now - timedelta(minutes=1), version="v2", credits=40),  # V2: not counted
        ],
    )
    usage = v1_usage(lake, 10, zone, now=now)
    assert usage.used == 4  # calls, not credits
    assert (usage.window_start, usage.window_end) == (midnight, now)
    # Just before midnight the old day's calls are counted; at midnight the count resets.
    assert v1_usage(lake, 10, zone, now=midnight - MS).used == 2
    assert v1_usage(lake, 10, zone, now=midnight).used == 1


# -- the bar --------------------------------------------------------------------------------


def _usage(used: int, limit: int) -> Usage:
    return Usage("v2", used, limit, NOW - timedelta(hours=24), NOW)


def _parts(used: int, limit: int) -> tuple[dict, str]:
    """The progress element's props and the caption text."""
    bar = usage_bar(_usage(used, limit), title="V2 API", window="last 24 hours", bar_id="b")
    progress, caption = bar.children[1], bar.children[2]
    return progress.to_plotly_json()["props"], caption.children


@pytest.mark.parametrize(
    ("used", "limit", "state", "colour", "text"),
    [
        (0, 1000, "ok", PURPLE, "0 of 1,000 used (0.0 %)"),
        (899, 1000, "ok", PURPLE, "899 of 1,000 used (89.9 %)"),
        (8999, 10000, "ok", PURPLE, "8,999 of 10,000 used (89.9 %)"),
        (900, 1000, "over", RED, "900 of 1,000 used (90.0 %)"),
        (90000, 100000, "over", RED, "90,000 of 100,000 used (90.0 %)"),
        (1000, 1000, "over", RED, "1,000 of 1,000 used (100.0 %)"),
        (1534, 1000, "over", RED, "1,534 of 1,000 used (153.4 %)"),
    ],
)
def test_bar_is_purple_below_90_percent_and_red_from_90(
    used: int, limit: int, state: str, colour: str, text: str
) -> None:
    usage = _usage(used, limit)
    assert usage.colour == colour
    props, caption = _parts(used, limit)
    assert caption == text
    assert props["role"] == "progressbar"
    assert props["data-state"] == state
    assert props["children"].className == f"progress-bar usage-bar-{state}"
    assert float(props["aria-valuenow"]) == pytest.approx(usage.percent, abs=0.1)
    assert text.endswith(f"({props['aria-valuenow']} %)")  # the same figure as the caption
    assert props["aria-label"] == f"V2 API: {text}"


def test_bar_can_pass_100_percent() -> None:
    props, caption = _parts(2500, 1000)
    assert props["aria-valuenow"] == "250.0"
    assert caption == "2,500 of 1,000 used (250.0 %)"
    assert props["children"].style == {"width": "100.00%"}  # the fill stops at the edge


def test_bar_just_under_90_percent_never_reads_90() -> None:
    props, caption = _parts(8996, 10000)  # 89.96 %
    assert props["data-state"] == "ok"
    assert caption == "8,996 of 10,000 used (89.9 %)"
    assert props["aria-valuenow"] == "89.9"


def test_percent_text_rounds_down() -> None:
    assert percent_text(89.99) == "89.9 %"
    assert percent_text(90.0) == "90.0 %"
    assert percent_text(0.05) == "0.0 %"


def test_css_colours_match_the_states() -> None:
    from conftest import ROOT

    css = (ROOT / "assets" / "app.css").read_text()
    assert f".usage-bar-ok {{ background-color: {PURPLE}; }}" in css
    assert f".usage-bar-over {{ background-color: {RED}; }}" in css
    assert (PURPLE, RED) == ("#6f42c1", "#dc3545")


def test_bar_reads_the_lake_end_to_end(lake: Lake) -> None:
    store(lake, [call(NOW - timedelta(minutes=m), credits=3) for m in range(300)])  # 900
    usage = v2_usage(lake, 1000, now=NOW)
    assert usage.used == 900
    props, caption = _parts(usage.used, usage.limit)
    assert props["data-state"] == "over"
    assert caption == "900 of 1,000 used (90.0 %)"
