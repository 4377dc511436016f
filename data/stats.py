"""The one collect boundary: each function answers one question the views ask, collecting once.

Arguments are primitives (instants, strings), so answers can be cached by them.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from data import queries
from data.runtime import get_lake


def _events(start: datetime, end: datetime, version: str) -> pl.LazyFrame:
    return get_lake().scan(start, end).pipe(queries.for_version, version).pipe(queries.with_labels)


def _collect(build) -> pl.DataFrame:  # noqa: ANN001 - a zero-argument LazyFrame factory
    return get_lake().collect(build)


def summary(start: datetime, end: datetime, version: str) -> dict[str, int]:
    """Calls, credits and errors in ``[start, end)``."""
    row = _collect(lambda: _events(start, end, version).pipe(queries.totals)).row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}


def ranking(dimension: str, start: datetime, end: datetime, version: str) -> pl.DataFrame:
    """Every value of ``dimension`` by calls (value, calls, credits, errors, share)."""
    return _collect(lambda: _events(start, end, version).pipe(queries.ranked, dimension))


def timeline(
    start: datetime, end: datetime, version: str, bucket: str, timezone: str
) -> pl.DataFrame:
    """Calls and credits per hour or day (of ``timezone``) and version."""
    return _collect(lambda: _events(start, end, version).pipe(queries.by_bucket, bucket, timezone))


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


def links(dimension: str, value: str, start: datetime, end: datetime, version: str) -> pl.DataFrame:
    """What one value connects to (dimension, value, calls)."""
    return _collect(
        lambda: _events(start, end, version).pipe(queries.connections, dimension, value)
    )
