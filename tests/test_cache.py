"""The statistics cache: one answer per refresh period, shared by processes, closed days reused.

Every test fixes the app's clock (``clock.set_now``) and moves it across period boundaries
instead of waiting for one.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from conftest import reset_caches
from data import clock, queries, stats
from data.cache import cached, get_cache, period_bounds
from data.lake import Lake
from data.rollup import as_usage
from data.runtime import get_lake
from data.usage import v2_usage
from factory import APPLICATIONS, IPS, METHODS, USERS, call, store

# Seven minutes into a period; the week before it crosses the end of US daylight saving time
# (2026-11-01), so local days of America/New_York have 23, 24 and 25 hours.
T0 = datetime(2026, 11, 3, 10, 7, tzinfo=UTC)
AS_OF = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
MODULES = ["Leads", "Contacts", "Deals", "Accounts", "Tasks"]


def week_of_calls(end: datetime, count: int = 700) -> list[dict]:
    """``count`` calls over the 7 days (and a bit) before ``end``, both versions, every
    dimension varied by a fixed rule, some errors, credits 1 to 3."""
    rows = []
    for i in range(count):
        version = "v1" if i % 5 == 0 else "v2"
        rows.append(
            call(
                end - timedelta(seconds=37 + i * 7.4 * 86400 / count),
                version,
                credits=1 + i % 3 if version == "v2" else 1,
                application=APPLICATIONS[(i * 7) % 5] if version == "v2" else None,
                module=MODULES[(i * i) % len(MODULES)],
                method=METHODS[i % len(METHODS)] if version == "v2" else "getRecords",
                user=USERS[(i // 3) % len(USERS)],
                ip=IPS[(i // 7) % len(IPS)],
                status=500 if i % 17 == 0 else 404 if i % 23 == 0 else 200,
            )
        )
    return rows


def by_value(frame: pl.DataFrame) -> dict[str, tuple[int, int]]:
    return {r["value"]: (r["calls"], r["credits"]) for r in frame.iter_rows(named=True)}


# -- periods -----------------------------------------------------------------------------


def at(hour: int, minute: int, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, 11, 3, hour, minute, second, micro, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "minutes", "start", "end"),
    [
        (at(10, 7, 33, 500_000), 15, at(10, 0), at(10, 15)),
        (at(10, 0), 15, at(10, 0), at(10, 15)),
        (at(10, 14, 59, 999_999), 15, at(10, 0), at(10, 15)),
        (at(10, 15), 15, at(10, 15), at(10, 30)),
        (at(10, 44), 15, at(10, 30), at(10, 45)),
        (at(10, 59, 59), 15, at(10, 45), at(11, 0)),
        (at(23, 50), 15, at(23, 45), datetime(2026, 11, 4, 0, 0, tzinfo=UTC)),
        (at(10, 7), 5, at(10, 5), at(10, 10)),
        (at(10, 10), 5, at(10, 10), at(10, 15)),
        (at(10, 4, 59), 5, at(10, 0), at(10, 5)),
        (at(10, 7), 60, at(10, 0), at(11, 0)),
        (at(10, 59, 59, 999_999), 60, at(10, 0), at(11, 0)),
        (at(11, 0), 60, at(11, 0), at(12, 0)),
    ],
)
def test_periods_are_aligned_to_the_hour(moment, minutes, start, end) -> None:
    assert period_bounds(moment, minutes) == (start, end)


def test_as_of_follows_the_configured_refresh(env, monkeypatch: pytest.MonkeyPatch) -> None:
    clock.set_now(T0)
    assert stats.as_of() == (at(10, 0), at(10, 15))
    monkeypatch.setenv("APIDASH_REFRESH_MINUTES", "5")
    reset_caches()
    clock.set_now(T0)
    assert stats.as_of() == (at(10, 5), at(10, 10))


def test_cache_directory_is_private(env: Path) -> None:
    directory = env / "cache"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)  # an existing folder others could write to is tightened
    cache = get_cache()
    assert cache.directory == directory
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "locks").stat().st_mode) == 0o700


def test_new_cache_directory_is_created_private(env: Path) -> None:
    get_cache()
    assert stat.S_IMODE((env / "cache").stat().st_mode) == 0o700


# -- once per period ---------------------------------------------------------------------


def test_statistics_hold_within_a_period_and_refresh_in_the_next(lake: Lake) -> None:
    """Calls stored during a period change no statistic until the next period starts."""
    clock.set_now(T0)
    as_of, next_refresh = stats.as_of()
    assert (as_of, next_refresh) == (at(10, 0), at(10, 15))
    start, end = as_of - timedelta(hours=24), as_of
    store(lake, [call(as_of - timedelta(hours=2, seconds=i), credits=2) for i in range(5)])

    ranking = stats.ranking("module", start, end, "v2")
    summary = stats.summary(start, end, "v2")
    assert by_value(ranking) == {"Leads": (5, 10)}
    assert summary == {"calls": 5, "credits": 10, "errors": 0}

    # Three calls made before the statistics' instant arrive late, within the period.
    late = [
        call(as_of - timedelta(minutes=5, seconds=i), credits=3, module="Deals") for i in range(3)
    ]
    store(lake, late)
    for moment in (T0, at(10, 14, 59, 999_999)):
        clock.set_now(moment)
        assert_frame_equal(stats.ranking("module", start, end, "v2"), ranking)
        assert stats.summary(start, end, "v2") == summary

    clock.set_now(at(10, 15))  # the next period
    assert by_value(stats.ranking("module", start, end, "v2")) == {
        "Leads": (5, 10),
        "Deals": (3, 9),
    }
    assert stats.summary(start, end, "v2") == {"calls": 8, "credits": 19, "errors": 0}
    # The new period's own range (ending at its as_of) counts them too.
    as_of2, _ = stats.as_of()
    assert as_of2 == at(10, 15)
    assert stats.summary(as_of2 - timedelta(hours=24), as_of2, "v2")["calls"] == 8


def test_live_counter_shows_an_append_at_once(env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The usage counter is read from the lake on every call, never from the period cache."""
    lake = get_lake()
    clock.set_now(T0)
    store(lake, [call(T0 - timedelta(hours=3), credits=4)])
    assert v2_usage(lake, 1000, clock.now()).used == 4
    stats.summary(AS_OF - timedelta(hours=24), AS_OF, "v2")  # the period's statistics exist
    store(lake, [call(T0 - timedelta(seconds=10), credits=7)])
    assert v2_usage(lake, 1000, clock.now()).used == 11

    from components.live_usage import live_bars

    store(lake, [call(T0 - timedelta(seconds=5), credits=2)])
    assert "13 of 100,000 used" in str(live_bars()[0].to_plotly_json())


