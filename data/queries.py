"""The statistics, as pure ``LazyFrame -> LazyFrame`` functions (no I/O, no collect).

They take *usage rows* (:mod:`data.rollup`: ``ts``, the dimensions, ``calls``, ``credits``,
``errors``), which come from rollups or raw events alike, so an answer does not depend on
where its rows came from. :mod:`data.stats` composes them and collects once per question.
"""

from __future__ import annotations

import polars as pl

from data.rollup import p95_by_id

#: The classifications a table can open on, in the order the table shows them.
DIMENSIONS: dict[str, str] = {
    "application": "Application",
    "module": "Module",
    "method": "Method",
    "user": "User",
    "ip": "IP address",
    "api_version": "Version",
}
NO_APPLICATION = "(no application)"
OTHER = "Other"


def for_version(frame: pl.LazyFrame, version: str) -> pl.LazyFrame:
    """Only ``v1`` or ``v2`` calls; ``all`` keeps both."""
    return frame if version == "all" else frame.filter(pl.col("api_version") == version)


def with_labels(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Name V1 calls without an application "(no application)"."""
    return frame.with_columns(pl.col("application").fill_null(NO_APPLICATION))


def _measures() -> list[pl.Expr]:
    """Sums over usage rows."""
    return [
        pl.col(name).sum().cast(pl.Int64).alias(name) for name in ("calls", "credits", "errors")
    ]


def totals(frame: pl.LazyFrame) -> pl.LazyFrame:
    """One row: calls, credits, errors."""
    return frame.select(_measures())


def _called(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Only groups with calls: usage rows of days taken away from a multi-day summary come
    with negative measures (:meth:`data.lake.Lake.usage`), so a value seen only on those days
    sums to zero calls and is not there."""
    return frame.filter(pl.col("calls") != 0)


def ranked_part(frame: pl.LazyFrame, dimension: str) -> pl.LazyFrame:
    """Calls, credits and errors per value of ``dimension``."""
    return frame.group_by(pl.col(dimension).alias("value")).agg(_measures()).pipe(_called)


def with_share(ranked_values: pl.LazyFrame) -> pl.LazyFrame:
    """Each value's share of the calls, sorted by calls (most first) then by value."""
    return ranked_values.with_columns(
        (pl.col("calls") / pl.col("calls").sum()).alias("share")
    ).sort(["calls", "value"], descending=[True, False])


def ranked(frame: pl.LazyFrame, dimension: str) -> pl.LazyFrame:
    """Every value of ``dimension`` with calls, credits, errors and its share of calls."""
    return frame.pipe(ranked_part, dimension).pipe(with_share)


def ranked_values(rows: pl.LazyFrame, dimension: str) -> pl.LazyFrame:
    """:func:`ranked` from *ranked rows* (:func:`data.rollup.as_ranked`): the same answer,
    read from sums per value instead of per combination."""
    value = pl.col("value")
    if dimension == "application":
        value = value.fill_null(NO_APPLICATION)  # as with_labels names them
    chosen = rows.filter(pl.col("dimension") == dimension).with_columns(value)
    return chosen.pipe(ranked, "value")


def ranked_totals(rows: pl.LazyFrame) -> pl.LazyFrame:
    """:func:`totals` from ranked rows (each call is counted once under ``api_version``)."""
    return rows.filter(pl.col("dimension") == "api_version").pipe(totals)


def top_with_other(ranked_values: pl.DataFrame, n: int) -> pl.DataFrame:
    """The first ``n`` rows of :func:`ranked`, plus one "Other" row for the rest.

    The shares then add up to the whole, as a doughnut's slices must.
    """
    head = ranked_values.head(n)
    rest = ranked_values.slice(n)
    if rest.is_empty():
        return head
    other = rest.select(
        pl.lit(f"{OTHER} ({rest.height:,})").alias("value"),
        pl.col("calls").sum(),
        pl.col("credits").sum(),
        pl.col("errors").sum(),
        pl.col("share").sum(),
    )
    return pl.concat([head, other.cast(head.schema)])


def by_bucket(frame: pl.LazyFrame, bucket: str, timezone: str) -> pl.LazyFrame:
    """Calls and credits per hour or per day of ``timezone``, per version."""
    every = "1h" if bucket == "hour" else "1d"
    local = pl.col("ts").dt.convert_time_zone(timezone).dt.truncate(every)
    return (
        frame.group_by(local.alias("bucket"), "api_version")
        .agg(_measures())
        .sort(["bucket", "api_version"])
    )


def combinations(frame: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (application, module, method, user, IP, version) with its measures."""
    keys = list(DIMENSIONS)
    return (
        frame.group_by(keys)
        .agg(_measures())
        .pipe(_called)
        .sort(["calls", *keys], descending=[True] + [False] * len(keys), nulls_last=True)
    )


def combinations_with_p95(frame: pl.LazyFrame, sketch: pl.LazyFrame) -> pl.LazyFrame:
    """:func:`combinations` with each one's p95 latency (``p95_ms``). ``frame``'s usage rows
    carry a ``key``; ``sketch`` holds the latency sketch of each key (``key``, ``bucket``,
    ``n``): the sketches of a combination's rows are summed, then read."""
    keys = list(DIMENSIONS)
    combos = (
        frame.group_by(keys).agg(*_measures(), pl.col("key")).pipe(_called).with_row_index("combo")
    )
    members = combos.select("combo", "key").explode("key")
    p95 = sketch.join(members, on="key", how="inner").pipe(p95_by_id, "combo")
    return (
        combos.drop("key")
        .join(p95, on="combo", how="left")
        .drop("combo")
        .sort(["calls", *keys], descending=[True] + [False] * len(keys), nulls_last=True)
    )


def connections(frame: pl.LazyFrame, dimension: str, value: str) -> pl.LazyFrame:
    """What ``value`` of ``dimension`` connects to: for each other dimension, its values
    among those calls with their counts (long form: dimension, value, calls)."""
    chosen = frame.filter(pl.col(dimension) == value)
    parts = [
        chosen.group_by(pl.col(other).alias("value"))
        .agg(pl.col("calls").sum().cast(pl.Int64))
        .pipe(_called)
        .select(pl.lit(other).alias("dimension"), "value", "calls")
        for other in DIMENSIONS
        if other != dimension
    ]
    order = {d: i for i, d in enumerate(DIMENSIONS)}
    return (
        pl.concat(parts)
        .with_columns(pl.col("dimension").replace_strict(order, return_dtype=pl.Int32).alias("o"))
        .sort(["o", "calls", "value"], descending=[False, True, False])
        .drop("o")
    )
