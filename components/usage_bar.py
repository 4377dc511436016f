"""The live usage bar: purple below 90 % of the limit, red from 90 %, can pass 100 %."""

from __future__ import annotations

import math

from dash import html

from data.usage import WARN_AT, Usage


def percent_value(percent: float) -> str:
    """The percentage with one decimal, rounded down (so "90.0" never shows purple)."""
    return f"{math.floor(percent * 10) / 10:.1f}"


def percent_text(percent: float) -> str:
    """The percentage as the caption shows it: "89.9 %"."""
    return f"{percent_value(percent)} %"


def usage_bar(usage: Usage, *, title: str, window: str, bar_id: str) -> html.Div:
    """A labelled progress bar of ``usage`` with ``role="progressbar"`` and ``aria-valuenow``."""
    percent = usage.percent
    state = "over" if percent >= WARN_AT else "ok"
    caption = f"{usage.used:,} of {usage.limit:,} used ({percent_text(percent)})"
    return html.Div(
        [
            html.Div(
                [html.H2(title, className="h6 mb-0"), html.Small(window, className="text-muted")],
                className="d-flex justify-content-between align-items-baseline mb-1",
            ),
            html.Div(
                html.Div(
                    className=f"progress-bar usage-bar-{state}",
                    style={"width": f"{min(percent, 100.0):.2f}%"},
                ),
                id=bar_id,
                className="progress usage-progress",
                role="progressbar",
                **{
                    "aria-label": f"{title}: {caption}",
                    "aria-valuenow": percent_value(percent),  # the caption's figure
                    "aria-valuemin": "0",
                    "aria-valuemax": "100",
                    "data-state": state,
                },
            ),
            html.Div(caption, className=f"small mt-1 usage-caption usage-caption-{state}"),
        ],
        className="usage-bar mb-3",
    )
