"""V2 outlook: the credits that come back over the next 24 hours, and when the limit is hit.

The outlook is worked out per minute, as of the last whole minute ``t`` (``now`` rounded
down): it covers the 1,440 whole minutes ``[t - 24 h, t)``, so it is read from each day's
minute rollup plus the raw events not compacted yet, whatever the traffic. Each V2 credit
comes back 24 hours after it was spent. At the current rate (the credits of the last 60
whole minutes, per hour), the used count ``x`` minutes after ``t`` is::

    used - credits spent in [t - 24 h, t - 24 h + x min)  +  rate * x / 60

The limit is reached at the first minute where that is at least the limit. Like the usage
bars, this is read live from the lake, never from the statistics cache (the bars themselves
count up to the instant: they may be ahead of the outlook by the current minute's calls).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from data.lake import Lake

HORIZON_MIN = 24 * 60


@dataclass(frozen=True)
class Outlook:
    now: datetime
    used: int
    limit: int
    rate_per_hour: int  # credits spent in the last hour
    returning: pl.DataFrame  # hour (start instant), credits coming back in that hour
    reach_at: datetime | None  # when the limit is reached at the current rate, if within 24 h
    driver: str | None  # the application behind most of the last hour's credits
    driver_share: float  # its share of them (0..1)

    @property
    def over_now(self) -> bool:
        return self.used >= self.limit


def v2_outlook(lake: Lake, limit: int, now: datetime) -> Outlook:
    """The V2 outlook as of the last whole minute before ``now`` (its ``now``)."""
    now = now.replace(second=0, microsecond=0)
    start = now - timedelta(hours=24)

    def build() -> pl.LazyFrame:
        return (
            lake.minutes(start, now, now=now)
            .filter(pl.col("api_version") == "v2")
            .select("ts", "credits", "application")
        )

    window = lake.collect(build)
    used = int(window.get_column("credits").sum() or 0)
    offset_min = (window.get_column("ts") - start).dt.total_milliseconds() // 60_000
    per_minute = (
        window.with_columns(offset_min.alias("minute"))
        .group_by("minute")
        .agg(pl.col("credits").sum())
    )
    back = [0] * HORIZON_MIN
    for minute, credits in per_minute.iter_rows():
        back[min(max(int(minute), 0), HORIZON_MIN - 1)] += int(credits)

    last_hour = window.filter(pl.col("ts") >= now - timedelta(hours=1))
    rate = int(last_hour.get_column("credits").sum() or 0)
    driver, share = None, 0.0
    if rate:
        top = (
            last_hour.group_by("application")
            .agg(pl.col("credits").sum())
            .sort(["credits", "application"], descending=[True, False])
            .row(0)
        )
        driver, share = str(top[0]), top[1] / rate

    reach_at = now if used >= limit else None
    level = used * 60  # in sixtieths of a credit: whole numbers, no float rounding drift
    if reach_at is None:
        for minute in range(HORIZON_MIN):
            level += rate - 60 * back[minute]
            if level >= limit * 60:
                reach_at = now + timedelta(minutes=minute + 1)
                break

    hours = [start + timedelta(hours=h) for h in range(24)]
    returning = pl.DataFrame(
        {
            "hour": [h + timedelta(hours=24) for h in hours],
            "credits": [sum(back[h * 60 : (h + 1) * 60]) for h in range(24)],
        },
        schema={"hour": pl.Datetime("ms", "UTC"), "credits": pl.Int64},
    )
    return Outlook(now, used, limit, rate, returning, reach_at, driver, share)
