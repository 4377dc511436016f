"""The lake on real files: appends, day folders, dedupe, crashes, concurrency, upkeep.

No mocks: every test writes Parquet files under its own temporary folder. Tests that need
another process run a small Python child (:data:`CHILD`) that imports this module's
:func:`make_batch`, so the parent knows exactly which ids every batch holds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from conftest import ROOT, stored_frame
from data.lake import Lake, day_folder
from data.schema import STORAGE_SCHEMA
from data.storage import TEMP_PREFIX
from factory import call

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAY = NOW.date()
BASE = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # every generated batch lies on DAY
BASE_MS = int(BASE.timestamp() * 1000)

#: A child process: ``write ROOT PREFIX BATCHES SIZE SHARED NULLS`` appends batches (forever
#: when BATCHES is 0) and prints ``ack B ACCEPTED DUPLICATES`` once each append returned;
#: ``read ROOT SECONDS`` prints ``ready`` then ``COUNT UNIQUE`` for every scan of DAY.
CHILD = r"""
import sys, time
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
from test_lake import NOW, make_batch, read_counts
from data.lake import Lake
mode, root = sys.argv[2], sys.argv[3]
lake = Lake(root)
if mode == "write":
    prefix, batches, size, shared, nulls = sys.argv[4], *map(int, sys.argv[5:9])
    b = 0
    while batches == 0 or b < batches:
        result = lake.append(make_batch(prefix, b, size, shared, nulls))
        print(f"ack {b} {result.accepted} {result.duplicates}", flush=True)
        b += 1
else:
    until = time.monotonic() + float(sys.argv[4])
    print("ready", flush=True)
    while time.monotonic() < until:
        count, unique = read_counts(lake)
        print(count, unique, flush=True)
