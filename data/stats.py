"""The one collect boundary: each function answers one question the views ask.

Every answer is cached per refresh period (:func:`data.cache.cached`); arguments are
primitives (instants, strings). Additive answers (rankings, totals, time buckets) are built
from per-day parts: a closed UTC day's part is computed once and reused until that day's
files change (:func:`data.cache.cached_by_day`), so a 30-day view scans only the open day
and the range's edges.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from data import clock, queries
from data.cache import cached, cached_by_day, get_cache
from data.rollup import as_usage
from data.runtime import get_lake


def as_of() -> tuple[datetime, datetime]:
    """The statistics' instant (start of the current refresh period) and the next refresh."""
    return get_cache().period(clock.now())


def _events(start: datetime, end: datetime, version: str) -> pl.LazyFrame:
    """Raw events (one row per call), for the answers that need every call."""
    lake = get_lake()
    return (
        lake.scan(start, end, now=clock.now())
        .pipe(queries.for_version, version)
        .pipe(queries.with_labels)
    )


def _usage(start: datetime, end: datetime, version: str) -> pl.LazyFrame:
    """Usage rows: from rollups for closed hours of compacted days, raw events elsewhere."""
    lake = get_lake()
    return (
        lake.usage(start, end, now=clock.now())
        .pipe(queries.for_version, version)
        .pipe(queries.with_labels)
    )


def _events_as_usage(start: datetime, end: datetime, version: str) -> pl.LazyFrame:
    return _events(start, end, version).pipe(as_usage)


def _whole_hours(timezone: str, *moments: datetime) -> bool:
    """Whether ``timezone`` is a whole number of hours from UTC at each of ``moments``."""
    zone = ZoneInfo(timezone)
    return all(
        (m.astimezone(zone).utcoffset() or timedelta()) % timedelta(hours=1) == timedelta()
        for m in moments
    )


def _collect(build: Callable[[], pl.LazyFrame]) -> pl.DataFrame:
    return get_lake().collect(build)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _split(start: datetime, end: datetime) -> tuple[list[date], list[tuple[datetime, datetime]]]:
    """Closed UTC days wholly inside ``[start, end)``, and the stretches left around them."""
    now = clock.now()
    today = now.astimezone(UTC).date()
    # A day the retention window cuts into is no closed day: what may be shown of it shrinks
    # as time goes on while its files stay the same, so it is an edge stretch, never cached.
    start = max(start, get_lake().cutoff(now))
    first = start.astimezone(UTC).date() + timedelta(days=1)
    if _day_start(first - timedelta(days=1)) == start:
        first -= timedelta(days=1)
    days: list[date] = []
    day = first
    while _day_start(day + timedelta(days=1)) <= end and day < today:
        days.append(day)
        day += timedelta(days=1)
    if not days:
        return [], [(start, end)]
    edges = [(start, _day_start(days[0])), (_day_start(days[-1] + timedelta(days=1)), end)]
    return days, [(a, b) for a, b in edges if a < b]


def _token(day: date) -> str:
    return ",".join(get_lake().live_files(day))


def _parts(
    per_day: Callable[..., pl.DataFrame],
    stretch: Callable[[datetime, datetime], pl.DataFrame],
    start: datetime,
    end: datetime,
    *args: str,
) -> list[pl.DataFrame]:
    days, edges = _split(start, end)
    parts = [per_day(day, _token(day), *args) for day in days]
    parts += [stretch(a, b) for a, b in edges]
    return [p for p in parts if not p.is_empty()]


# -- rankings ----------------------------------------------------------------------------


def _ranked_part(start: datetime, end: datetime, version: str, dimension: str) -> pl.DataFrame:
    return _collect(lambda: _usage(start, end, version).pipe(queries.ranked_part, dimension))


@cached_by_day
def _ranked_day(day: date, _token: str, version: str, dimension: str) -> pl.DataFrame:
    start = _day_start(day)
    return _ranked_part(start, start + timedelta(days=1), version, dimension)


@cached
def ranking(dimension: str, start: datetime, end: datetime, version: str) -> pl.DataFrame:
    """Every value of ``dimension`` by calls (value, calls, credits, errors, share)."""
    parts = _parts(
        _ranked_day,
        lambda a, b: _ranked_part(a, b, version, dimension),
        start,
        end,
        version,
        dimension,
    )
    return queries.combine_ranked(parts)


# -- totals ------------------------------------------------------------------------------


def _totals_part(start: datetime, end: datetime, version: str) -> pl.DataFrame:
    return _collect(lambda: _usage(start, end, version).pipe(queries.totals))


@cached_by_day
def _totals_day(day: date, _token: str, version: str) -> pl.DataFrame:
    start = _day_start(day)
    return _totals_part(start, start + timedelta(days=1), version)


@cached
def summary(start: datetime, end: datetime, version: str) -> dict[str, int]:
    """Calls, credits and errors in ``[start, end)``."""
    parts = _parts(_totals_day, lambda a, b: _totals_part(a, b, version), start, end, version)
    if not parts:
        return {"calls": 0, "credits": 0, "errors": 0}
    row = pl.concat(parts).sum().row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}


# -- time --------------------------------------------------------------------------------


def _buckets_part(
    start: datetime, end: datetime, version: str, bucket: str, timezone: str
) -> pl.DataFrame:
    # Rollups are by UTC hour: they fit the local hours of zones whose offset is whole hours.
    rows = _usage if _whole_hours(timezone, start, end) else _events_as_usage
    return _collect(lambda: rows(start, end, version).pipe(queries.by_bucket, bucket, timezone))


@cached_by_day
def _buckets_day(day: date, _token: str, version: str, bucket: str, timezone: str) -> pl.DataFrame:
    start = _day_start(day)
    return _buckets_part(start, start + timedelta(days=1), version, bucket, timezone)


@cached
def timeline(
    start: datetime, end: datetime, version: str, bucket: str, timezone: str
) -> pl.DataFrame:
    """Calls and credits per hour or day (of ``timezone``) and version."""
    parts = _parts(
        _buckets_day,
        lambda a, b: _buckets_part(a, b, version, bucket, timezone),
        start,
        end,
        version,
        bucket,
        timezone,
    )
    return queries.combine_buckets(parts)


# -- the table view ----------------------------------------------------------------------


@cached
def table(
    start: datetime, end: datetime, version: str, dimension: str, value: str | None
) -> pl.DataFrame:
    """The table view's rows, only those with ``dimension == value`` when a value is given."""

    def build() -> pl.LazyFrame:
        frame = _events(start, end, version)
        if value is not None:
            frame = frame.filter(pl.col(dimension) == value)
        return frame.pipe(queries.combinations)

    return _collect(build)


@cached
def links(dimension: str, value: str, start: datetime, end: datetime, version: str) -> pl.DataFrame:
    """What one value connects to (dimension, value, calls)."""
    return _collect(lambda: _usage(start, end, version).pipe(queries.connections, dimension, value))