# -- closed days -------------------------------------------------------------------------


def _rollups(lake: Lake) -> dict[str, tuple[str, int]]:
    """Each day's rollup file and its modification time (ns)."""
    out = {}
    for day in lake.days():
        # The newest one: a replaced rollup stays on disk for a grace period.
        for path in sorted((lake.store.root / f"date={day}").glob("rollup-*")):
            out[day.isoformat()] = (path.name, path.stat().st_mtime_ns)
    return out


def test_closed_days_are_reused_until_their_files_change(lake: Lake) -> None:
    """Closed days are read from their rollups, written once at compaction and rewritten
    only when that day's data changes; answers still include every new call."""
    from server.background import maintain

    clock.set_now(T0)
    start, end = AS_OF - timedelta(days=7), AS_OF
    rows = [call(AS_OF - timedelta(hours=5 + 12 * i), module=MODULES[i % 5]) for i in range(14)]
    store(lake, rows)
    maintain(lake, T0)
    before = _rollups(lake)
    assert len(before) >= 6  # every closed day is rolled up

    def window_days() -> dict[str, str]:
        """The closed days summed in the window, if the ranking reads it."""
        pieces = list(lake._pieces(start, end, clock.now(), True, True))
        return lake._window().days if any(p.kind == "window" for p in pieces) else {}

    assert len(window_days()) >= 6  # and summed into the window
    expected = {m: sum(1 for r in rows if r["module"] == m) for m in MODULES}
    first = stats.ranking("module", start, end, "v2")
    assert {v: c for v, (c, _) in by_value(first).items()} == expected

    # A call on the open day: no closed day's rollup is touched; the next period counts it.
    store(lake, [call(AS_OF - timedelta(minutes=30), module="Tasks")])
    maintain(lake, at(10, 15))
    assert {d: v for d, v in _rollups(lake).items() if d != "2026-11-03"} == {
        d: v for d, v in before.items() if d != "2026-11-03"
    }
    clock.set_now(at(10, 15))
    expected["Tasks"] += 1
    second = stats.ranking("module", start, end, "v2")
    assert {v: c for v, (c, _) in by_value(second).items()} == expected

    # A late call on a closed day (Oct 31) counts at once (its new file is read raw beside
    # the rollup); the next upkeep rewrites that day's rollup, and only that one.
    store(lake, [call(datetime(2026, 10, 31, 12, 0, tzinfo=UTC), module="Notes", credits=5)])
    clock.set_now(at(10, 30))
    third = stats.ranking("module", start, end, "v2")
    assert by_value(third)["Notes"] == (1, 5)
    assert sum(third["calls"]) == len(rows) + 2
    assert window_days()  # the day's compact file and rollup did not change: still current
    maintain(lake, at(10, 30))
    after = _rollups(lake)
    changed = {d for d in after if after[d] != before.get(d)}
    assert changed <= {"2026-10-31", "2026-11-03"} and "2026-10-31" in changed
    daily = sorted((lake.store.root / "date=2026-10-31").glob("daily-0*"))[-1].name
    assert window_days()["date=2026-10-31"] == daily  # the upkeep wrote the window again
    clock.set_now(at(10, 45))
    assert stats.ranking("module", start, end, "v2").equals(third)


