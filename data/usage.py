"""Live usage against the limits: never cached, read from the lake on every call.

- V2 counts the credits of V2 calls in the rolling window ``(now - 24 h, now]``.
- V1 counts V1 calls since local midnight in ``APIDASH_V1_TIMEZONE`` (daylight saving
  included: the day starts at the local 00:00, whatever its UTC offset).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from data.lake import Lake

PURPLE = "#6f42c1"
RED = "#dc3545"
WARN_AT = 90.0


@dataclass(frozen=True)
class Usage:
    """How much of one version's limit is used, and over which window."""

    version: str
    used: int
    limit: int
    window_start: datetime
    window_end: datetime

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.limit if self.limit else 0.0

    @property
    def colour(self) -> str:
        """Purple below 90 % of the limit, red from 90 %."""
        return RED if self.percent >= WARN_AT else PURPLE


def v1_day_start(now: datetime, zone: str) -> datetime:
    """The UTC instant of the last local midnight in ``zone`` (DST-correct)."""
    local = now.astimezone(ZoneInfo(zone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # replace() keeps the fold/offset of ``local``; recompute the offset for midnight itself.
    midnight = datetime(midnight.year, midnight.month, midnight.day, tzinfo=ZoneInfo(zone))
    return midnight.astimezone(UTC)


def _floor_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _sum(lake: Lake, start: datetime, end: datetime, version: str, column: str) -> int:
    """The sum of ``column`` over ``version``'s usage rows with ``start < ts <= end``.

    Timestamps are stored to the millisecond, so that window is ``[lo, hi)`` with both ends a
    millisecond past the floor of ``start`` and ``end``. Whole hours of compacted days come
    from rollups (exactly the raw sums), the rest from raw events.
    """
    lo = _floor_ms(start) + timedelta(milliseconds=1)
    hi = _floor_ms(end) + timedelta(milliseconds=1)

    def build() -> pl.LazyFrame:
        return (
            lake.usage(lo, hi, now=end)
            .filter(pl.col("api_version") == version)
            .select(pl.col(column).sum().cast(pl.Int64).alias("used"))
        )

    result = lake.collect(build)
    return int(result.item() or 0) if result.height else 0


def v2_usage(lake: Lake, limit: int, now: datetime | None = None) -> Usage:
    now = now or datetime.now(UTC)
    start = now - timedelta(hours=24)
    return Usage("v2", _sum(lake, start, now, "v2", "credits"), limit, start, now)


def v1_usage(lake: Lake, limit: int, zone: str, now: datetime | None = None) -> Usage:
    now = now or datetime.now(UTC)
    start = v1_day_start(now, zone)
    # V1's window includes its first instant: start a millisecond earlier for (start, now].
    used = _sum(lake, start - timedelta(milliseconds=1), now, "v1", "calls")
    return Usage("v1", used, limit, start, now)


def live_usage(
    lake: Lake, limit_v2: int, limit_v1: int, zone: str, now: datetime | None = None
) -> tuple[Usage, Usage]:
    """Both bars in one pass over the last 24 hours, when the V1 day starts on a whole hour
    within them (as it does in every zone a whole number of hours from UTC); otherwise the
    two are read separately. Equal to :func:`v2_usage` and :func:`v1_usage`."""
    now = now or datetime.now(UTC)
    start = now - timedelta(hours=24)
    day_start = v1_day_start(now, zone)
    if day_start <= start or day_start.minute or day_start.second:
        return v2_usage(lake, limit_v2, now), v1_usage(lake, limit_v1, zone, now)
    lo = _floor_ms(start) + timedelta(milliseconds=1)
    hi = _floor_ms(now) + timedelta(milliseconds=1)

    def build() -> pl.LazyFrame:
        version = pl.col("api_version")
        return lake.usage(lo, hi, now=now).select(
            pl.col("credits").filter(version == "v2").sum().cast(pl.Int64).alias("v2"),
            # Usage rows are whole hours or single calls, so a whole-hour start is exact.
            pl.col("calls")
            .filter((version == "v1") & (pl.col("ts") >= day_start))
            .sum()
            .cast(pl.Int64)
            .alias("v1"),
        )

    v2, v1 = lake.collect(build).row(0)
    return (
        Usage("v2", int(v2 or 0), limit_v2, start, now),
        Usage("v1", int(v1 or 0), limit_v1, day_start, now),
    )
