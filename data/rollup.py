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


def as_usage(events: pl.LazyFrame, *keep: str) -> pl.LazyFrame:
    """Raw events as usage rows: each call counts once, an error once if ``status >= 400``
    (with the columns ``keep`` as they are)."""
    return events.select(
        *keep,
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


def quarter_rollup(events: pl.LazyFrame) -> pl.LazyFrame:
    """Events summed per UTC quarter hour and version only (the other dimensions null): what
    time charts read. Every time zone in use is a whole number of quarter hours from UTC, so
    a chart's local hours and days are sums of these rows, in any zone."""
    return (
        events.group_by(pl.col("ts").dt.truncate("15m"), "api_version")
        .agg(
            pl.len().cast(pl.Int64).alias("calls"),
            pl.col("credits").sum().cast(pl.Int64),
            (pl.col("status") >= 400).sum().cast(pl.Int64).alias("errors"),
        )
        .sort("ts", "api_version")
        .with_columns([pl.lit(None, pl.String).alias(d) for d in DIMENSIONS if d != "api_version"])
        .select(list(USAGE_SCHEMA))
    )


RANKED_SCHEMA: dict[str, pl.DataType] = {
    "api_version": pl.String(),
    "dimension": pl.String(),
    "value": pl.String(),
    "calls": pl.Int64(),
    "credits": pl.Int64(),
    "errors": pl.Int64(),
}


def as_ranked(rows: pl.LazyFrame, dimensions: tuple[str, ...] = DIMENSIONS) -> pl.LazyFrame:
    """Usage rows summed per version and value of each of ``dimensions``: *ranked rows*
    (``api_version``, ``dimension``, ``value``, measures). What rankings and totals read: their
    number follows the distinct values, not the combinations of them."""
    return pl.concat(
        [
            rows.group_by("api_version", pl.col(d).alias("value"))
            .agg(pl.col("calls", "credits", "errors").sum())
            .select(
                "api_version", pl.lit(d).alias("dimension"), "value", "calls", "credits", "errors"
            )
            for d in dimensions
        ]
    ).cast(RANKED_SCHEMA)


def ranked_rollup(events: pl.LazyFrame) -> pl.LazyFrame:
    """A day's ranked rows for every dimension, sorted."""
    return as_ranked(as_usage(events)).sort("dimension", "api_version", "value", nulls_last=True)


def daily_rollup(events: pl.LazyFrame) -> pl.LazyFrame:
    """Events summed per UTC day and combination of dimensions (``ts`` is the day's start):
    what rankings, totals and tables of whole days read, often 20x fewer rows than hourly."""
    return _summed(events, "1d")


# -- latency sketch ----------------------------------------------------------------------
#
# p95 latency cannot be summed, so each compacted day also keeps a histogram of latencies
# per row of its hourly and of its daily rollup (one combination of dimensions, in one hour or
# the whole day), in buckets whose width grows with the value (a log sketch):
# bucket b holds latencies x with GAMMA**b <= 1 + x < GAMMA**(b + 1). A p95 read from it is
# the bucket's middle, within (GAMMA - 1) / 2 = 2.5 % of the exact nearest-rank p95.

GAMMA = 1.05


def _bucket() -> pl.Expr:
    return (pl.col("latency_ms").log1p() / math.log(GAMMA)).floor().cast(pl.Int32).alias("bucket")


def as_latency(events: pl.LazyFrame, *keep: str) -> pl.LazyFrame:
    """Raw events as latency-sketch rows (one per call that reported a latency), with the
    columns ``keep`` as they are."""
    return events.filter(pl.col("latency_ms").is_not_null()).select(
        *keep, *DIMENSIONS, _bucket(), pl.lit(1, pl.Int64).alias("n")
    )


SKETCH_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("ms", "UTC"),  # that row's ts (so a read of some hours can skip the rest)
    "row": pl.UInt32(),  # the row of the rollup file the sketch belongs to
    "bucket": pl.Int32(),
    "n": pl.Int64(),
}