def test_the_open_day_is_compacted_between_upkeep_rounds_once_crowded(lake: Lake) -> None:
    """A steady ingest stream leaves a file per batch; the upkeep thread compacts the open day
    as soon as there are COMPACT_TODAY_SOON_AT of them, not only every upkeep round."""
    from server.background import COMPACT_TODAY_SOON_AT, compact_between_rounds

    now = datetime.now(UTC)
    for i in range(COMPACT_TODAY_SOON_AT - 1):
        store(lake, [call(now - timedelta(seconds=i + 1))])
    assert compact_between_rounds(lake, now) == 0
    store(lake, [call(now - timedelta(minutes=5))])
    assert len(lake.live_files(now.date())) == COMPACT_TODAY_SOON_AT
    assert compact_between_rounds(lake, now) == 1
    assert [n[:8] for n in lake.live_files(now.date())] == ["compact-"]
    assert compact_between_rounds(lake, now) == 0


def test_history_sent_over_http_is_summarised_once_it_settles(lake: Lake) -> None:
    """Closed days written to between upkeep rounds are compacted (and summed into the
    window) once nothing has been written to them for SETTLED_S seconds."""
    from server.background import SETTLED_S, compact_between_rounds

    now = datetime.now(UTC)
    days = [now - timedelta(days=d) for d in (1, 2, 3)]
    for ts in days:
        store(lake, [call(ts)])
        store(lake, [call(ts - timedelta(minutes=1))])
    assert compact_between_rounds(lake, now) == 0  # just written: the import may go on
    later = now + timedelta(seconds=SETTLED_S + 1)
    assert compact_between_rounds(lake, later) == 3
    assert all(lake.is_final(ts.date()) for ts in days)
    assert sorted(lake._window().days) == sorted(f"date={ts.date()}" for ts in days)
    assert compact_between_rounds(lake, later) == 0  # nothing left to do


