"""Rollups: every answer read from them equals the answer computed from the raw events."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data import clock, queries, stats
from data.lake import Lake
from data.rollup import as_usage
from factory import write

NOW = datetime(2026, 11, 25, 12, 37, 11, tzinfo=UTC)
VOCAB = {
    "application": ["A", "B", "C", None],
    "module": ["Leads", "Deals", "Tasks"],
    "method": ["GET", "POST"],
    "user": ["u1", "u2", "u3", "u4"],
    "ip": ["192.0.2.1", "192.0.2.2", "2001:db8::1"],
}


def random_rows(rng: random.Random, n: int, start: datetime, span_s: int) -> list[dict]:
    rows = []
    for _ in range(n):
        version = rng.choice(["v1", "v2"])
        rows.append(
            {
                "ts": start + timedelta(milliseconds=rng.randrange(span_s * 1000)),
                "api_version": version,
                "application": rng.choice(VOCAB["application"][:3])
                if version == "v2"
                else rng.choice(VOCAB["application"]),
                **{k: rng.choice(v) for k, v in VOCAB.items() if k != "application"},
                "status": rng.choice([200, 200, 201, 404, 500]),
                "latency_ms": rng.random() * 500,
                "credits": rng.choice([1, 1, 2, 5]),
                "id": None,
            }
        )
    return rows


def build(lake: Lake, seed: int) -> None:
    """Four days: some compacted (with rollups), some with parts after the compaction. With
    an even seed every closed day is compacted and summed into the window first."""
    rng = random.Random(seed)
    first = (NOW - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    for _ in range(6):
        write(lake, random_rows(rng, 400, first, int((NOW - first).total_seconds())))
    for day in lake.days()[: 3 if seed % 2 == 0 else rng.randint(1, 2)]:
        lake.compact(day)
    assert lake.refresh_window(NOW) == (seed % 2 == 0)
    write(lake, random_rows(rng, 300, first, int((NOW - first).total_seconds())))


def uses_window(lake: Lake, start: datetime, end: datetime) -> bool:
    return any(p.kind == "window" for p in lake._pieces(start, end, NOW, True, True))


def ranges(seed: int) -> list[tuple[datetime, datetime]]:
    rng = random.Random(seed + 100)
    out = [(NOW - timedelta(days=3), NOW), (NOW - timedelta(hours=24), NOW)]
    for _ in range(4):
        a = NOW - timedelta(seconds=rng.randrange(3 * 86400))
        b = a + timedelta(seconds=rng.randrange(1, 2 * 86400))
        out.append((a, min(b, NOW)))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_usage_rows_sum_to_the_raw_events(lake, seed):
    build(lake, seed)
    rollups = [p for d in lake.days() for p in lake.store.path(f"date={d}").glob("rollup-*")]
    assert rollups, "the lake must have rollups for this test to mean anything"
    assert uses_window(lake, NOW - timedelta(days=3), NOW) == (seed % 2 == 0)
    for a, b in ranges(seed):
        for dimension in ("application", "module", "method", "user", "ip", "api_version"):
            raw = lake.scan(a, b, now=NOW).pipe(as_usage).pipe(queries.ranked, dimension).collect()
            for daily, timeless in ((False, False), (True, False), (True, True)):
                ours = lake.usage(a, b, now=NOW, daily=daily, timeless=timeless)
                ranked = ours.pipe(queries.ranked, dimension).collect()
                assert_frame_equal(ranked, raw, check_exact=False)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("timezone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_stats_from_rollups_equal_stats_from_raw_events(lake, seed, timezone):
    build(lake, seed)
    clock.set_now(NOW)
    assert uses_window(lake, NOW - timedelta(days=3), NOW) == (seed % 2 == 0)
    charted = [
        p.name for p in lake._pieces(NOW - timedelta(days=3), NOW, NOW, False, grain="quarter")
    ]
    assert any(n.startswith("quarter-") or n.startswith("window-quarter-") for n in charted)
    assert any(n.startswith("window-quarter-") for n in charted) == (seed % 2 == 0)

    def raw(a, b, version):
        return (
            lake.scan(a, b, now=NOW)
            .pipe(as_usage)
            .pipe(queries.for_version, version)
            .pipe(queries.with_labels)
        )

    for a, b in ranges(seed)[:4]:
        for version in ("v2", "v1", "all"):
            for dimension in ("application", "module", "user", "ip"):
                expected = raw(a, b, version).pipe(queries.ranked, dimension).collect()
                assert_frame_equal(stats.ranking(dimension, a, b, version), expected)
            totals = raw(a, b, version).pipe(queries.totals).collect().row(0, named=True)
            assert stats.summary(a, b, version) == {k: int(v or 0) for k, v in totals.items()}
            for bucket in ("hour", "day"):
                expected = raw(a, b, version).pipe(queries.by_bucket, bucket, timezone).collect()
                got = stats.timeline(a, b, version, bucket, timezone)
                assert_frame_equal(got, expected.cast(got.schema))


def test_the_window_is_used_only_while_every_day_in_it_is_unchanged(lake):
    """Late data recompacted into a closed day, or a day pruned, makes the window stale:
    answers come from the days' own files (and stay right) until the window is rewritten."""
    build(lake, 0)
    clock.set_now(NOW)
    start, end = NOW - timedelta(days=3), NOW

    def check() -> None:
        for dimension in ("module", "user"):
            raw = (
                lake.scan(start, end, now=NOW)
                .pipe(as_usage)
                .pipe(queries.ranked, dimension)
                .collect()
            )
            ours = lake.usage(start, end, now=NOW, daily=True, timeless=True)
            assert_frame_equal(ours.pipe(queries.ranked, dimension).collect(), raw)
            ranked = lake.ranked(start, end, (dimension,), now=NOW)
            assert_frame_equal(ranked.pipe(queries.ranked_values, dimension).collect(), raw)
        raw_chart = (
            lake.scan(start, end, now=NOW).pipe(as_usage).pipe(queries.by_bucket, "hour", "UTC")
        )
        chart = lake.usage(start, end, now=NOW, grain="quarter").pipe(
            queries.by_bucket, "hour", "UTC"
        )
        assert_frame_equal(chart.collect(), raw_chart.collect())

    assert uses_window(lake, start, end)
    check()
    late_day = lake.days()[1]
    late = datetime.combine(late_day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=5)
    write(lake, random_rows(random.Random(9), 50, late, 3600))
    lake.compact(late_day)
    assert not uses_window(lake, start, end)
    check()
    assert lake.refresh_window(NOW)
    assert not lake.refresh_window(NOW)  # nothing changed: nothing written
    assert uses_window(lake, start, end)
    check()
    lake.prune(NOW + timedelta(days=28))  # the first day leaves the retention window
    assert not uses_window(lake, start, end)


