"""The event lake: day partitions of Parquet files, appends, compaction, retention, scans.

Layout under ``APIDASH_DATA_DIR``::

    date=2026-11-25/part-000000000007-1f2e3d4c.parquet   one accepted batch (sequence 7)
    date=2026-11-25/compact-000000000006.parquet         every batch up to sequence 6

Which files a reader uses follows from their names alone: the newest ``compact-N`` file plus
every ``part-M`` with ``M > N``. Compaction publishes ``compact-N`` with one atomic rename, so
at every instant a reader sees each row exactly once; the files it replaced are deleted after.
A reader that listed a file just before it was deleted re-lists and tries again
(:meth:`Lake.collect`).

Appends hold a per-day lock shared by every process, so several gunicorn workers can ingest
at once; duplicates by ``id`` are found under that lock (an ``id`` is unique within the UTC
day of its ``ts``: a re-sent event has the same ``ts``).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from data import clock
from data.rollup import (
    LATENCY_SCHEMA,
    USAGE_SCHEMA,
    as_latency,
    as_usage,
    daily_rollup,
    latency_rollup,
    rollup,
)
from data.schema import STORAGE_SCHEMA
from data.storage import LocalStore, Staged

_PART = re.compile(r"^part-(\d{12})-[0-9a-f]{8}\.parquet$")
_COMPACT = re.compile(r"^compact-(\d{12})\.parquet$")
#: What compaction writes beside compact-N, each as <kind>-N.parquet, and how.
SUMMARIES: dict[str, Callable[[pl.LazyFrame], pl.LazyFrame]] = {
    "rollup": rollup,  # usage rows per hour
    "daily": daily_rollup,  # usage rows per day
    "latency": latency_rollup,  # the day's latency sketch
}
_SUMMARY = re.compile(r"^(" + "|".join(SUMMARIES) + r")-(\d{12})\.parquet$")
_DAY = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_RETRIES = 10
GRACE_S = 120.0  # replaced files outlive a compaction this long, for readers mid-query


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


def day_folder(day: date) -> str:
    return f"date={day.isoformat()}"


@dataclass(frozen=True)
class AppendResult:
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class DayFiles:
    """The files of one day that readers use, and the highest sequence number there."""

    live: list[str]
    superseded: list[str]
    last_seq: int
    summaries: dict[str, str] = field(default_factory=dict)  # kind -> file, for compact-N

    @property
    def rollup(self) -> str | None:
        return self.summaries.get("rollup")

    @property
    def daily(self) -> str | None:
        return self.summaries.get("daily")

    @property
    def latency(self) -> str | None:
        return self.summaries.get("latency")

    @property
    def final(self) -> bool:
        """Nothing left for compaction: one compact file and all its summaries."""
        return (
            len(self.live) == 1
            and self.live[0].startswith("compact-")
            and self.summaries.keys() == SUMMARIES.keys()
        )


def _day_files(names: list[str]) -> DayFiles:
    compacts = sorted((int(m.group(1)), n) for n in names if (m := _COMPACT.match(n)))
    parts = sorted((int(m.group(1)), n) for n in names if (m := _PART.match(n)))
    summaries = [(m.group(1), int(m.group(2)), n) for n in names if (m := _SUMMARY.match(n))]
    upto = compacts[-1][0] if compacts else -1
    live = ([compacts[-1][1]] if compacts else []) + [n for s, n in parts if s > upto]
    superseded = (
        [n for _, n in compacts[:-1]]
        + [n for s, n in parts if s <= upto]
        + [n for _, s, n in summaries if s < upto]
    )
    # A rollup counts only with the compact file it was made from: published first, it stays
    # unused until its compact file is renamed into place, so readers switch in one step.
    current = {kind: n for kind, s, n in summaries if s == upto}
    last = max([upto] + [s for s, _ in parts])
    return DayFiles(live, superseded, last, summaries=current)


@dataclass(frozen=True)
class _Span:
    """The part ``[begin, stop)`` of one day folder that a read covers."""

    folder: str
    files: DayFiles
    begin: datetime
    stop: datetime
    whole_day: bool


@dataclass
class _DayIds:
    files: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)


def _first_unseen(ids: list[str | None], known: set[str]) -> pl.Series:
    """Mask of rows to store: no id, or an id neither stored nor seen earlier in the batch."""
    seen: set[str] = set()
    keep = []
    for value in ids:
        if value is None:
            keep.append(True)
        elif value in known or value in seen:
            keep.append(False)
        else:
            seen.add(value)
            keep.append(True)
    return pl.Series(keep, dtype=pl.Boolean)


def _write_parquet(frame: pl.DataFrame) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        frame.write_parquet(path, compression="zstd", statistics=True, row_group_size=256_000)

    return write


class Lake:
    """Day-partitioned Parquet events under one folder."""

    def __init__(self, root: Path | str, retention_days: int = 30) -> None:
        self.store = LocalStore(Path(root))
        self.retention_days = retention_days
        self._ids: dict[date, _DayIds] = {}
        self._ids_lock = threading.Lock()

    # -- reading -------------------------------------------------------------------------

    def days(self) -> list[date]:
        """Every day that has a partition, oldest first."""
        return [
            date.fromisoformat(m.group(1)) for d in self.store.list_dirs() if (m := _DAY.match(d))
        ]

    def is_empty(self) -> bool:
        return not any(self.live_files(day) for day in self.days())

    def live_files(self, day: date) -> list[str]:
        return _day_files(self.store.list_files(day_folder(day))).live

    def cutoff(self, now: datetime) -> datetime:
        """The oldest time any view may show: now minus the retention window."""
        return now - timedelta(days=self.retention_days)

    def files(self, start: datetime, end: datetime) -> list[str]:
        """Paths of the live files of the UTC days that overlap ``[start, end)``."""
        first, last = (
            start.astimezone(UTC).date(),
            (end - timedelta(microseconds=1)).astimezone(UTC).date(),
        )
        return [
            str(self.store.path(day_folder(day), name))
            for day in self.days()
            if first <= day <= last
            for name in self.live_files(day)
        ]

    def scan(self, start: datetime, end: datetime, now: datetime | None = None) -> pl.LazyFrame:
        """Events with ``start <= ts < end``, never older than the retention window."""
        now = now or clock.now()
        start = max(start, self.cutoff(now))
        paths = self.files(start, end)
        if not paths or start >= end:
            return pl.LazyFrame(schema=STORAGE_SCHEMA)
        return pl.scan_parquet(paths, schema=STORAGE_SCHEMA).filter(
            pl.col("ts").is_between(pl.lit(start), pl.lit(end), closed="left")
        )

    def _spans(self, start: datetime, end: datetime) -> Iterator[_Span]:
        """Each day overlapping ``[start, end)``, with its files and the part of it inside."""
        for day in self.days():
            day_start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            begin, stop = max(start, day_start), min(end, day_start + timedelta(days=1))
            if begin < stop:
                folder = day_folder(day)
                files = _day_files(self.store.list_files(folder))
                yield _Span(folder, files, begin, stop, stop - begin == timedelta(days=1))

    def _scan(self, folder: str, name: str, schema: dict[str, pl.DataType]) -> pl.LazyFrame:
        return pl.scan_parquet(str(self.store.path(folder, name)), schema=schema)

    def _events_in(self, folder: str, name: str, a: datetime, b: datetime) -> pl.LazyFrame:
        return self._scan(folder, name, STORAGE_SCHEMA).filter(
            pl.col("ts").is_between(pl.lit(a), pl.lit(b), closed="left")
        )

    def usage(
        self, start: datetime, end: datetime, now: datetime | None = None, *, daily: bool = False
    ) -> pl.LazyFrame:
        """Usage rows (see :mod:`data.rollup`) for ``[start, end)``: from each day's rollup
        for the whole hours it covers, from raw events for the rest. Sums equal the raw
        events' sums exactly. With ``daily``, a whole rolled-up day is read from its daily
        rollup (``ts`` is then the day's start: for questions that ignore the time of day)."""
        start = max(start, self.cutoff(now or clock.now()))
        pieces: list[pl.LazyFrame] = []
        for span in self._spans(start, end):
            files, folder, begin, stop = span.files, span.folder, span.begin, span.stop
            raw = [(n, begin, stop) for n in files.live]
            if daily and span.whole_day and files.daily:
                pieces.append(self._scan(folder, files.daily, USAGE_SCHEMA))
                raw = raw[1:]  # the compact file is in the rollup; newer parts are not
            elif files.rollup:
                hour_a = _ceil_hour(begin)
                hour_b = max(_floor_hour(stop), hour_a)
                if hour_a < hour_b:
                    hours = pl.col("ts").is_between(pl.lit(hour_a), pl.lit(hour_b), closed="left")
                    pieces.append(self._scan(folder, files.rollup, USAGE_SCHEMA).filter(hours))
                    compact = files.live[0]
                    raw = raw[1:] + [(compact, begin, hour_a), (compact, hour_b, stop)]
            pieces += [self._events_in(folder, n, a, b).pipe(as_usage) for n, a, b in raw if a < b]
        if not pieces:
            return pl.LazyFrame(schema=USAGE_SCHEMA)
        return pl.concat(pieces, how="vertical")

    def latency(self, start: datetime, end: datetime, now: datetime | None = None) -> pl.LazyFrame:
        """Latency-sketch rows (see :mod:`data.rollup`) for ``[start, end)``: from each whole
        day's sketch where one is written, from raw events elsewhere."""
        start = max(start, self.cutoff(now or clock.now()))
        pieces: list[pl.LazyFrame] = []
        for span in self._spans(start, end):
            raw = span.files.live
            if span.whole_day and span.files.latency:
                pieces.append(self._scan(span.folder, span.files.latency, LATENCY_SCHEMA))
                raw = raw[1:]
            pieces += [
                self._events_in(span.folder, n, span.begin, span.stop).pipe(as_latency) for n in raw
            ]
        if not pieces:
            return pl.LazyFrame(schema=LATENCY_SCHEMA)
        return pl.concat(pieces, how="vertical")

    def collect(self, build: Callable[[], pl.LazyFrame]) -> pl.DataFrame:
        """Collect ``build()``; re-list and retry if compaction or pruning removed a file."""
        return self.collect_all(lambda: [build()])[0]

    def collect_all(self, build: Callable[[], list[pl.LazyFrame]]) -> list[pl.DataFrame]:
        """Collect several queries in one pass (shared scans), retrying like :meth:`collect`."""
        for attempt in range(_RETRIES):
            try:
                return pl.collect_all(build())
            except (FileNotFoundError, pl.exceptions.ComputeError) as exc:
                missing = isinstance(exc, FileNotFoundError) or "No such file" in str(exc)
                if not missing or attempt == _RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    # -- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _day_locks(self, days: list[date]) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for day in sorted(days):  # one global order: no deadlock between writers
                stack.enter_context(self.store.lock(day_folder(day)))
            yield

    def _known_ids(self, day: date, names: list[str]) -> set[str]:
        """Ids already stored on ``day``; reads only files this process has not seen yet."""
        with self._ids_lock:
            entry = self._ids.setdefault(day, _DayIds())
            new = [n for n in names if n not in entry.files]
        for name in new:
            path = self.store.path(day_folder(day), name)
            with contextlib.suppress(FileNotFoundError):
                ids = pl.read_parquet(path, columns=["id"]).get_column("id").drop_nulls()
                with self._ids_lock:
                    entry.ids.update(ids.to_list())
            with self._ids_lock:
                entry.files.add(name)
        return entry.ids

    def append(self, events: pl.DataFrame) -> AppendResult:
        """Store validated events; duplicates by ``id`` (stored or in the batch) are skipped.

        Returns once every file is fsynced and renamed into place.
        """
        if events.is_empty():
            return AppendResult(0, 0)
        events = events.select(STORAGE_SCHEMA.keys()).cast(STORAGE_SCHEMA)
        events = events.with_columns(pl.col("ts").dt.date().alias("_day"))
        groups = events.partition_by("_day", as_dict=True, include_key=False, maintain_order=True)
        by_day = {key[0]: frame for key, frame in groups.items()}
        accepted = duplicates = 0
        with self._day_locks(list(by_day)):
            staged: list[tuple[date, Staged, pl.DataFrame]] = []
            try:
                for day, frame in by_day.items():
                    folder = day_folder(day)
                    names = self.store.list_files(folder)
                    known = self._known_ids(day, _day_files(names).live)
                    keep = _first_unseen(frame.get_column("id").to_list(), known)
                    fresh = frame.filter(keep).sort("ts")
                    duplicates += frame.height - fresh.height
                    if fresh.is_empty():
                        continue
                    seq = _day_files(names).last_seq + 1
                    name = f"part-{seq:012d}-{uuid.uuid4().hex[:8]}.parquet"
                    staged.append(
                        (
                            day,
                            self.store.stage(folder, name, _write_parquet(fresh)),
                            fresh,
                        )
                    )
            except BaseException:
                for _, item, _ in staged:
                    item.discard()
                raise
            for day, item, fresh in staged:
                item.publish()
                accepted += fresh.height
                ids = fresh.get_column("id").drop_nulls()
                with self._ids_lock:
                    entry = self._ids.setdefault(day, _DayIds())
                    entry.files.add(item.final.name)
                    entry.ids.update(ids.to_list())
        return AppendResult(accepted=accepted, duplicates=duplicates)

    # -- maintenance ---------------------------------------------------------------------

    def compact(self, day: date, *, grace_s: float = GRACE_S) -> int:
        """Merge a day's files into one and write its summaries; returns how many files it
        replaced (0: the day was already in final form).

        The summaries are published first (unused until their compact file exists), then the
        merged file with one rename: readers use either the old files or the merged one with
        its summaries, never both. The files it replaces are deleted only once the merged
        file is ``grace_s`` old, so a reader that listed them just before can still read them.
        """
        folder = day_folder(day)
        with self.store.lock(folder):
            files = _day_files(self.store.list_files(folder))
            self._drop_superseded(folder, files, grace_s)
            if files.final or not files.live:
                return 0
            paths = [str(self.store.path(folder, n)) for n in files.live]
            merged = pl.read_parquet(paths, schema=STORAGE_SCHEMA).sort("ts")
            seq = files.last_seq
            name = f"compact-{seq:012d}.parquet"
            for prefix, make in SUMMARIES.items():
                summary = make(merged.lazy()).collect()
                staged = self.store.stage(
                    folder, f"{prefix}-{seq:012d}.parquet", _write_parquet(summary)
                )
                staged.publish()
            if files.live != [name]:
                self.store.stage(folder, name, _write_parquet(merged)).publish()
            if grace_s <= 0:
                self._drop_superseded(folder, _day_files(self.store.list_files(folder)), 0)
            return len(files.live)

    def _drop_superseded(self, folder: str, files: DayFiles, grace_s: float) -> None:
        """Delete the files a compaction replaced, once its merged file is ``grace_s`` old."""
        if not files.superseded or not files.live:
            return
        try:
            age = time.time() - self.store.path(folder, files.live[0]).stat().st_mtime
        except FileNotFoundError:
            return
        if age >= grace_s:
            for name in files.superseded:
                self.store.delete(folder, name)

    def compact_all(self) -> int:
        """Compact every day not in final form; returns the number of days compacted."""
        return sum(1 for day in self.days() if self.compact(day))

    def prune(self, now: datetime | None = None) -> list[date]:
        """Delete the days that lie wholly before the retention window; returns them."""
        now = now or datetime.now(UTC)
        oldest_kept = self.cutoff(now).date()
        removed = []
        for day in self.days():
            if day < oldest_kept:
                with self.store.lock(day_folder(day)):
                    self.store.delete_dir(day_folder(day))
                with self._ids_lock:
                    self._ids.pop(day, None)
                removed.append(day)
        return removed

    def sweep(self, now: datetime | None = None, older_than_s: float = 3600) -> int:
        """Remove temporary files a crashed writer left behind (older than an hour)."""
        now_s = (now or datetime.now(UTC)).timestamp()
        return self.store.sweep_trash() + sum(
            self.store.sweep_temporaries(day_folder(d), older_than_s, now_s) for d in self.days()
        )