def test_a_closed_day_leaving_the_retention_window_is_not_shown(lake: Lake) -> None:
    """The oldest day is only partly inside the retention window; as the window moves on,
    its calls that fall out of it disappear even though the day's files did not change."""
    clock.set_now(T0)
    oldest = datetime(2026, 10, 4, tzinfo=UTC)  # T0 - 30 days is Oct 4, 10:07
    store(lake, [call(oldest + timedelta(hours=h, minutes=30)) for h in range(24)])
    start, end = oldest, oldest + timedelta(days=1)
    assert stats.summary(start, end, "v2")["calls"] == 14  # 10:30 .. 23:30
    clock.set_now(at(13, 7))  # cutoff Oct 4, 13:07
    assert stats.summary(start, end, "v2")["calls"] == 11  # 13:30 .. 23:30
    assert sum(stats.ranking("module", start, end, "v2")["calls"]) == 11


# -- parts add up to the whole ------------------------------------------------------------


def straight(lake: Lake, start: datetime, end: datetime, version: str) -> pl.LazyFrame:
    """The raw events of the range (one usage row per call), without rollups, parts or cache."""
    return (
        lake.scan(start, end)
        .pipe(as_usage)
        .pipe(queries.for_version, version)
        .pipe(queries.with_labels)
    )


RANGES = [
    pytest.param(AS_OF - timedelta(days=7), AS_OF, id="7-days-to-as-of"),
    pytest.param(AS_OF - timedelta(days=5, hours=3, minutes=17), AS_OF, id="ragged-start"),
    pytest.param(
        datetime(2026, 10, 29, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC), id="whole-days"
    ),
    pytest.param(
        datetime(2026, 10, 30, 4, 0, tzinfo=UTC),
        datetime(2026, 10, 30, 9, 45, tzinfo=UTC),
        id="inside-one-day",
    ),
    pytest.param(
        datetime(2026, 11, 1, 4, 0, tzinfo=UTC),  # local midnight in New York (EDT)
        datetime(2026, 11, 3, 5, 0, tzinfo=UTC),  # local midnight in New York (EST)
        id="new-york-days",
    ),
]


@pytest.fixture
def week(lake: Lake) -> Lake:
    clock.set_now(T0)
    store(lake, week_of_calls(AS_OF + timedelta(minutes=5)))
    return lake


@pytest.mark.parametrize(("start", "end"), RANGES)
@pytest.mark.parametrize("version", ["v2", "v1", "all"])
def test_rankings_from_parts_equal_rankings_from_raw_events(week, start, end, version) -> None:
    for dimension in ("application", "module", "method", "user", "ip", "api_version"):
        expected = straight(week, start, end, version).pipe(queries.ranked, dimension).collect()
        assert expected.height > 0
        assert_frame_equal(stats.ranking(dimension, start, end, version), expected)


@pytest.mark.parametrize(("start", "end"), RANGES)
@pytest.mark.parametrize("version", ["v2", "v1", "all"])
def test_summaries_from_parts_equal_totals_of_raw_events(week, start, end, version) -> None:
    row = straight(week, start, end, version).pipe(queries.totals).collect().row(0, named=True)
    assert row["calls"] > 0
    assert stats.summary(start, end, version) == row


@pytest.mark.parametrize(("start", "end"), RANGES)
@pytest.mark.parametrize("timezone", ["UTC", "America/New_York"])
@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_timelines_from_parts_equal_buckets_of_raw_events(
    week, start, end, timezone, bucket
) -> None:
    for version in ("v2", "all"):
        expected = (
            straight(week, start, end, version).pipe(queries.by_bucket, bucket, timezone).collect()
        )
        assert expected.height > 0
        got = stats.timeline(start, end, version, bucket, timezone)
        assert_frame_equal(got, expected)