"""


def make_batch(prefix: str, b: int, size: int, shared: int = 0, nulls: int = 0) -> pl.DataFrame:
    """Batch ``b`` of writer ``prefix``, in storage form, every row on :data:`DAY`.

    ``size`` rows with ids ``{prefix}-{b}-{i}``; ``shared`` rows with ids ``shared-{b}-{i}``
    and the same ``ts`` whoever sends them; ``nulls`` rows without an id.
    """
    own = pl.select(i=pl.int_range(size, dtype=pl.Int64)).select(
        ts=pl.col("i") + BASE_MS + b * size,
        id=pl.concat_str(pl.lit(f"{prefix}-{b}-"), pl.col("i").cast(pl.String)),
    )
    common = pl.select(i=pl.int_range(shared, dtype=pl.Int64)).select(
        ts=pl.col("i") + BASE_MS - 3_600_000 + b * shared,
        id=pl.concat_str(pl.lit(f"shared-{b}-"), pl.col("i").cast(pl.String)),
    )
    anonymous = pl.select(i=pl.int_range(nulls, dtype=pl.Int64)).select(
        ts=pl.col("i") + BASE_MS + 7_200_000, id=pl.lit(None, dtype=pl.String)
    )
    rows = pl.concat([own, common, anonymous])
    return rows.select(
        pl.col("ts").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
        api_version=pl.lit("v2"),
        application=pl.lit("Bench App"),
        module=pl.lit("Leads"),
        method=pl.lit("GET"),
        user=pl.lit("ana@example.com"),
        ip=pl.lit("192.0.2.10"),
        status=pl.lit(200),
        latency_ms=pl.lit(12.5),
        credits=pl.lit(1),
        id=pl.col("id"),
    ).cast(STORAGE_SCHEMA)


def batch_ids(prefix: str, b: int, size: int) -> set[str]:
    return {f"{prefix}-{b}-{i}" for i in range(size)}


def read_counts(lake: Lake) -> tuple[int, int]:
    """Rows of DAY and distinct rows among them (an id once, each row without id once)."""
    frame = lake.collect(
        lambda: lake.scan(BASE - timedelta(hours=6), NOW, now=NOW).select(
            n=pl.len(), u=pl.col("id").drop_nulls().n_unique() + pl.col("id").null_count()
        )
    )
    return int(frame["n"][0]), int(frame["u"][0])


def stored(lake: Lake, day: date = DAY) -> pl.DataFrame:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return lake.collect(lambda: lake.scan(start, start + timedelta(days=1), now=NOW))


def child(mode: str, root: Path, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ROOT), mode, str(root), *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def acks(output: str) -> list[tuple[int, int, int]]:
    """``(batch, accepted, duplicates)`` of every complete ``ack`` line."""
    out = []
    for line in output.splitlines(keepends=True):
        parts = line.split()
        if line.endswith("\n") and len(parts) == 4 and parts[0] == "ack":
            out.append((int(parts[1]), int(parts[2]), int(parts[3])))
    return out


# -- append, folders, dedupe --------------------------------------------------------------


def test_append_then_scan_returns_the_rows(lake: Lake) -> None:
    rows = [call(NOW - timedelta(minutes=m), id=f"e{m}", credits=m) for m in range(1, 6)]
    result = lake.append(stored_frame(rows))
    assert (result.accepted, result.duplicates) == (5, 0)
    got = stored(lake).sort("ts")
    assert dict(got.schema) == STORAGE_SCHEMA
    assert got.height == 5
    assert got["id"].to_list() == [f"e{m}" for m in range(5, 0, -1)]
    assert got["credits"].sum() == 15
    assert got["ts"].to_list() == sorted(r["ts"] for r in rows)


def test_files_land_in_utc_day_folders(lake: Lake) -> None:
    late = datetime(2026, 11, 24, 23, 59, 59, 999_000, tzinfo=UTC)
    early = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    lake.append(stored_frame([call(late, id="a"), call(early, id="b"), call(NOW, id="c")]))
    root = lake.store.root
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == [
        "date=2026-11-24",
        "date=2026-11-25",
    ]
    assert lake.days() == [date(2026, 11, 24), date(2026, 11, 25)]
    first = pl.read_parquet(root / "date=2026-11-24" / lake.live_files(date(2026, 11, 24))[0])
    second = pl.read_parquet([str(root / "date=2026-11-25" / n) for n in lake.live_files(DAY)])
    assert first["id"].to_list() == ["a"]
    assert sorted(second["id"].to_list()) == ["b", "c"]
    for name in lake.live_files(DAY):
        assert name.startswith("part-") and name.endswith(".parquet")


def test_duplicates_by_id_are_stored_once(lake: Lake) -> None:
    t = NOW - timedelta(minutes=5)
    first = lake.append(stored_frame([call(t, id="x"), call(t, id="y"), call(t, id="x")]))
    assert (first.accepted, first.duplicates) == (2, 1)  # within one batch
    second = lake.append(stored_frame([call(t, id="y"), call(t, id="z")]))
    assert (second.accepted, second.duplicates) == (1, 1)  # across batches
    again = lake.append(stored_frame([call(t, id="x"), call(t, id="z")]))
    assert (again.accepted, again.duplicates) == (0, 2)
    assert sorted(stored(lake)["id"].to_list()) == ["x", "y", "z"]
    # A fresh Lake (another worker process) finds the stored ids on disk.
    other = Lake(lake.store.root, retention_days=lake.retention_days)
    assert other.append(stored_frame([call(t, id="z"), call(t, id="w")])).accepted == 1
    assert stored(lake).height == 4


def test_events_without_id_are_never_deduplicated(lake: Lake) -> None:
    t = NOW - timedelta(minutes=5)
    same = [call(t), call(t), call(t)]
    assert lake.append(stored_frame(same)).accepted == 3
    assert lake.append(stored_frame(same)).accepted == 3
    got = stored(lake)
    assert got.height == 6
    assert got["id"].null_count() == 6


# -- crashes --------------------------------------------------------------------------------


def _check_after_crash(lake: Lake, acked: list[tuple[int, int, int]], prefix: str, size: int):
    folder = lake.store.root / day_folder(DAY)
    for entry in folder.iterdir():
        if entry.name.startswith("."):
            assert entry.name.startswith(TEMP_PREFIX), entry.name
        else:
            pl.read_parquet(entry)  # every visible file is whole, valid Parquet
    got = stored(lake)
    ids = got["id"]
    assert ids.n_unique() == got.height
    present = set(ids.to_list())
    batches = {int(i.split("-")[1]) for i in present if i.startswith(f"{prefix}-")}
    for b in batches:  # all or nothing, acknowledged or not
        assert batch_ids(prefix, b, size) <= present, f"batch {b} is partial"
    for b, accepted, _ in acked:
        assert accepted == size
        assert b in batches, f"acknowledged batch {b} was lost"


def test_writer_killed_mid_write_leaves_no_partial_file(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    size = 120_000
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    lake = Lake(root)
    folder = root / day_folder(DAY)

    def temps() -> int:
        return sum(n.startswith(TEMP_PREFIX) for n in os.listdir(folder)) if folder.is_dir() else 0

    # Kill while a staged file exists (again if the rename won the race), then at random.
    modes = ["while-a-temp-file-exists"] * 3 + ["at-a-random-moment"]
    for round_, mode in enumerate(modes):
        if mode != "at-a-random-moment" and temps():
            continue
        prefix = f"k{round_}"
        proc = child("write", root, prefix, 0, size, 0, 0)
        assert proc.stdout is not None
        first = proc.stdout.readline()  # at least one acknowledged append
        assert first.startswith("ack 0 "), first
        if mode == "while-a-temp-file-exists":
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if temps():
                    break
            else:
                pytest.fail("the writer never staged a file")
        else:
            time.sleep(rng.uniform(0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        _check_after_crash(lake, acks(first + rest), prefix, size)
    left = temps()
    assert left >= 1, f"no write was interrupted (seed {seed})"
    # The dead writer's lock is gone: a new append goes through and sees every stored id.
    assert lake.append(make_batch("k0", 0, 10)).duplicates == 10
    assert lake.append(make_batch("after", 0, 10)).accepted == 10
    # Its leftovers are hidden from readers, and swept once stale.
    before = stored(lake).height
    assert lake.sweep(datetime.now(UTC) + timedelta(hours=2)) == left
    assert not [n for n in os.listdir(folder) if n.startswith(".")]
    assert stored(lake).height == before


def test_sweep_removes_only_stale_temporary_files(lake: Lake) -> None:
    lake.append(stored_frame([call(NOW, id="a")]))
    folder = lake.store.root / day_folder(DAY)
    stale = folder / f"{TEMP_PREFIX}dead-part-000000000009-00000000.parquet"
    fresh = folder / f"{TEMP_PREFIX}busy-part-000000000010-00000000.parquet"
    stale.write_bytes(b"PAR1 half a file")
    fresh.write_bytes(b"PAR1 being written")
    hour_ago = NOW.timestamp() - 3 * 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(fresh, (NOW.timestamp() - 60, NOW.timestamp() - 60))
    assert lake.live_files(DAY) == [n for n in os.listdir(folder) if n.startswith("part-")]
    assert stored(lake).height == 1
    assert lake.sweep(NOW) == 1
    assert not stale.exists() and fresh.exists()
    assert stored(lake).height == 1


# -- concurrency ----------------------------------------------------------------------------


def test_several_processes_ingest_the_same_day_at_once(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    writers, batches, size, shared, nulls = 3, 12, 1_000, 200, 10
    procs = [child("write", root, f"w{w}", batches, size, shared, nulls) for w in range(writers)]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    results = [acks(o) for o in outputs]
    assert all(len(r) == batches for r in results)
    got = stored(Lake(root))
    total = writers * batches * (size + nulls) + batches * shared
    assert got.height == total
    ids = got["id"].drop_nulls()
    assert ids.len() == ids.n_unique()  # each id once
    expected = {f"shared-{b}-{i}" for b in range(batches) for i in range(shared)}
    for w in range(writers):
        for b in range(batches):
            expected |= batch_ids(f"w{w}", b, size)
    assert set(ids.to_list()) == expected
    assert got["id"].null_count() == writers * batches * nulls
    assert sum(a for r in results for _, a, _ in r) == total
    assert sum(d for r in results for _, _, d in r) == (writers - 1) * batches * shared


def test_threads_of_one_process_ingest_at_once(lake: Lake) -> None:
    errors: list[BaseException] = []

    def work(w: int) -> None:
        try:
            for b in range(8):
                lake.append(make_batch(f"t{w}", b, 300, shared=50))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = stored(lake)
    assert got.height == 4 * 8 * 300 + 8 * 50
    assert got["id"].n_unique() == got.height


# -- compaction -----------------------------------------------------------------------------


def _fill(lake: Lake, parts: int, size: int, prefix: str = "p") -> set[str]:
    ids: set[str] = set()
    for b in range(parts):
        lake.append(make_batch(prefix, b, size, nulls=2))
        ids |= batch_ids(prefix, b, size)
    return ids


def test_compaction_keeps_every_row_exactly_once(lake: Lake) -> None:
    ids = _fill(lake, 12, 100)
    before = stored(lake)
    assert len(lake.live_files(DAY)) == 12
    assert lake.compact(DAY, grace_s=0) == 12
    files = sorted(os.listdir(lake.store.root / day_folder(DAY)))
    assert files == [
        "compact-000000000011.parquet",
        "daily-000000000011.parquet",
        "daily-latency-000000000011.parquet",
        "hourly-latency-000000000011.parquet",
        "minute-000000000011.parquet",
        "quarter-000000000011.parquet",
        "ranked-000000000011.parquet",
        "rollup-000000000011.parquet",
    ]
    after = stored(lake)
    assert after.height == before.height == 12 * 102
    assert set(after["id"].drop_nulls().to_list()) == ids
    assert after["id"].null_count() == 12 * 2
    assert after.sort("ts", "id").equals(before.sort("ts", "id"))
    assert lake.compact(DAY) == 0  # one file and its rollup: nothing to do
    # Dedupe still holds after compaction, also for a process that never saw the parts.
    fresh = Lake(lake.store.root)
    assert fresh.append(make_batch("p", 3, 100)).duplicates == 100
    # New parts come after the compacted file and are merged by the next compaction.
    lake.append(make_batch("q", 0, 50))
    assert lake.live_files(DAY) == [
        "compact-000000000011.parquet",
        *[n for n in lake.live_files(DAY) if n.startswith("part-000000000012-")],
    ]
    assert lake.compact(DAY) == 2
    assert lake.live_files(DAY) == ["compact-000000000012.parquet"]
    assert stored(lake).height == 12 * 102 + 50


def test_a_reader_whose_files_were_compacted_away_retries(lake: Lake) -> None:
    _fill(lake, 5, 100)
    builds = 0

    def build() -> pl.LazyFrame:
        nonlocal builds
        builds += 1
        frame = lake.scan(BASE - timedelta(hours=6), NOW, now=NOW)
        if builds == 1:
            lake.compact(DAY, grace_s=0)  # the listed files disappear before they are read
        return frame.select(pl.len())

    assert lake.collect(build).item() == 5 * 102
    assert builds == 2


class _Readers:
    """Threads that scan DAY over and over, recording ``(count, unique ids)``."""

    def __init__(self, lake: Lake, n: int = 2) -> None:
        self.lake = lake
        self.stop = threading.Event()
        self.seen: list[tuple[int, int]] = []
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._run) for _ in range(n)]

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                self.seen.append(read_counts(self.lake))
        except BaseException as exc:
            self.errors.append(exc)

    def __enter__(self) -> _Readers:
        for t in self.threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(self.seen) < 2 and not self.errors and time.monotonic() < deadline:
            time.sleep(0.002)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def test_compaction_with_concurrent_readers_in_threads_and_a_process(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    expected = 0
    for round_ in range(3):
        _fill(lake, 25, 200, prefix=f"r{round_}")
        expected += 25 * 202
        reader = child("read", lake.store.root, 0.6)
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "ready"
        with _Readers(lake) as readers:
            time.sleep(0.05)
            assert lake.compact(DAY) >= 25
            time.sleep(0.05)
        out, _ = reader.communicate(timeout=30)
        assert reader.returncode == 0
        assert not readers.errors, readers.errors
        seen = readers.seen + [tuple(map(int, line.split())) for line in out.splitlines()]
        assert len(seen) > 5
        for count, unique in seen:
            assert count == unique == expected, "a reader saw a partial or doubled day"
        assert len(lake.live_files(DAY)) == 1


def test_compaction_with_a_concurrent_writer_and_readers(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    lake = Lake(root)
    batches, size = 80, 200
    writer = child("write", root, "cw", batches, size, 0, 0)
    compactions = 0
    with _Readers(lake, 4) as readers:
        while writer.poll() is None:
            compactions += 1 if lake.compact(DAY) else 0  # as often as it can
    out, _ = writer.communicate()
    assert writer.returncode == 0
    assert not readers.errors, readers.errors
    acked = acks(out)
    assert len(acked) == batches
    lake.compact(DAY)
    assert len(lake.live_files(DAY)) == 1
    got = stored(lake)
    assert got.height == sum(a for _, a, _ in acked) == batches * size
    want = set().union(*(batch_ids("cw", b, size) for b in range(batches)))
    assert set(got["id"].to_list()) == want
    assert compactions >= 2
    for count, unique in readers.seen:
        assert count == unique, "a reader saw a row twice"
        assert count % size == 0, "a reader saw part of a batch"
        assert count <= batches * size


# -- retention ------------------------------------------------------------------------------


def test_prune_deletes_days_wholly_older_than_the_retention_window(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake", retention_days=3)
    cutoff = NOW - timedelta(days=3)  # 2026-11-22 12:00
    times = {
        "old": datetime(2026, 11, 20, 12, tzinfo=UTC),
        "day-before-cutoff": datetime(2026, 11, 21, 23, 59, tzinfo=UTC),
        "cutoff-day-early": cutoff - timedelta(hours=1),
        "cutoff-exact": cutoff,
        "cutoff-day-late": cutoff + timedelta(hours=1),
        "recent": NOW - timedelta(minutes=1),
    }
    lake.append(stored_frame([call(ts, id=name) for name, ts in times.items()]))

    def visible() -> set[str]:
        frame = lake.collect(lambda: lake.scan(NOW - timedelta(days=30), NOW, now=NOW))
        return set(frame["id"].to_list())

    # Before any prune, the scan already hides everything older than now - retention.
    assert visible() == {"cutoff-exact", "cutoff-day-late", "recent"}
    assert stored(lake, date(2026, 11, 20)).is_empty()
    assert lake.prune(NOW) == [date(2026, 11, 20), date(2026, 11, 21)]
    assert lake.days() == [date(2026, 11, 22), date(2026, 11, 25)]
    names = os.listdir(lake.store.root)
    assert not [n for n in names if n.startswith(".trash")]
    assert visible() == {"cutoff-exact", "cutoff-day-late", "recent"}
    assert lake.prune(NOW) == []
    # The cutoff day is kept whole on disk until it is wholly outside the window.
    assert lake.prune(NOW + timedelta(days=1)) == [date(2026, 11, 22)]


def test_sweep_finishes_a_prune_that_crashed_after_hiding_the_day(tmp_path):
    """A prune killed between renaming a day out of sight and deleting it leaves a hidden
    ``.trash-`` folder: readers never list it, and the next sweep removes it."""
    lake = Lake(tmp_path / "lake")
    hidden = tmp_path / "lake" / ".trash-0123-date=2026-01-01"
    hidden.mkdir(parents=True)
    (hidden / "part-000000000000-00000000.parquet").write_bytes(b"x")
    assert lake.days() == []
    assert lake.sweep() == 1
    assert not hidden.exists()


def test_compaction_keeps_replaced_files_for_readers_mid_query(lake: Lake) -> None:
    """A reader that listed the parts just before a compaction can still read them: the
    replaced files stay (unused by new readers) until the merged file is GRACE_S old."""
    _fill(lake, 3, 100)
    listed = [str(lake.store.path(day_folder(DAY), n)) for n in lake.live_files(DAY)]
    assert lake.compact(DAY) == 3
    assert lake.live_files(DAY) == ["compact-000000000002.parquet"]
    assert pl.read_parquet(listed).height == 3 * 102  # the old listing still reads
    assert stored(lake).height == 3 * 102  # and new readers count each row once
    lake.compact(DAY, grace_s=0)  # the next upkeep round, past the grace period
    assert (
        sorted(n for n in os.listdir(lake.store.root / day_folder(DAY)) if n.startswith("part-"))
        == []
    )


def test_a_sketch_an_older_version_wrote_is_replaced_at_the_next_compaction(lake: Lake) -> None:
    """Summaries of a kind no longer written (the string-keyed ``latency-N``) do not make a
    day final: compaction writes today's summaries and deletes the retired file."""
    _fill(lake, 2, 50)
    lake.compact(DAY, grace_s=0)
    folder = lake.store.root / day_folder(DAY)
    (folder / "latency-000000000001.parquet").write_bytes(b"old")
    (folder / "hourly-latency-000000000001.parquet").unlink()  # as the old version left it
    assert lake.compact(DAY, grace_s=0) == 1
    names = sorted(os.listdir(folder))
    assert "latency-000000000001.parquet" not in names
    assert "hourly-latency-000000000001.parquet" in names
    assert lake.compact(DAY, grace_s=0) == 0