def keyed_sketch(events: pl.LazyFrame, summary: pl.DataFrame, every: str) -> pl.LazyFrame:
    """The latency sketch of ``events`` keyed to the rows of ``summary``, their rollup by
    ``every`` (``"1h"`` or ``"1d"``): calls per (row of ``summary``, bucket). Integer keys
    instead of six strings make a sketch cheap to read and to sum across days."""
    index = summary.lazy().select("ts", *DIMENSIONS).with_row_index("row")
    return (
        events.filter(pl.col("latency_ms").is_not_null())
        .select(pl.col("ts").dt.truncate(every), *DIMENSIONS, _bucket())
        .join(index, on=["ts", *DIMENSIONS], how="inner", nulls_equal=True)
        .group_by("ts", "row", "bucket")
        .agg(pl.len().cast(pl.Int64).alias("n"))
        .sort("row", "bucket")
        .select(list(SKETCH_SCHEMA))
    )


MINUTE_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("ms", "UTC"),
    "api_version": pl.String(),
    "application": pl.String(),
    "calls": pl.Int64(),
    "credits": pl.Int64(),
}


def as_minutes(events: pl.LazyFrame) -> pl.LazyFrame:
    """Raw events as minute rows (one per call): what the live outlook reads."""
    return events.select(
        "ts",
        "api_version",
        "application",
        pl.lit(1, pl.Int64).alias("calls"),
        pl.col("credits").cast(pl.Int64),
    )


def minute_rollup(events: pl.LazyFrame) -> pl.LazyFrame:
    """Calls and credits per UTC minute, version and application: the live questions' rows."""
    return (
        events.group_by(pl.col("ts").dt.truncate("1m"), "api_version", "application")
        .agg(pl.len().cast(pl.Int64).alias("calls"), pl.col("credits").sum().cast(pl.Int64))
        .sort("ts", "api_version", "application", nulls_last=True)
        .select(list(MINUTE_SCHEMA))
    )


def summaries(events: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """What compaction writes beside a day's merged events, by kind: usage rows per hour
    (``rollup``) and per day (``daily``), a latency sketch keyed to the rows of each
    (``hourly-latency``, ``daily-latency``), calls and credits per minute (``minute``),
    usage per quarter hour and version (``quarter``), and per value of each dimension
    (``ranked``)."""
    hourly = rollup(events.lazy()).collect()
    daily = daily_rollup(events.lazy()).collect()
    hourly_sketch, daily_sketch, minutes, quarters, ranked = pl.collect_all(
        [
            keyed_sketch(events.lazy(), hourly, "1h"),
            keyed_sketch(events.lazy(), daily, "1d"),
            minute_rollup(events.lazy()),
            quarter_rollup(events.lazy()),
            ranked_rollup(events.lazy()),
        ]
    )
    return {
        "rollup": hourly,
        "daily": daily,
        "hourly-latency": hourly_sketch,
        "daily-latency": daily_sketch,
        "minute": minutes,
        "quarter": quarters,
        "ranked": ranked,
    }


SUMMARY_KINDS = (
    "rollup",
    "daily",
    "hourly-latency",
    "daily-latency",
    "minute",
    "quarter",
    "ranked",
)


def p95_from_sketch(rows: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """The nearest-rank p95 per ``keys`` from sketch rows: the middle of the bucket where the
    running count first reaches 95 % of the calls."""
    counted = (
        rows.group_by(*keys, "bucket")
        .agg(pl.col("n").sum())
        .filter(pl.col("n") != 0)  # sketches of days taken away (data.lake's window) cancel out
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


_PACK = 1 << 16  # more than any bucket: latencies below 10**300 ms


def p95_by_id(rows: pl.LazyFrame, key: str) -> pl.LazyFrame:
    """:func:`p95_from_sketch` for one non-negative integer key column, faster: the key and
    the bucket packed into one integer, one running sum over all keys, less each key's start.
    (Not a self-join of the running sums: Polars 2.1 can then compute them in another order.)
    """
    packed = (pl.col(key).cast(pl.Int64) * _PACK + pl.col("bucket")).alias("_k")
    counted = (
        rows.group_by(packed)
        .agg(pl.col("n").sum())
        .filter(pl.col("n") != 0)
        .sort("_k")
        .with_columns((pl.col("_k") // _PACK).alias(key), pl.col("n").cum_sum().alias("_run"))
    )
    return (
        counted.with_columns(
            pl.col("n").sum().over(key).alias("_total"),
            (pl.col("_run") - pl.col("n")).min().over(key).alias("_before"),
        )
        .filter(pl.col("_run") - pl.col("_before") >= (pl.col("_total") * 0.95).ceil())
        .group_by(key)
        .agg((pl.col("_k").min() % _PACK).alias("bucket"))
        .select(key, ((GAMMA ** (pl.col("bucket") + 0.5)) - 1).alias("p95_ms"))
    )