def test_parts_match_a_count_in_plain_python(lake: Lake) -> None:
    clock.set_now(T0)
    rows = week_of_calls(AS_OF)
    store(lake, rows)
    start, end = AS_OF - timedelta(days=7), AS_OF
    inside = [r for r in rows if start <= r["ts"] < end and r["api_version"] == "v2"]
    ranking = stats.ranking("user", start, end, "v2")
    for user in USERS:
        mine = [r for r in inside if r["user"] == user]
        assert by_value(ranking)[user] == (len(mine), sum(r["credits"] for r in mine))
    assert stats.summary(start, end, "v2") == {
        "calls": len(inside),
        "credits": sum(r["credits"] for r in inside),
        "errors": sum(1 for r in inside if r["status"] >= 400),
    }


# -- several processes -------------------------------------------------------------------


@cached
def slow_answer(marker: str) -> str:
    """A statistic that takes a while and leaves a line in ``marker`` each time it is computed."""
    with open(marker, "a") as f:
        f.write(f"{os.getpid()}\n")
    time.sleep(0.5)
    return f"computed by process {os.getpid()}"


def _ask(question, data_dir, cache_dir, now, marker, barrier, results) -> None:
    """One worker process: the app's settings, then the question at the same instant as the rest."""
    os.environ["APIDASH_DATA_DIR"] = data_dir
    os.environ["APIDASH_CACHE_DIR"] = cache_dir
    os.environ["APIDASH_DEMO"] = "off"
    reset_caches()
    clock.set_now(now)
    get_lake()
    get_cache()
    try:
        barrier.wait(timeout=60)
        if question == "slow":
            answer: object = slow_answer(marker)
        else:
            answer = stats.ranking("module", now - timedelta(days=7), now, "v2").to_dicts()
        results.put((answer, get_cache().computed))
    except BaseException as exc:
        results.put((f"error: {exc!r}", -1))
        raise


def ask_at_once(question: str, env: Path, cache_dir: Path, now: datetime) -> list[tuple]:
    ctx = multiprocessing.get_context("spawn")  # no fork: Polars' thread pool does not survive it
    barrier, results = ctx.Barrier(4), ctx.Queue()
    marker = env / "computed.txt"
    workers = [
        ctx.Process(
            target=_ask,
            args=(question, str(env / "lake"), str(cache_dir), now, str(marker), barrier, results),
        )
        for _ in range(4)
    ]
    for w in workers:
        w.start()
    answers = [results.get(timeout=90) for _ in workers]
    for w in workers:
        w.join(timeout=30)
        assert w.exitcode == 0
    return answers


def test_four_processes_compute_a_statistic_once(env: Path) -> None:
    answers = ask_at_once("slow", env, env / "cache", AS_OF)
    lines = (env / "computed.txt").read_text().splitlines()
    assert len(lines) == 1, lines
    assert len({answer for answer, _ in answers}) == 1, answers
    assert answers[0][0] == f"computed by process {lines[0]}"
    assert sorted(computed for _, computed in answers) == [0, 0, 0, 1]


def test_four_processes_compute_a_ranking_once(
    lake: Lake, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set_now(AS_OF)
    store(lake, week_of_calls(AS_OF))
    # One process alone, on a fresh cache: how many answers the question takes.
    monkeypatch.setenv("APIDASH_CACHE_DIR", str(env / "cache-alone"))
    reset_caches()
    clock.set_now(AS_OF)
    alone = stats.ranking("module", AS_OF - timedelta(days=7), AS_OF, "v2").to_dicts()
    once = get_cache().computed
    assert once == 1

    answers = ask_at_once("ranking", env, env / "cache-shared", AS_OF)
    assert all(answer == alone for answer, _ in answers), answers
    assert sum(computed for _, computed in answers) == once
