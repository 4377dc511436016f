"""Range presets resolve to the right UTC instants in the display zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from data.timerange import resolve

NOW = datetime(2026, 11, 25, 15, 40, tzinfo=UTC)


def r(preset, tz="UTC", **kw):
    return resolve(preset, now=NOW, timezone=tz, retention_days=30, **kw)


def test_last_24_hours_is_rolling_and_hourly():
    rng = r("24h")
    assert (rng.start, rng.end, rng.bucket) == (NOW - timedelta(hours=24), NOW, "hour")


def test_today_and_yesterday_follow_the_display_zone():
    today = r("today", "America/New_York")  # 10:40 local, EST (UTC-5)
    assert today.start == datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
    assert today.end == NOW
    yesterday = r("yesterday", "America/New_York")
    assert (yesterday.start, yesterday.end) == (
        datetime(2026, 11, 24, 5, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 5, 0, tzinfo=UTC),
    )


def test_a_day_across_the_dst_change_has_25_hours():
    rng = resolve(
        "date",
        now=datetime(2026, 11, 5, tzinfo=UTC),
        timezone="America/Los_Angeles",
        retention_days=30,
        day="2026-11-01",
    )
    assert rng.end - rng.start == timedelta(hours=25)
    assert rng.bucket == "hour"


def test_last_7_and_30_days_are_by_day_and_30_is_the_default():
    assert r("7d").start == NOW - timedelta(days=7)
    assert r("7d").bucket == "day"
    default = r(None)
    assert (default.preset, default.start, default.notice) == (
        "30d",
        NOW - timedelta(days=30),
        None,
    )


def test_unknown_preset_falls_back_with_a_notice():
    rng = r("fortnight")
    assert rng.preset == "30d"
    assert "Unknown range" in rng.notice


def test_a_date_older_than_retention_is_clamped_with_a_notice():
    rng = r("date", day="2026-01-01")
    assert rng.day == (NOW - timedelta(days=30)).date()
    assert "retention" in rng.notice


def test_a_bad_date_says_so():
    rng = r("date", day="yesterday-ish")
    assert rng.day == NOW.date()
    assert "not a date" in rng.notice


def test_custom_range_is_inclusive_and_swaps_reversed_ends():
    rng = r("custom", first="2026-11-20", last="2026-11-10")
    assert (rng.first.isoformat(), rng.last.isoformat()) == ("2026-11-10", "2026-11-20")
    assert rng.start == datetime(2026, 11, 10, tzinfo=UTC)
    assert rng.end == datetime(2026, 11, 21, tzinfo=UTC)
    assert "swapped" in rng.notice


def test_custom_range_ending_today_stops_at_now():
    rng = r("custom", first="2026-11-24", last="2026-11-25")
    assert rng.end == NOW
