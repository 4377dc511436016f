"""The time ranges a viewer can pick, resolved to UTC instants in ``APIDASH_TIMEZONE``.

Presets: last 24 hours, today, yesterday, last 7 days, last 30 days (the default), one
specific date, or a custom range of dates. Calendar days are days of ``APIDASH_TIMEZONE``;
nothing reaches further back than the retention window.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PRESETS: dict[str, str] = {
    "24h": "Last 24 hours",
    "today": "Today",
    "yesterday": "Yesterday",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "date": "A specific date",
    "custom": "Custom range",
}
DEFAULT_PRESET = "30d"
VERSIONS: dict[str, str] = {"v2": "V2", "v1": "V1", "all": "All versions"}
DEFAULT_VERSION = "v2"


@dataclass(frozen=True)
class TimeRange:
    """``[start, end)`` in UTC, how it was asked for, and how a time chart buckets it."""

    preset: str
    start: datetime
    end: datetime
    label: str
    bucket: str  # "hour" or "day"
    timezone: str
    day: date | None = None  # the specific date, for preset "date"
    first: date | None = None  # the custom range's first and last dates
    last: date | None = None
    notice: str | None = None  # a word about a value that was corrected


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _parse_day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def resolve(
    preset: str | None,
    *,
    now: datetime,
    timezone: str,
    retention_days: int,
    day: str | None = None,
    first: str | None = None,
    last: str | None = None,
) -> TimeRange:
    """Turn the URL's ``range`` (and ``date`` / ``start`` + ``end``) into a :class:`TimeRange`.

    Unknown or out-of-retention values are corrected, with a ``notice`` that says how.
    """
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    oldest = (now - timedelta(days=retention_days)).astimezone(zone).date()
    notice = None
    if preset not in PRESETS:
        if preset:
            notice = f"Unknown range {preset!r}: showing the last 30 days."
        preset = DEFAULT_PRESET

    def clamp(value: date | None, fallback: date, what: str) -> date:
        nonlocal notice
        if value is None:
            return fallback
        if value < oldest:
            notice = f"The {what} is older than the {retention_days}-day retention window."
            return oldest
        if value > today:
            notice = f"The {what} is in the future."
            return today
        return value

    rng = _resolve(preset, now, zone, today, clamp, timezone, day, first, last)
    if rng.notice is None and notice is not None:
        rng = replace(rng, notice=notice)
    return rng


def _resolve(preset, now, zone, today, clamp, timezone, day, first, last) -> TimeRange:  # noqa: ANN001
    notice = None
    if preset == "24h":
        return TimeRange(preset, now - timedelta(hours=24), now, PRESETS[preset], "hour", timezone)
    if preset == "today":
        start = _local_midnight(today, zone)
        return TimeRange(preset, start, now, f"Today, {today:%b %d}", "hour", timezone)
    if preset == "yesterday":
        y = today - timedelta(days=1)
        start, end = _local_midnight(y, zone), _local_midnight(today, zone)
        return TimeRange(preset, start, end, f"Yesterday, {y:%b %d}", "hour", timezone, day=y)
    if preset in ("7d", "30d"):
        days = 7 if preset == "7d" else 30
        return TimeRange(preset, now - timedelta(days=days), now, PRESETS[preset], "day", timezone)
    if preset == "date":
        if day is not None and _parse_day(day) is None:
            notice = f"{day!r} is not a date (YYYY-MM-DD): showing today."
        chosen = clamp(_parse_day(day), today, "date")
        start = _local_midnight(chosen, zone)
        end = min(_local_midnight(chosen + timedelta(days=1), zone), now)
        return TimeRange(
            preset,
            start,
            end,
            f"{chosen:%a %b %d, %Y}",
            "hour",
            timezone,
            day=chosen,
            notice=notice,
        )
    # custom
    lo = clamp(_parse_day(first), today - timedelta(days=6), "start date")
    hi = clamp(_parse_day(last), today, "end date")
    if hi < lo:
        lo, hi = hi, lo
        notice = "The end date was before the start date: the two were swapped."
    start = _local_midnight(lo, zone)
    end = min(_local_midnight(hi + timedelta(days=1), zone), now)
    label = f"{lo:%b %d} – {hi:%b %d, %Y}"
    return TimeRange(
        preset,
        start,
        end,
        label,
        "day" if hi > lo else "hour",
        timezone,
        first=lo,
        last=hi,
        notice=notice,
    )
