"""The time chart: one day by hour, or a range of dates by day, with the daily limit."""

from __future__ import annotations

import polars as pl
from dash import dcc, html

from components.cards import empty_state
from components.figures import timeline_figure
from config import get_settings
from data import stats
from data.timerange import TimeRange


def time_chart(
    rng: TimeRange,
    version: str,
    *,
    graph_id: str = "time-chart",
    buckets: pl.DataFrame | None = None,
) -> html.Div:
    """The chart for ``rng`` and ``version``, or an empty state when there were no calls."""
    settings = get_settings()
    if buckets is None:
        buckets = stats.timeline(rng.start, rng.end, version, rng.bucket, settings.timezone)
    if buckets.is_empty():
        return empty_state("No API calls in this range.", "Pick a longer range or another version.")
    limit = {"v2": settings.limit_v2, "v1": settings.limit_v1}.get(version)
    unit = "credits" if version == "v2" else "calls"
    step = "hour" if rng.bucket == "hour" else "day"
    caption = f"{unit.capitalize()} per {step}, times in {settings.timezone}" + (
        f"; the dashed line is the daily limit ({limit:,} {unit})"
        if limit
        else "; limits apply to each version separately"
    )
    return html.Figure(
        [
            dcc.Graph(
                id=graph_id,
                figure=timeline_figure(
                    buckets,
                    bucket=rng.bucket,
                    timezone=settings.timezone,
                    version=version,
                    limit=limit,
                ),
                config={"displayModeBar": False, "responsive": True},
            ),
            html.Figcaption(caption, className="small text-muted"),
        ],
        className="mb-0",
    )