def test_the_open_day_compacted_by_the_upkeep_is_read_from_its_daily_rollup(lake):
    from data.rollup import as_latency, p95_from_sketch

    """When a day's compact file starts in the range asked for and runs past its end by at
    most an hour (the open day as the last upkeep round left it), its daily rollup answers,
    less the compact file's events past the end; otherwise its hourly rollup."""
    build(lake, 1)
    today = lake.days()[-1]
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    lake.compact(today)
    last = lake.scan(midnight, NOW + timedelta(days=1), now=NOW).collect()["ts"].max()
    write(lake, random_rows(random.Random(5), 40, last + timedelta(seconds=1), 60))
    clock.set_now(NOW + timedelta(minutes=5))
    cases = [
        (NOW - timedelta(days=2), NOW + timedelta(minutes=3), True),
        (midnight, last + timedelta(milliseconds=1), True),
        (midnight, last, True),  # the last event is outside: taken away from the daily rollup
        (midnight, last - timedelta(minutes=50), True),
        (midnight, last - timedelta(hours=2), False),  # too much to take away: hourly rollup
        (midnight + timedelta(minutes=1), NOW + timedelta(minutes=3), False),
    ]
    for a, b, from_daily in cases:
        kinds = {p.kind for p in lake._pieces(a, b, NOW, True) if p.folder == f"date={today}"}
        assert ("daily" in kinds) == from_daily, (a, b, kinds)
        for dimension in ("module", "ip"):
            raw = lake.scan(a, b, now=NOW).pipe(as_usage).pipe(queries.ranked, dimension)
            for timeless in (False, True):
                ours = lake.usage(a, b, now=NOW, daily=True, timeless=timeless)
                assert_frame_equal(ours.pipe(queries.ranked, dimension).collect(), raw.collect())
            ranked = lake.ranked(a, b, (dimension,), now=NOW).pipe(queries.ranked_values, dimension)
            assert_frame_equal(ranked.collect(), raw.collect())
        got = stats.table(a, b, "all", "module", None)
        events = lake.scan(a, b, now=NOW).pipe(queries.with_labels)
        keys = list(queries.DIMENSIONS)
        expected = (
            events.pipe(as_usage)
            .pipe(queries.combinations)
            .join(p95_from_sketch(as_latency(events), keys), on=keys, how="left", nulls_equal=True)
        )
        order = [*keys, "calls"]
        assert_frame_equal(
            got.sort(order, nulls_last=True), expected.collect().sort(order, nulls_last=True)
        )


@pytest.mark.parametrize("minute", [5, 55])
def test_a_partial_day_is_read_from_whichever_side_of_its_hour_is_shorter(lake, minute):
    """A range starting at 10:05 on a day the window holds keeps the day in the window and
    takes away its hours before 10:00 and its raw minutes 10:00-10:05; one starting at 10:55
    takes the day away and adds back 11:00 onwards and the raw minutes 10:55-11:00. Either
    way the answers are the raw events' answers."""
    from data.rollup import as_latency, p95_from_sketch

    build(lake, 0)
    clock.set_now(NOW)
    first = lake.days()[0]
    a = datetime.combine(first, datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=10, minutes=minute
    )
    b = NOW
    kept = [p for p in lake._pieces(a, b, NOW, True, True) if p.kind == "rollup" and p.sign < 0]
    assert bool(kept) == (minute == 5)
    events = lake.scan(a, b, now=NOW).pipe(queries.with_labels)
    for dimension in ("application", "module", "user", "ip"):
        expected = events.pipe(as_usage).pipe(queries.ranked, dimension).collect()
        assert_frame_equal(stats.ranking(dimension, a, b, "all"), expected)
    totals = events.pipe(as_usage).pipe(queries.totals).collect().row(0, named=True)
    assert stats.summary(a, b, "all") == {k: int(v or 0) for k, v in totals.items()}
    keys = list(queries.DIMENSIONS)
    expected = (
        events.pipe(as_usage)
        .pipe(queries.combinations)
        .join(p95_from_sketch(as_latency(events), keys), on=keys, how="left", nulls_equal=True)
        .collect()
    )
    order = [*keys, "calls"]
    got = stats.table(a, b, "all", "module", None)
    assert_frame_equal(got.sort(order, nulls_last=True), expected.sort(order, nulls_last=True))


