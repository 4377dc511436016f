"""The V2 outlook on hand-made lakes: used credits, the credits coming back hour by hour, the
rate of the last hour, when the limit is reached, who drives it, and the sentence shown.

The outlook is as of the last whole minute ``t`` (``NOW`` is one): it covers ``[t - 24 h, t)``.
Hour ``h`` of ``returning`` starts at ``t + h`` hours and holds the credits spent in
``[t - 24 h + h hours, t - 24 h + (h + 1) hours)`` (each credit comes back 24 h later).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from components.live_usage import outlook_text
from data.forecast import v2_outlook
from data.lake import Lake
from factory import call as factory_call
from factory import store

NOW = datetime(2026, 11, 20, 10, 7, tzinfo=UTC)
START = NOW - timedelta(hours=24)
MS = timedelta(milliseconds=1)
H = timedelta(hours=1)
MIN = timedelta(minutes=1)


def call(ts: datetime, credits: int, application: str = "Zapier Sync", version: str = "v2") -> dict:
    return factory_call(ts, version, credits, application=application if version == "v2" else None)


def test_used_returning_rate_and_driver(lake: Lake) -> None:
    store(
        lake,
        [
            call(START - MS, 3000),  # before the window
            call(START, 1000),  # exactly now - 24 h: the window's first minute, hour 0
            call(START + MS, 1),  # hour 0
            call(NOW - timedelta(hours=23, minutes=30), 100, "Old Import"),  # hour 0
            call(NOW - timedelta(hours=20) - MS, 50),  # the end of hour 3
            call(NOW - timedelta(hours=20), 4),  # exactly START + 4 h: hour 4
            call(NOW - H - MS, 7, "Slack Notifier"),  # just over an hour ago: hour 22
            call(NOW - H, 30, "Slack Notifier"),  # exactly an hour ago: hour 23, the rate
            call(NOW - 10 * MIN, 50, "Partner Portal"),  # hour 23, rate
            call(NOW - MS, 20, "Partner Portal"),  # the last instant of the window: rate
            call(NOW, 500),  # now itself: after the last whole minute
            call(NOW - 5 * MIN, 900, version="v1"),  # V1 does not count
        ],
    )
    for now in (NOW, NOW + 59 * timedelta(seconds=1) + 999 * MS):  # the same whole minute
        outlook = v2_outlook(lake, 10_000, now)
        assert outlook.now == NOW
        assert outlook.used == 1000 + 1 + 100 + 50 + 4 + 7 + 30 + 50 + 20 == 1262
        assert outlook.limit == 10_000
        assert outlook.rate_per_hour == 30 + 50 + 20 == 100
        assert outlook.driver == "Partner Portal"
        assert outlook.driver_share == pytest.approx(0.7)

        returning = outlook.returning
        assert returning.columns == ["hour", "credits"]
        assert returning.height == 24
        assert returning["hour"].to_list() == [NOW + h * H for h in range(24)]
        expected = [0] * 24
        expected[0], expected[3], expected[4], expected[22], expected[23] = 1101, 50, 4, 7, 100
        assert returning["credits"].to_list() == expected
        assert returning["credits"].sum() == outlook.used
        assert outlook.reach_at is None
        assert not outlook.over_now


def test_the_same_outlook_from_minute_rollups_and_from_raw_events(lake: Lake) -> None:
    """Compaction writes each day's minute rollup; the outlook read from it is the one read
    from the raw events, including the parts that came after a compaction."""
    rows = [
        call(START + k * 7 * MIN + k * 1013 * MS, 1 + k % 5, f"App {k % 4}") for k in range(206)
    ]
    store(lake, rows[:150])
    for day in lake.days():
        lake.compact(day)
    assert all(list(lake.store.path(f"date={d}").glob("minute-*")) for d in lake.days())
    store(lake, rows[150:])  # parts newer than the compaction, on both days
    all_raw = Lake(lake.store.root / "copy")
    store(all_raw, rows)
    a, b = v2_outlook(lake, 700, NOW), v2_outlook(all_raw, 700, NOW)
    assert a.used > 0 and a.rate_per_hour > 0
    assert (a.used, a.rate_per_hour, a.reach_at, a.driver, a.driver_share) == (
        b.used,
        b.rate_per_hour,
        b.reach_at,
        b.driver,
        b.driver_share,
    )
    assert a.returning.equals(b.returning)


def test_nothing_used(lake: Lake) -> None:
    outlook = v2_outlook(lake, 1000, NOW)
    assert (outlook.used, outlook.rate_per_hour, outlook.reach_at) == (0, 0, None)
    assert (outlook.driver, outlook.driver_share) == (None, 0.0)
    assert outlook.returning["credits"].to_list() == [0] * 24
    assert outlook_text(outlook, "UTC") == (
        "At the current rate (0 credits in the last hour) "
        "the V2 limit is not reached within 24 hours."
    )


def test_driver_tie_goes_to_the_first_name(lake: Lake) -> None:
    store(lake, [call(NOW - 50 * MIN, 60, "B App"), call(NOW - 20 * MIN, 60, "A App")])
    outlook = v2_outlook(lake, 1000, NOW)
    assert (outlook.driver, outlook.driver_share) == ("A App", 0.5)


# -- when the limit is reached -----------------------------------------------------------


def test_limit_reached_at_the_current_rate(lake: Lake) -> None:
    """950 of 1,000 used, 120 credits in the last hour (2 a minute), the rest spent two hours
    ago (back in 22 hours): 50 more credits take 25 minutes."""
    store(
        lake,
        [
            call(NOW - 2 * H, 830, "Zapier Sync"),
            call(NOW - 50 * MIN, 60, "Mailchimp Connector"),
            call(NOW - 20 * MIN, 45, "Support Portal"),
            call(NOW - 5 * MIN, 15, "Mailchimp Connector"),
        ],
    )
    outlook = v2_outlook(lake, 1000, NOW)
    assert (outlook.used, outlook.rate_per_hour) == (950, 120)
    assert outlook.reach_at == NOW + 25 * MIN
    assert not outlook.over_now
    assert (outlook.driver, outlook.driver_share) == ("Mailchimp Connector", 0.625)
    assert outlook_text(outlook, "UTC") == (
        "At the current rate (120 credits in the last hour) the V2 limit is reached at "
        "10:32 UTC. Most of that use comes from Mailchimp Connector (62%)."
    )


@pytest.mark.parametrize(
    ("rate", "minutes"),
    [(10, 300), (8, 375), (3, 1000), (100, 30), (7, 429)],
)
def test_limit_reached_on_the_exact_minute(lake: Lake, rate: int, minutes: int) -> None:
    """950 of 1,000 used: 50 more credits at ``rate`` an hour take ``50 * 60 / rate`` minutes
    (rounded up), not a minute more for rounding errors."""
    store(lake, [call(NOW - 2 * H, 950 - rate), call(NOW - 30 * MIN, rate)])
    outlook = v2_outlook(lake, 1000, NOW)
    assert outlook.reach_at == NOW + minutes * MIN


def test_credits_coming_back_put_the_limit_off(lake: Lake) -> None:
    """990 of 1,000 used, 60 an hour (1 a minute); 930 of them were spent at now - 23 h 55 min
    and come back in the sixth minute. The level reaches 995 at 10:12, drops to 66 at 10:13,
    then climbs 1 a minute: 1,000 at 15 h 40 min from now (before the last hour's credits
    return)."""
    store(lake, [call(START + 5 * MIN, 930), call(NOW - 30 * MIN, 60)])
    outlook = v2_outlook(lake, 1000, NOW)
    assert (outlook.used, outlook.rate_per_hour) == (990, 60)
    assert outlook.returning["credits"].to_list()[0] == 930
    assert outlook.reach_at == NOW + timedelta(hours=15, minutes=40)
    assert outlook_text(outlook, "UTC") == (
        "At the current rate (60 credits in the last hour) the V2 limit is reached at "
        "01:47 UTC tomorrow. Most of that use comes from Zapier Sync (100%)."
    )
    # In New York it is still the same day (20:47 EST on the 20th, 05:07 EST now).
    assert outlook_text(outlook, "America/New_York") == (
        "At the current rate (60 credits in the last hour) the V2 limit is reached at "
        "20:47 EST. Most of that use comes from Zapier Sync (100%)."
    )


def test_tomorrow_is_a_day_of_the_shown_time_zone(lake: Lake) -> None:
    """At 23:30 in New York (04:30 UTC), a limit reached at 00:10 New York time is tomorrow
    there, although it is the same UTC day."""
    now = datetime(2026, 11, 21, 4, 30, tzinfo=UTC)
    store(lake, [call(now - 2 * H, 890), call(now - 30 * MIN, 60, "Partner Portal")])
    outlook = v2_outlook(lake, 1000, now)
    assert outlook.reach_at == now + 50 * MIN
    assert outlook_text(outlook, "America/New_York") == (
        "At the current rate (60 credits in the last hour) the V2 limit is reached at "
        "00:20 EST tomorrow. Most of that use comes from Partner Portal (100%)."
    )


def test_limit_not_reached_when_returns_outpace_the_rate(lake: Lake) -> None:
    """950 of 1,000 used but only 30 an hour: the 920 spent at now - 23 h 30 min come back
    after half an hour (the level peaks at 965), and 24 hours at 30 an hour are 720."""
    store(
        lake,
        [call(NOW - timedelta(hours=23, minutes=30), 920), call(NOW - 30 * MIN, 30, "Slack Bot")],
    )
    outlook = v2_outlook(lake, 1000, NOW)
    assert (outlook.used, outlook.rate_per_hour) == (950, 30)
    assert outlook.reach_at is None
    assert not outlook.over_now
    assert outlook.returning["credits"].to_list()[0] == 920
    assert outlook_text(outlook, "UTC") == (
        "At the current rate (30 credits in the last hour) the V2 limit is not reached "
        "within 24 hours. Most of that use comes from Slack Bot (100%)."
    )


@pytest.mark.parametrize("used", [1000, 1250])
def test_over_the_limit_now(lake: Lake, used: int) -> None:
    store(lake, [call(NOW - 3 * H, used - 40), call(NOW - 10 * MIN, 40, "Mobile Sales App")])
    outlook = v2_outlook(lake, 1000, NOW)
    assert outlook.used == used
    assert outlook.over_now
    assert outlook.reach_at == NOW
    assert outlook_text(outlook, "UTC") == (
        "The V2 limit is reached now: calls may be refused until credits come back. "
        "Most of that use comes from Mobile Sales App (100%)."
    )


def test_just_below_the_limit_is_not_over(lake: Lake) -> None:
    store(lake, [call(NOW - 3 * H, 999)])
    outlook = v2_outlook(lake, 1000, NOW)
    assert not outlook.over_now
    assert outlook.rate_per_hour == 0
    assert outlook.reach_at is None  # nothing spent in the last hour: the level only falls
