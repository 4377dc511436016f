"""Rollups: a day's events summed by hour and every dimension, written at compaction.

Views read *usage rows* — ``ts``, the six dimensions, ``calls``, ``credits``, ``errors`` —
from a rollup where one covers the hours asked for, and from raw events (one row per call)
elsewhere; :func:`as_usage` gives raw events that shape, so every query works on both and the
answers are the same. A rollup's cost grows with the distinct (hour, application, module,
method, user, IP, version) combinations of a day, not with its calls; the daily rollup drops
the hour for questions that do not need it.
"""

from __future__ import annotations

import math

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


def _summed(events: pl.LazyFrame, every: str) -> pl.LazyFrame:
    return (
        events.group_by(pl.col("ts").dt.truncate(every), *DIMENSIONS)
        .agg(
            pl.len().cast(pl.Int64).alias("calls"),
            pl.col("credits").sum().cast(pl.Int64),
            (pl.col("status") >= 400).sum().cast(pl.Int64).alias("errors"),
        )
        .sort("ts", *DIMENSIONS, nulls_last=True)
        .select(list(USAGE_SCHEMA))
    )


def rollup(events: pl.LazyFrame) -> pl.LazyFrame:
    """Events summed per UTC hour and combination of dimensions (``ts`` is the hour)."""
    return _summed(events, "1h")


def daily_rollup(events: pl.LazyFrame) -> pl.LazyFrame:
    """Events summed per UTC day and combination of dimensions (``ts`` is the day's start):
    what rankings, totals and tables of whole days read, often 20x fewer rows than hourly."""
    return _summed(events, "1d")


# -- latency sketch ----------------------------------------------------------------------
#
# p95 latency cannot be summed, so each compacted day also keeps a histogram of latencies
# per combination of dimensions, in buckets whose width grows with the value (a log sketch):
# bucket b holds latencies x with GAMMA**b <= 1 + x < GAMMA**(b + 1). A p95 read from it is
# the bucket's middle, within (GAMMA - 1) / 2 = 2.5 % of the exact nearest-rank p95.

GAMMA = 1.05
LATENCY_SCHEMA: dict[str, pl.DataType] = {
    **{name: pl.String() for name in DIMENSIONS},
    "bucket": pl.Int32(),
    "n": pl.Int64(),
}


def _bucket() -> pl.Expr:
    return (pl.col("latency_ms").log1p() / math.log(GAMMA)).floor().cast(pl.Int32).alias("bucket")


def as_latency(events: pl.LazyFrame) -> pl.LazyFrame:
    """Raw events as latency-sketch rows (one per call that reported a latency)."""
    return events.filter(pl.col("latency_ms").is_not_null()).select(
        *DIMENSIONS, _bucket(), pl.lit(1, pl.Int64).alias("n")
    )


def latency_rollup(events: pl.LazyFrame) -> pl.LazyFrame:
    """A day's latency sketch: calls per (combination of dimensions, bucket)."""
    return (
        as_latency(events)
        .group_by(*DIMENSIONS, "bucket")
        .agg(pl.col("n").sum())
        .sort(*DIMENSIONS, "bucket", nulls_last=True)
        .select(list(LATENCY_SCHEMA))
    )


def p95_from_sketch(rows: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """The nearest-rank p95 per ``keys`` from sketch rows: the middle of the bucket where the
    running count first reaches 95 % of the calls."""
    counted = (
        rows.group_by(*keys, "bucket")
        .agg(pl.col("n").sum())
        .sort(*keys, "bucket", nulls_last=True)
        .with_columns(
            pl.col("n").cum_sum().over(keys).alias("running"),
            pl.col("n").sum().over(keys).alias("total"),
        )
    )
    return (
        counted.filter(pl.col("running") >= (pl.col("total") * 0.95).ceil())
        .group_by(keys)
        .agg(pl.col("bucket").min())
        .select(*keys, ((GAMMA ** (pl.col("bucket") + 0.5)) - 1).alias("p95_ms"))
    )
