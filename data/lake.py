"""The event lake: day partitions of Parquet files, appends, compaction, retention, scans.

Layout under ``APIDASH_DATA_DIR``::

    date=2026-11-25/part-000000000007-1f2e3d4c.parquet   one accepted batch (sequence 7)
    date=2026-11-25/compact-000000000006.parquet         every batch up to sequence 6
    date=2026-11-25/<kind>-000000000006.parquet          its summaries (data.rollup.summaries)
    window/window-000000000003.json                      the closed days summed (refresh_window)

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
import json
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
    DIMENSIONS,
    MINUTE_SCHEMA,
    RANKED_SCHEMA,
    SKETCH_SCHEMA,
    SUMMARY_KINDS,
    USAGE_SCHEMA,
    as_latency,
    as_minutes,
    as_ranked,
    as_usage,
    summaries,
)
from data.schema import STORAGE_SCHEMA
from data.storage import LocalStore, Staged

_PART = re.compile(r"^part-(\d{12})-[0-9a-f]{8}\.parquet$")
_COMPACT = re.compile(r"^compact-(\d{12})\.parquet$")
#: What compaction writes beside compact-N, each as <kind>-N.parquet (data.rollup.summaries).
_SUMMARY = re.compile(r"^(" + "|".join(SUMMARY_KINDS) + r")-(\d{12})\.parquet$")
#: Summaries an older version wrote (a sketch keyed by strings): replaced at the next compaction.
_RETIRED = re.compile(r"^latency-\d{12}\.parquet$")
_KEY_SHIFT = 32  # a usage row's key: its piece's number << 32 | its row in that piece
WINDOW = "window"  # the folder of the closed days' summary (Lake.refresh_window)
_WINDOW = re.compile(r"^window-(\d{12})\.json$")
ROW_GROUP = 65_536  # rows; small enough that reading a few minutes of a day skips the rest
#: A daily rollup's Parquet metadata: the first and last ``ts`` of the events it sums.
SPAN_KEYS = ("first_ts", "last_ts")
#: The most of a compact file past a range's end that is taken away from its daily rollup
#: (read raw, with negative measures) rather than reading the range from the hourly rollup.
MAX_TAIL = timedelta(hours=1)
WINDOW_MIN_DAYS = 3  # fewer closed days than this: per-day summaries are as cheap
_WINDOW_KINDS = {"daily", "daily-latency", "quarter", "ranked"}  # what a day adds to it
_DAY = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_RETRIES = 10
GRACE_S = 120.0  # replaced files outlive a compaction this long, for readers mid-query


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The summary that answers whole units of time in a range, by grain: (kind, unit).
GRAINS = {"hour": ("rollup", timedelta(hours=1)), "quarter": ("quarter", timedelta(minutes=15))}


HOUR = timedelta(hours=1)


def _keep(span: _Span) -> bool:
    """Whether a partial day that the window holds is cheaper read as the window's day less
    its hours outside the span (and the raw minutes between them and the span's ends) than
    taken away whole and added back by its hours inside: the fewer raw minutes wins."""
    if span.whole_day or "rollup" not in span.files.summaries:
        return False
    begin, stop = span.begin, span.stop
    inside = (_ceil(begin, HOUR) - begin) + (stop - _floor(stop, HOUR))
    outside = (begin - _floor(begin, HOUR)) + (_ceil(stop, HOUR) - stop)
    return outside < inside


def _units(begin: datetime, stop: datetime, unit: timedelta) -> tuple[datetime, datetime]:
    """The whole ``unit`` s inside ``[begin, stop)``, as ``[a, b)`` (empty: ``a == b``)."""
    a = _ceil(begin, unit)
    return a, max(_floor(stop, unit), a)


def _floor(moment: datetime, unit: timedelta) -> datetime:
    return moment - (moment - _EPOCH) % unit


def _ceil(moment: datetime, unit: timedelta) -> datetime:
    floor = _floor(moment, unit)
    return floor if floor == moment else floor + unit


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
    def final(self) -> bool:
        """Nothing left for compaction: one compact file and all its summaries."""
        return (
            len(self.live) == 1
            and self.live[0].startswith("compact-")
            and self.summaries.keys() == set(SUMMARY_KINDS)
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
        + [n for n in names if _RETIRED.match(n)]
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


@dataclass(frozen=True)
class _Piece:
    """One file's share of a read: a summary's rows, or raw events in ``[begin, stop)``.

    ``kind`` is ``"daily"`` (a whole day's summary), ``"rollup"`` (its whole hours in
    ``[begin, stop)``) or ``"raw"``; ``sketch`` is the latency sketch keyed to its rows.
    """

    folder: str
    name: str
    kind: str
    begin: datetime
    stop: datetime
    sketch: str | None = None
    sign: int = 1  # -1: a day taken away from the window's sums
    names: tuple[str, ...] = ()  # raw: every file read over [begin, stop) (name is the first)
    ranked: str | None = None  # daily or window: the same rows summed per dimension's value


@dataclass(frozen=True)
class _Window:
    """The closed days summed into one rollup (``rows``) with its keyed sketch (``sketch``);
    ``days`` names the daily rollup of each day it was made from (folder -> file); and those
    days' quarter-hour rows (``quarters``), not summed: time charts read one file, not 30."""

    rows: str
    sketch: str
    days: dict[str, str]
    quarters: str | None = None  # the days' quarter-hour rollups, one after the other
    ranked: str | None = None  # the days' ranked rows, summed


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


def _write_parquet(
    frame: pl.DataFrame, metadata: dict[str, str] | None = None
) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        frame.write_parquet(
            path,
            compression="zstd",
            statistics=True,
            row_group_size=ROW_GROUP,
            metadata=metadata,
        )

    return write


def _signed(rows: pl.LazyFrame, sign: int) -> pl.LazyFrame:
    """Usage rows as they are, or with their measures negated (rows taken away)."""
    return rows if sign == 1 else rows.with_columns(pl.col("calls", "credits", "errors") * sign)


class Lake:
    """Day-partitioned Parquet events under one folder."""

    def __init__(self, root: Path | str, retention_days: int = 30) -> None:
        self.store = LocalStore(Path(root))
        self.retention_days = retention_days
        self._ids: dict[date, _DayIds] = {}
        self._ids_lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._spans_of: dict[str, tuple[datetime, datetime] | None] = {}

    # -- reading -------------------------------------------------------------------------

    def days(self) -> list[date]:
        """Every day that has a partition, oldest first."""
        return [
            date.fromisoformat(m.group(1)) for d in self.store.list_dirs() if (m := _DAY.match(d))
        ]

    def is_empty(self) -> bool:
        return not any(self.live_files(day) for day in self.days())

    def day_files(self, day: date) -> DayFiles:
        """The files of ``day`` that readers use, its summaries, and whether it is final."""
        return _day_files(self.store.list_files(day_folder(day)))

    def live_files(self, day: date) -> list[str]:
        return self.day_files(day).live

    def is_final(self, day: date) -> bool:
        """Whether ``day`` is one compact file with all its summaries (nothing to compact)."""
        return self.day_files(day).final

    def newest_write(self, day: date, names: list[str]) -> float | None:
        """When the newest of ``day``'s files ``names`` was written (seconds since the epoch)."""
        times = []
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                times.append(self.store.path(day_folder(day), name).stat().st_mtime)
        return max(times) if times else None

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

    def _events_in(
        self, folder: str, names: str | tuple[str, ...], a: datetime, b: datetime
    ) -> pl.LazyFrame:
        """Raw events with ``a <= ts < b`` from one file or several (one scan: cheaper than a
        scan per file for the open day's small parts)."""
        names = (names,) if isinstance(names, str) else names
        paths = [str(self.store.path(folder, n)) for n in names]
        return pl.scan_parquet(paths, schema=STORAGE_SCHEMA).filter(
            pl.col("ts").is_between(pl.lit(a), pl.lit(b), closed="left")
        )

    def _pieces(
        self,
        start: datetime,
        end: datetime,
        now: datetime | None,
        daily: bool,
        timeless: bool = False,
        grain: str = "hour",
    ) -> Iterator[_Piece]:
        """The files that answer ``[start, end)`` (never older than the retention window):
        each day's rollup for the whole hours it covers (its daily rollup for a whole day,
        with ``daily``), raw events for the rest. With ``timeless`` (questions that ignore
        time altogether), the whole closed days come from the window instead of one file
        each, less the days it holds that are not asked for, when that reads fewer files.
        ``grain="quarter"`` reads whole quarter hours from the quarter-hour rollup (usage by
        version only: for time charts) instead of whole hours from the hourly one."""
        kind, unit = GRAINS[grain]
        start = max(start, self.cutoff(now or clock.now()))
        spans = list(self._spans(start, end))
        listed = {s.folder: s.files for s in spans}  # what the window's checks can reuse
        whole = {s.folder for s in spans if daily and s.whole_day and s.files.daily}
        window = self._window_for(whole, listed) if timeless else None
        kept: set[str] = set()  # partial days left in the window, their hours outside taken away
        if window is not None:
            yield _Piece(
                WINDOW, window.rows, "window", start, end, window.sketch, ranked=window.ranked
            )
            kept = {s.folder for s in spans if s.folder in window.days and _keep(s)}
            for folder, name in sorted(window.days.items()):
                if folder not in whole and folder not in kept:
                    taken = listed[folder].summaries
                    yield _Piece(
                        folder,
                        name,
                        "daily",
                        start,
                        end,
                        taken.get("daily-latency"),
                        sign=-1,
                        ranked=taken.get("ranked"),
                    )
        charted: set[str] = set()  # days whose quarter hours the window's file answers
        if grain == "quarter" and len(spans) >= WINDOW_MIN_DAYS:
            current = self._current(self._window(), listed)
            if current is not None and current.quarters:
                charted = {s.folder for s in spans if s.folder in current.days}
                a, b = _ceil(start, unit), _floor(end, unit)
                if charted and a < b:
                    yield _Piece(WINDOW, current.quarters, "rollup", a, b)
        for span in spans:
            files, folder, begin, stop = span.files, span.folder, span.begin, span.stop
            raw = [(n, begin, stop) for n in files.live]
            summary = files.summaries
            tail = None
            if folder in kept:
                day_start = _floor(begin, timedelta(days=1))
                day_end = day_start + timedelta(days=1)
                hour_a, hour_b = _floor(begin, HOUR), _ceil(stop, HOUR)
                sketch = summary.get("hourly-latency")
                for a, b in ((day_start, hour_a), (hour_b, day_end)):
                    if a < b:
                        yield _Piece(folder, summary["rollup"], "rollup", a, b, sketch, sign=-1)
                compact = files.live[0]
                for a, b in ((hour_a, begin), (stop, hour_b)):
                    if a < b:
                        yield _Piece(folder, compact, "raw", a, b, sign=-1, names=(compact,))
                raw = raw[1:]  # the compact file is in the window; newer parts are not
            elif folder in charted:
                hour_a, hour_b = _units(begin, stop, unit)
                compact = files.live[0]
                raw = raw[1:] + [(compact, begin, hour_a), (compact, hour_b, stop)]
            elif folder in whole or (daily and (tail := self._tail(folder, files, begin, stop))):
                if window is None or folder not in whole:
                    yield _Piece(
                        folder,
                        files.daily,
                        "daily",
                        begin,
                        stop,
                        summary.get("daily-latency"),
                        ranked=summary.get("ranked"),
                    )
                raw = raw[1:]  # the compact file is in the rollup; newer parts are not
                if folder not in whole and tail and tail[0] < tail[1]:
                    compact = files.live[0]
                    yield _Piece(folder, compact, "raw", *tail, sign=-1, names=(compact,))
            elif summary.get(kind):
                hour_a, hour_b = _units(begin, stop, unit)
                if hour_a < hour_b:
                    sketch = summary.get("hourly-latency") if kind == "rollup" else None
                    yield _Piece(folder, summary[kind], "rollup", hour_a, hour_b, sketch)
                    compact = files.live[0]
                    raw = raw[1:] + [(compact, begin, hour_a), (compact, hour_b, stop)]
            together: dict[tuple[datetime, datetime], list[str]] = {}
            for name, a, b in raw:
                if a < b:
                    together.setdefault((a, b), []).append(name)
            for (a, b), names in together.items():
                yield _Piece(folder, names[0], "raw", a, b, names=tuple(names))

    def _tail(
        self, folder: str, files: DayFiles, begin: datetime, stop: datetime
    ) -> tuple[datetime, datetime] | None:
        """Whether the day's daily rollup answers for its compact file's events in ``[begin,
        stop)`` — they start at or after ``begin`` and run past ``stop`` by at most
        :data:`MAX_TAIL` (the open day as the last upkeep round left it) — and if so, the
        range of the compact file's events to take away from it (empty when none is past
        ``stop``); None otherwise."""
        if not files.daily:
            return None
        path = str(self.store.path(folder, files.daily))
        if path not in self._spans_of:
            try:
                metadata = pl.read_parquet_metadata(path)
            except FileNotFoundError:
                return None
            span = None
            if all(k in metadata for k in SPAN_KEYS):
                first, last = (datetime.fromisoformat(metadata[k]) for k in SPAN_KEYS)
                span = (first, last)
            if len(self._spans_of) > 1024:
                self._spans_of.clear()
            self._spans_of[path] = span
        span = self._spans_of[path]
        if span is None or span[0] < begin or span[1] - stop > MAX_TAIL:
            return None
        return (stop, max(stop, span[1] + timedelta(milliseconds=1)))

    def _piece_rows(self, piece: _Piece) -> pl.LazyFrame:
        """A piece as usage rows, in the same order as its sketch's ``row`` numbers."""
        if piece.kind == "raw":
            rows = self._events_in(piece.folder, piece.names, piece.begin, piece.stop)
            return rows.pipe(as_usage).pipe(_signed, piece.sign)
        rows = self._scan(piece.folder, piece.name, USAGE_SCHEMA).with_row_index("row")
        rows = rows.pipe(_signed, piece.sign)
        if piece.kind != "rollup":
            return rows
        return rows.filter(
            pl.col("ts").is_between(pl.lit(piece.begin), pl.lit(piece.stop), closed="left")
        )

    def usage(
        self,
        start: datetime,
        end: datetime,
        now: datetime | None = None,
        *,
        daily: bool = False,
        timeless: bool = False,
        grain: str = "hour",
    ) -> pl.LazyFrame:
        """Usage rows (see :mod:`data.rollup`) for ``[start, end)``: from each day's rollup
        for the whole hours it covers, from raw events for the rest. Sums equal the raw
        events' sums exactly. With ``daily``, a whole rolled-up day is read from its daily
        rollup (``ts`` is then the day's start: for questions that ignore the time of day).
        With ``timeless`` as well, whole closed days may come from the window: ``ts`` is then
        null, and rows of days taken away from it have negative measures, so only sums by
        something other than time are meaningful (groups whose calls sum to 0 are not
        there). With ``grain="quarter"``, whole quarter hours come from rows by version only
        (the other dimensions null): for sums by time and version."""
        pieces = [
            self._piece_rows(p).select(list(USAGE_SCHEMA))
            for p in self._pieces(start, end, now, daily or timeless, timeless, grain)
        ]
        if not pieces:
            return pl.LazyFrame(schema=USAGE_SCHEMA)
        return pl.concat(pieces, how="vertical")

    def ranked(
        self,
        start: datetime,
        end: datetime,
        dimensions: tuple[str, ...],
        now: datetime | None = None,
    ) -> pl.LazyFrame:
        """Ranked rows (see :func:`data.rollup.as_ranked`) of ``dimensions`` for ``[start,
        end)``: the same pieces as ``usage(timeless=True)``, but whole days and the window
        are read from their ranked summaries, whose size follows the distinct values of each
        dimension rather than the combinations of them. Rows of days taken away have
        negative measures (sum them, and drop values whose calls sum to 0)."""
        chosen = pl.col("dimension").is_in(list(dimensions))
        pieces: list[pl.LazyFrame] = []
        usage: list[pl.LazyFrame] = []  # the rest, summed per value together (fewer group-bys)
        for piece in self._pieces(start, end, now, True, True):
            if piece.ranked:
                rows = self._scan(piece.folder, piece.ranked, RANKED_SCHEMA).filter(chosen)
                pieces.append(rows.pipe(_signed, piece.sign))
            else:
                usage.append(self._piece_rows(piece).select(list(USAGE_SCHEMA)))
        if usage:
            pieces.append(as_ranked(pl.concat(usage, how="vertical"), dimensions))
        if not pieces:
            return pl.LazyFrame(schema=RANKED_SCHEMA)
        return pl.concat(pieces, how="vertical")

    def usage_with_latency(
        self, start: datetime, end: datetime, now: datetime | None = None
    ) -> tuple[pl.LazyFrame, pl.LazyFrame]:
        """Usage rows for ``[start, end)`` as :meth:`usage` gives them, each with a ``key``
        unique among them, and the latency sketch of those rows: ``key``, ``bucket``, ``n``
        (calls whose latency falls in the bucket). A rolled-up row's sketch comes from its
        summary's keyed sketch, a raw event's from its own latency, so the sketch summed per
        combination is the same whichever files answer."""
        rows: list[pl.LazyFrame] = []
        sketches: list[pl.LazyFrame] = []
        for number, piece in enumerate(self._pieces(start, end, now, True, True)):
            base = pl.lit(number << _KEY_SHIFT, pl.Int64)
            key = (base + pl.col("row").cast(pl.Int64)).alias("key")
            if piece.kind == "raw":
                events = self._events_in(piece.folder, piece.names, piece.begin, piece.stop)
                events = events.with_row_index("row").with_columns(key)
                usage = events.pipe(as_usage, "key").pipe(_signed, piece.sign)
                rows.append(usage.select(*USAGE_SCHEMA, "key"))
                sketch = events.pipe(as_latency, "key").select("key", "bucket", "n")
                sketches.append(sketch.with_columns(pl.col("n") * piece.sign))
                continue
            rows.append(self._piece_rows(piece).with_columns(key).select(*USAGE_SCHEMA, "key"))
            if piece.sketch:
                sketch = self._scan(piece.folder, piece.sketch, SKETCH_SCHEMA)
                if piece.kind == "rollup":
                    hours = pl.col("ts").is_between(
                        pl.lit(piece.begin), pl.lit(piece.stop), closed="left"
                    )
                    sketch = sketch.filter(hours)
                n = pl.col("n") * piece.sign
                sketches.append(sketch.select(key, "bucket", n))
        sketch_schema = {"key": pl.Int64(), "bucket": pl.Int32(), "n": pl.Int64()}
        if not rows:
            return (
                pl.LazyFrame(schema={**USAGE_SCHEMA, "key": pl.Int64()}),
                pl.LazyFrame(schema=sketch_schema),
            )
        sketch = pl.concat(sketches) if sketches else pl.LazyFrame(schema=sketch_schema)
        return pl.concat(rows, how="vertical"), sketch

    def minutes(self, start: datetime, end: datetime, now: datetime | None = None) -> pl.LazyFrame:
        """Minute rows (``ts``, ``api_version``, ``application``, ``calls``, ``credits``; see
        :func:`data.rollup.minute_rollup`) for ``[start, end)``, both whole minutes: each
        compacted day's minute rollup, and raw events (one row per call) for the parts newer
        than its compaction. Sums over any whole minutes equal the raw events' sums."""
        if start.second or start.microsecond or end.second or end.microsecond:
            raise ValueError(f"minutes() needs whole minutes, got [{start}, {end})")
        start = max(start, self.cutoff(now or clock.now()))
        pieces: list[pl.LazyFrame] = []
        for span in self._spans(start, end):
            raw = span.files.live
            minute = span.files.summaries.get("minute")
            if minute:
                hours = pl.col("ts").is_between(
                    pl.lit(span.begin), pl.lit(span.stop), closed="left"
                )
                pieces.append(self._scan(span.folder, minute, MINUTE_SCHEMA).filter(hours))
                raw = raw[1:]
            if raw:
                events = self._events_in(span.folder, tuple(raw), span.begin, span.stop)
                pieces.append(events.pipe(as_minutes))
        if not pieces:
            return pl.LazyFrame(schema=MINUTE_SCHEMA)
        return pl.concat(pieces, how="vertical")

    # -- the window: every closed day in one summary --------------------------------------

    def _manifests(self) -> list[str]:
        """The window manifests on disk, oldest first."""
        return sorted(n for n in self.store.list_files(WINDOW) if _WINDOW.match(n))

    def _window(self) -> _Window | None:
        """The newest window written, if any (whether it is current is for the caller)."""
        manifests = self._manifests()
        if not manifests:
            return None
        name = manifests[-1]
        window = self._windows.get(name)
        if window is None:
            try:
                data = json.loads(self.store.path(WINDOW, name).read_text())
            except FileNotFoundError:
                return None
            window = _Window(
                data["rows"], data["sketch"], data["days"], data.get("quarters"), data.get("ranked")
            )
            if len(self._windows) > 16:
                self._windows.clear()
            self._windows[name] = window
        return window

    def _current(self, window: _Window | None, listed: dict[str, DayFiles]) -> _Window | None:
        """``window`` if each of its days still has the daily rollup it was made from.

        ``listed`` holds the files of days already listed; the others are listed into it, so
        that the pieces read later are the very files checked here."""
        if window is None:
            return None
        for folder, name in window.days.items():
            if folder not in listed:
                listed[folder] = _day_files(self.store.list_files(folder))
            if listed[folder].daily != name:
                return None
        return window

    def _window_for(self, whole: set[str], listed: dict[str, DayFiles]) -> _Window | None:
        """The window, if it is current and holds every day of ``whole``, and reading it
        beats reading them."""
        window = self._window()
        if window is None or not whole <= window.days.keys():
            return None
        if len(window.days) - len(whole) >= len(whole):
            return None  # taking away more days than reading them one by one
        return self._current(window, listed)

    def refresh_window(self, now: datetime | None = None, *, grace_s: float = GRACE_S) -> bool:
        """Write the window for the closed days (those before ``now``'s UTC day with a daily
        rollup) unless the current one was made from exactly them; returns whether it wrote.

        Its rows are the daily rollups' rows summed per combination, its sketch theirs summed
        per combination and bucket, its quarters the days' quarter-hour rows one after the
        other. The Parquet files are published first, the manifest that names them last
        (readers take the newest manifest); windows it replaces are deleted once it is
        ``grace_s`` old."""
        today = (now or clock.now()).astimezone(UTC).date()
        with self.store.lock(WINDOW):
            days: dict[str, dict[str, str]] = {}  # folder -> its summaries, by kind
            for day in self.days():
                summary = _day_files(self.store.list_files(day_folder(day))).summaries
                if day < today and summary.keys() >= _WINDOW_KINDS:
                    days[day_folder(day)] = summary
            current = self._window()
            self._drop_old_windows(grace_s)
            made_from = {folder: summary["daily"] for folder, summary in days.items()}
            if len(days) < WINDOW_MIN_DAYS or (
                current and current.days == made_from and current.quarters and current.ranked
            ):
                return False
            rows, sketch = self._window_summaries(days)
            quarters = pl.concat(
                [self._scan(f, kinds["quarter"], USAGE_SCHEMA) for f, kinds in sorted(days.items())]
            ).collect()
            ranked = (
                pl.concat(
                    [
                        self._scan(f, kinds["ranked"], RANKED_SCHEMA)
                        for f, kinds in sorted(days.items())
                    ]
                )
                .group_by("api_version", "dimension", "value")
                .agg(pl.col("calls", "credits", "errors").sum())
                .sort("dimension", "api_version", "value", nulls_last=True)
                .select(list(RANKED_SCHEMA))
                .collect()
            )
            manifests = self._manifests()
            seq = int(_WINDOW.match(manifests[-1]).group(1)) + 1 if manifests else 1  # type: ignore[union-attr]
            files = {
                "rows": f"window-{seq:012d}.parquet",
                "sketch": f"window-latency-{seq:012d}.parquet",
                "quarters": f"window-quarter-{seq:012d}.parquet",
                "ranked": f"window-ranked-{seq:012d}.parquet",
            }
            self.store.stage(WINDOW, files["rows"], _write_parquet(rows)).publish()
            self.store.stage(WINDOW, files["sketch"], _write_parquet(sketch)).publish()
            self.store.stage(WINDOW, files["quarters"], _write_parquet(quarters)).publish()
            self.store.stage(WINDOW, files["ranked"], _write_parquet(ranked)).publish()
            manifest = json.dumps({**files, "days": made_from}, indent=1).encode()
            self.store.stage(
                WINDOW, f"window-{seq:012d}.json", lambda p: p.write_bytes(manifest)
            ).publish()
            return True

    def _window_summaries(
        self, days: dict[str, dict[str, str]]
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        rows = pl.concat(
            [
                self._scan(folder, kinds["daily"], USAGE_SCHEMA)
                .with_row_index("row")
                .with_columns(pl.lit(i, pl.UInt32).alias("day"))
                for i, (folder, kinds) in enumerate(sorted(days.items()))
            ]
        ).collect()
        sketches = pl.concat(
            [
                self._scan(folder, kinds["daily-latency"], SKETCH_SCHEMA).with_columns(
                    pl.lit(i, pl.UInt32).alias("day")
                )
                for i, (folder, kinds) in enumerate(sorted(days.items()))
            ]
        )
        combos = (
            rows.select(DIMENSIONS).unique().sort(DIMENSIONS, nulls_last=True).with_row_index("w")
        )
        rows = rows.join(combos, on=list(DIMENSIONS), how="left", nulls_equal=True)
        summed = (
            rows.group_by("w")
            .agg(pl.col("calls", "credits", "errors").sum())
            .join(combos, on="w")
            .sort("w")
            .select(
                pl.lit(None, USAGE_SCHEMA["ts"]).alias("ts"),
                *DIMENSIONS,
                "calls",
                "credits",
                "errors",
            )
        )
        sketch = (
            sketches.join(rows.lazy().select("day", "row", "w"), on=["day", "row"])
            .group_by("w", "bucket")
            .agg(pl.col("n").sum())
            .sort("w", "bucket")
            .select(
                pl.lit(None, SKETCH_SCHEMA["ts"]).alias("ts"),
                pl.col("w").alias("row"),
                "bucket",
                "n",
            )
            .collect()
        )
        return summed.cast(USAGE_SCHEMA), sketch.cast(SKETCH_SCHEMA)

    def _drop_old_windows(self, grace_s: float) -> None:
        """Delete windows older than the newest one, once it is ``grace_s`` old."""
        manifests = self._manifests()
        if not manifests:
            return
        newest = manifests[-1]
        try:
            age = time.time() - self.store.path(WINDOW, newest).stat().st_mtime
        except FileNotFoundError:
            return
        if age < grace_s:
            return
        keep = {newest}
        if (window := self._window()) is not None:
            keep |= {window.rows, window.sketch, window.quarters or "", window.ranked or ""}
        for name in self.store.list_files(WINDOW):
            if name not in keep:
                self.store.delete(WINDOW, name)

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
            span = dict(zip(SPAN_KEYS, (merged["ts"][0], merged["ts"][-1]), strict=True))
            span_text = {k: v.isoformat(timespec="milliseconds") for k, v in span.items()}
            for prefix, summary in summaries(merged).items():
                metadata = span_text if prefix == "daily" else None
                staged = self.store.stage(
                    folder, f"{prefix}-{seq:012d}.parquet", _write_parquet(summary, metadata)
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
        """Compact every day not in final form, then bring the window up to date; returns
        the number of days compacted."""
        compacted = sum(1 for day in self.days() if self.compact(day))
        self.refresh_window()
        return compacted

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
        folders = [day_folder(d) for d in self.days()] + [WINDOW]
        return self.store.sweep_trash() + sum(
            self.store.sweep_temporaries(folder, older_than_s, now_s) for folder in folders
        )