def test_a_rollup_is_ignored_until_its_compact_file_exists(lake):
    build(lake, 1)
    day = lake.days()[-1]
    folder = lake.store.root / f"date={day}"
    # A rollup with a sequence number no compact file has (as if compaction died between
    # publishing the rollup and the merged file) must not be read.
    stale = folder / "rollup-000000000999.parquet"
    stale.write_bytes((next(folder.glob("part-*"))).read_bytes())
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    total = lake.usage(start, start + timedelta(days=1), now=NOW).select(pl.col("calls").sum())
    raw = lake.scan(start, start + timedelta(days=1), now=NOW).select(pl.len())
    assert total.collect().item() == raw.collect().item()


@pytest.mark.parametrize("seed", range(4))
def test_live_counters_read_from_rollups_equal_raw_counts(lake, seed):
    """The usage bars read whole hours from rollups: the counts must not move by one call."""
    from data.usage import live_usage, v1_usage, v2_usage

    build(lake, seed)
    events = lake.scan(NOW - timedelta(days=4), NOW + timedelta(days=1), now=NOW).collect()
    rng = random.Random(seed)
    for _ in range(5):
        now = NOW - timedelta(seconds=rng.randrange(86400), microseconds=rng.randrange(10**6))
        window = events.filter((pl.col("ts") > now - timedelta(hours=24)) & (pl.col("ts") <= now))
        v2 = window.filter(pl.col("api_version") == "v2")["credits"].sum()
        assert v2_usage(lake, 1000, now).used == v2
        v1 = v1_usage(lake, 1000, "America/Los_Angeles", now)
        expected = events.filter(
            (pl.col("api_version") == "v1")
            & (pl.col("ts") >= v1.window_start)
            & (pl.col("ts") <= now)
        ).height
        assert v1.used == expected
        for zone in ("America/Los_Angeles", "Europe/Paris", "Asia/Kolkata"):
            both = live_usage(lake, 1000, 1000, zone, now)
            alone = (v2_usage(lake, 1000, now), v1_usage(lake, 1000, zone, now))
            assert [(u.used, u.window_start) for u in both] == [
                (u.used, u.window_start) for u in alone
            ]


@pytest.mark.parametrize("seed", range(3))
def test_table_from_rollups_and_sketches_matches_raw_events(lake, seed):
    """Calls, credits and errors per combination equal the raw counts exactly; p95 latency
    (from the sketches keyed to daily and hourly rollup rows, raw events elsewhere) is exactly
    the p95 of the raw events' own sketch, so within half a bucket of the exact p95."""
    from data.rollup import GAMMA, as_latency, p95_from_sketch

    build(lake, seed)
    for day in lake.days()[:-1]:
        lake.compact(day)  # every closed day: rollup and sketch
    lake.refresh_window(NOW)
    clock.set_now(NOW)
    assert uses_window(lake, NOW - timedelta(days=3), NOW)
    keys = list(queries.DIMENSIONS)
    for a, b in ranges(seed)[:3]:
        got = stats.table(a, b, "all", "module", None)
        raw = (
            lake.scan(a, b, now=NOW)
            .collect()
            .with_columns(pl.col("application").fill_null(queries.NO_APPLICATION))
        )
        exact = raw.group_by(keys).agg(
            pl.len().alias("calls"),
            pl.col("credits").sum(),
            (pl.col("status") >= 400).sum().cast(pl.Int64).alias("errors"),
            pl.col("latency_ms").sort().alias("latencies"),
        )
        sketched = p95_from_sketch(as_latency(raw.lazy()), keys).collect()
        exact = exact.join(sketched, on=keys, how="left", nulls_equal=True)
        joined = got.join(exact, on=keys, how="full", suffix="_raw", nulls_equal=True)
        assert joined.height == got.height == exact.height
        for row in joined.iter_rows(named=True):
            assert (row["calls"], row["credits"], row["errors"], row["p95_ms"]) == (
                row["calls_raw"],
                row["credits_raw"],
                row["errors_raw"],
                row["p95_ms_raw"],
            )
            values = row["latencies"]
            nearest = values[-(-95 * len(values) // 100) - 1]
            assert abs((1 + row["p95_ms"]) / (1 + nearest) - 1) <= (GAMMA - 1) / 2 + 1e-9
