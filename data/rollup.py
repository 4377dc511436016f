"""Rollups: a day's events summed by hour and every dimension, written at compaction.

Views read *usage rows* — ``ts``, the six dimensions, ``calls``, ``credits``, ``errors`` —
from a rollup where one covers the hours asked for, and from raw events (one row per call)
elsewhere; :func:`as_usage` gives raw events that shape, so every query works on both and the
answers are the same. A rollup's cost grows with the distinct (hour, application, module,
method, user, IP, version) combinations of a day, not with its calls.
"""

from __future__ import annotations

import polars as pl

DIMENSIONS = ("api_version", "application", "module", "method", "user", "ip")
USAGE_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("ms", "UTC"),
    **{name: pl.String() for name in DIMENSIONS},
    "calls": pl.Int64(),
    "credits": pl.Int64(),
    "errors": pl.Int64(),
}


def as_usage(events: pl.LazyFrame) -> pl.LazyFrame:
    """Raw events as usage rows: each call counts once, an error once if ``status >= 400``."""
    return events.select(
        "ts",
        *DIMENSIONS,
        pl.lit(1, pl.Int64).alias("calls"),
        pl.col("credits").cast(pl.Int64),
        (pl.col("status") >= 400).cast(pl.Int64).alias("errors"),
    )


def rollup(events: pl.LazyFrame) -> pl.LazyFrame:
    """Events summed per UTC hour and combination of dimensions (``ts`` is the hour)."""
    return (
        events.group_by(pl.col("ts").dt.truncate("1h"), *DIMENSIONS)
        .agg(
            pl.len().cast(pl.Int64).alias("calls"),
            pl.col("credits").sum().cast(pl.Int64),
            (pl.col("status") >= 400).sum().cast(pl.Int64).alias("errors"),
        )
        .sort("ts", *DIMENSIONS, nulls_last=True)
        .select(list(USAGE_SCHEMA))
    )
