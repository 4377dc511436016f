"""Figures as pure functions of small frames (Plotly takes Polars directly)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

PALETTE = ["#6f42c1", "#0d6efd", "#20c997", "#fd7e14", "#d63384", "#0dcaf0"]
OTHER_COLOUR = "#adb5bd"
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'


def _layout(fig: go.Figure, **extra: object) -> go.Figure:
    base: dict[str, object] = {
        "template": "plotly_white",
        "font": {"family": FONT, "size": 13, "color": "#212529"},
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    }
    fig.update_layout(**(base | extra))
    return fig


def doughnut_figure(top: pl.DataFrame, hrefs: list[str]) -> go.Figure:
    """A doughnut of ``top`` (value, calls, share; "Other" last); each slice carries the link
    its click opens, in ``customdata``."""
    values = top.get_column("value").to_list()
    colours = [
        OTHER_COLOUR if str(v).startswith("Other (") else PALETTE[i % len(PALETTE)]
        for i, v in enumerate(values)
    ]
    fig = go.Figure(
        go.Pie(
            labels=values,
            values=top.get_column("calls").to_list(),
            customdata=hrefs,
            hole=0.55,
            sort=False,
            direction="clockwise",
            marker={"colors": colours, "line": {"color": "#ffffff", "width": 2}},
            textinfo="percent",
            hovertemplate="<b>%{label}</b><br>%{value:,} calls (%{percent})<extra></extra>",
        )
    )
    total = int(top.get_column("calls").sum())
    return _layout(
        fig,
        showlegend=True,
        legend={"orientation": "v", "x": 1.02, "y": 0.5},
        annotations=[
            {
                "text": f"<b>{total:,}</b><br>calls",
                "showarrow": False,
                "font": {"size": 15},
                "x": 0.5,
                "y": 0.5,
                "xref": "paper",
                "yref": "paper",
            }
        ],
        height=300,
    )


def timeline_figure(
    buckets: pl.DataFrame,
    *,
    bucket: str,
    timezone: str,
    version: str,
    limit: int | None,
) -> go.Figure:
    """Calls (V1, all) or credits (V2) per hour or per day, with the daily limit for context.

    By hour, a running total is drawn against the limit; by day, the limit is a line.
    """
    measure = "credits" if version == "v2" else "calls"
    unit = "Credits" if measure == "credits" else "Calls"
    fig = go.Figure()
    for i, (name, part) in enumerate(
        buckets.sort("bucket").group_by("api_version", maintain_order=True)
    ):
        fig.add_bar(
            x=part.get_column("bucket").to_list(),
            y=part.get_column(measure).to_list(),
            name=str(name[0]).upper(),
            marker_color=PALETTE[i],
            hovertemplate=f"%{{x}}<br>%{{y:,}} {measure}<extra>%{{fullData.name}}</extra>",
        )
    if limit and bucket == "hour" and buckets.height:
        per_hour = buckets.group_by("bucket").agg(pl.col(measure).sum()).sort("bucket")
        fig.add_scatter(
            x=per_hour.get_column("bucket").to_list(),
            y=per_hour.get_column(measure).cum_sum().to_list(),
            name=f"Running total ({unit.lower()})",
            mode="lines",
            line={"color": "#212529", "width": 2},
        )
    if limit:
        fig.add_hline(
            y=limit,
            line={"color": "#dc3545", "dash": "dash", "width": 2},
            annotation_text=f"Daily limit {limit:,}",
            annotation_position="top left",
        )
    step = "Hour" if bucket == "hour" else "Day"
    return _layout(
        fig,
        barmode="stack",
        height=340,
        showlegend=True,
        legend={"orientation": "h", "y": -0.2},
        xaxis={"title": {"text": f"{step} ({timezone})"}, "showgrid": False},
        yaxis={"title": {"text": unit}, "rangemode": "tozero", "tickformat": ",d"},
        margin={"l": 8, "r": 8, "t": 24, "b": 8},
    )


def returning_figure(returning: pl.DataFrame, *, timezone: str) -> go.Figure:
    """Credits coming back per hour over the next 24 hours (each returns 24 h after use)."""
    local = returning.with_columns(pl.col("hour").dt.convert_time_zone(timezone))
    fig = go.Figure(
        go.Bar(
            x=local.get_column("hour").to_list(),
            y=local.get_column("credits").to_list(),
            marker_color=PALETTE[2],
            name="Credits coming back",
            hovertemplate="%{x|%H:%M}<br>%{y:,} credits come back<extra></extra>",
        )
    )
    return _layout(
        fig,
        height=220,
        showlegend=False,
        xaxis={
            "title": {"text": f"Next 24 hours ({timezone})"},
            "tickformat": "%H:%M",
            "showgrid": False,
        },
        yaxis={"title": {"text": "Credits"}, "rangemode": "tozero", "tickformat": ",d"},
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
    )


def warm_up() -> None:
    """Build one figure of each kind from a tiny frame, and throw them away.

    A process's first Plotly figure loads the template and the property validators (about
    150 ms); a worker calls this before it takes traffic, so its first viewer does not wait.
    """
    hours = pl.datetime_range(
        pl.datetime(2026, 1, 1, time_zone="UTC"),
        pl.datetime(2026, 1, 1, 1, time_zone="UTC"),
        interval="1h",
        eager=True,
    )
    buckets = pl.DataFrame(
        {"bucket": hours, "api_version": ["v2", "v2"], "calls": [1, 2], "credits": [1, 2]}
    )
    timeline_figure(buckets, bucket="hour", timezone="UTC", version="v2", limit=10)
    returning_figure(buckets.select(hour="bucket", credits="credits"), timezone="UTC")
    doughnut_figure(pl.DataFrame({"value": ["a", "Other (1)"], "calls": [2, 1]}), ["#", "#"])
