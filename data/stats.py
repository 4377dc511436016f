"""The one collect boundary: each function answers one question the views ask, collecting once.

Every answer is cached per refresh period (:func:`data.cache.cached`); arguments are
primitives (instants, strings). Questions read *usage rows* (:mod:`data.rollup`): a closed
day's summaries, written when the day was compacted, stand in for its million calls and are
reused until that day's data changes; questions that ignore time read the closed days from
the window (:meth:`data.lake.Lake.refresh_window`), time charts from quarter-hour rows by
version; raw events are read only for what is not summarised yet (the open day's newest
files, the ragged minutes at a range's ends). The table's p95 latency comes from latency
sketches keyed to the rollup rows it sums.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from data import clock, queries
from data.cache import cached, get_cache
from data.rollup import as_usage
from data.runtime import get_lake


def as_of() -> tuple[datetime, datetime]:
    """The statistics' instant (start of the current refresh period) and the next refresh."""
    return get_cache().period(clock.now())


def _usage(
    start: datetime,
    end: datetime,
    version: str,
    *,
    daily: bool = True,
    timeless: bool = True,
    grain: str = "hour",
) -> pl.LazyFrame:
    """Usage rows of ``version``: rollups for compacted days (daily ones for whole days unless
    the time of day matters; the closed days' window where time does not matter at all), raw
    events elsewhere."""
    return (
        get_lake()
        .usage(start, end, now=clock.now(), daily=daily, timeless=timeless, grain=grain)
        .pipe(queries.for_version, version)
        .pipe(queries.with_labels)
    )


def _ranked(
    start: datetime, end: datetime, version: str, dimensions: tuple[str, ...]
) -> pl.LazyFrame:
    """Ranked rows of ``version`` (sums per value of each of ``dimensions``)."""
    return (
        get_lake()
        .ranked(start, end, dimensions, now=clock.now())
        .pipe(queries.for_version, version)
    )


def _events_as_usage(start: datetime, end: datetime, version: str) -> pl.LazyFrame:
    """Usage rows straight from raw events (one per call)."""
    return (
        get_lake()
        .scan(start, end, now=clock.now())
        .pipe(as_usage)
        .pipe(queries.for_version, version)
        .pipe(queries.with_labels)
    )


def _aligned(timezone: str, unit: timedelta, *moments: datetime) -> bool:
    """Whether ``timezone`` is a whole number of ``unit`` from UTC at each of ``moments``."""
    zone = ZoneInfo(timezone)
    return all(
        (m.astimezone(zone).utcoffset() or timedelta()) % unit == timedelta() for m in moments
    )


def _collect(build: Callable[[], pl.LazyFrame]) -> pl.DataFrame:
    return get_lake().collect(build)


@cached
def ranking(dimension: str, start: datetime, end: datetime, version: str) -> pl.DataFrame:
    """Every value of ``dimension`` by calls (value, calls, credits, errors, share)."""
    return _collect(
        lambda: _ranked(start, end, version, (dimension,)).pipe(queries.ranked_values, dimension)
    )


@cached
def summary(start: datetime, end: datetime, version: str) -> dict[str, int]:
    """Calls, credits and errors in ``[start, end)``."""
    rows = _collect(
        lambda: _ranked(start, end, version, ("api_version",)).pipe(queries.ranked_totals)
    )
    row = rows.row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}


@cached
def overview(
    start: datetime,
    end: datetime,
    version: str,
    bucket: str,
    timezone: str,
    tops: tuple[tuple[str, str], ...],
) -> dict[str, object]:
    """The Overview's questions answered in one pass: the ranked rows of the range (both
    versions, the dimensions in ``tops``) and the time buckets are read once, then the totals
    and the ranking of each ``(dimension, version)`` in ``tops`` are summed in memory."""
    dimensions = tuple(sorted({"api_version", *(d for d, _ in tops)}))

    def build() -> list[pl.LazyFrame]:
        return [
            _ranked(start, end, "all", dimensions),
            _timeline_rows(start, end, version, timezone).pipe(queries.by_bucket, bucket, timezone),
        ]

    rows, buckets = get_lake().collect_all(build)
    totals, *ranked = pl.collect_all(
        [
            rows.lazy().pipe(queries.for_version, version).pipe(queries.ranked_totals),
            *[
                rows.lazy().pipe(queries.for_version, v).pipe(queries.ranked_values, d)
                for d, v in tops
            ],
        ]
    )
    return {
        "summary": {k: int(v or 0) for k, v in totals.row(0, named=True).items()},
        "rankings": dict(zip(tops, ranked, strict=True)),
        "timeline": buckets,
    }


def _timeline_rows(start: datetime, end: datetime, version: str, timezone: str) -> pl.LazyFrame:
    """Usage rows whose ``ts`` is fine enough for hours and days of ``timezone``, for sums by time
    and version: quarter-hour rollups (192 rows a day, fewer than a daily rollup by every
    dimension) fit the local hours and days of every zone a whole number of quarter hours
    from UTC at both ends (all zones in use); other zones read raw events."""
    if not _aligned(timezone, timedelta(minutes=15), start, end):
        return _events_as_usage(start, end, version)
    return _usage(start, end, version, daily=False, timeless=False, grain="quarter")


@cached
def timeline(
    start: datetime, end: datetime, version: str, bucket: str, timezone: str
) -> pl.DataFrame:
    """Calls and credits per hour or day (of ``timezone``) and version."""
    return _collect(
        lambda: _timeline_rows(start, end, version, timezone).pipe(
            queries.by_bucket, bucket, timezone
        )
    )


@cached
def table(
    start: datetime, end: datetime, version: str, dimension: str, value: str | None
) -> pl.DataFrame:
    """The table view's rows, only those with ``dimension == value`` when a value is given:
    calls, credits and errors from usage rows, p95 latency from the latency sketches."""

    def build() -> pl.LazyFrame:
        rows, sketch = get_lake().usage_with_latency(start, end, now=clock.now())
        rows = rows.pipe(queries.for_version, version).pipe(queries.with_labels)
        if value is not None:
            rows = rows.filter(pl.col(dimension) == value)
        return rows.pipe(queries.combinations_with_p95, sketch)

    return _collect(build)


@cached
def links(dimension: str, value: str, start: datetime, end: datetime, version: str) -> pl.DataFrame:
    """What one value connects to (dimension, value, calls)."""
    return _collect(lambda: _usage(start, end, version).pipe(queries.connections, dimension, value))
