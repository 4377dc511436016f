"""The time ranges a viewer can pick, resolved to UTC instants in ``APIDASH_TIMEZONE``.

Presets: last 24 hours, today, yesterday, last 7 days, last 30 days (the default), one
specific date, or a custom range of dates. Calendar days are days of ``APIDASH_TIMEZONE``;
nothing reaches further back than the retention window.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    return _Resolver(now, timezone, retention_days).resolve(preset, day, first, last)


class _Resolver:
    """Resolves one request; remembers the last correction it had to make."""

    def __init__(self, now: datetime, timezone: str, retention_days: int) -> None:
        self.now = now
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)
        self.retention_days = retention_days
        self.today = now.astimezone(self.zone).date()
        self.oldest = (now - timedelta(days=retention_days)).astimezone(self.zone).date()
        self.notice: str | None = None

    def clamp(self, value: date | None, fallback: date, what: str) -> date:
        if value is None:
            return fallback
        if value < self.oldest:
            self.notice = (
                f"The {what} is older than the {self.retention_days}-day retention window."
            )
            return self.oldest
        if value > self.today:
            self.notice = f"The {what} is in the future."
            return self.today
        return value

    def midnight(self, day: date) -> datetime:
        return _local_midnight(day, self.zone)

    def make(
        self, preset: str, start: datetime, end: datetime, label: str, bucket: str, **dates: date
    ) -> TimeRange:
        return TimeRange(
            preset, start, end, label, bucket, self.timezone, notice=self.notice, **dates
        )

    def resolve(
        self, preset: str | None, day: str | None, first: str | None, last: str | None
    ) -> TimeRange:
        now, today = self.now, self.today
        if preset not in PRESETS:
            if preset:
                self.notice = f"Unknown range {preset!r}: showing the last 30 days."
            preset = DEFAULT_PRESET
        if preset == "24h":
            return self.make(preset, now - timedelta(hours=24), now, PRESETS[preset], "hour")
        if preset == "today":
            return self.make(preset, self.midnight(today), now, f"Today, {today:%b %d}", "hour")
        if preset == "yesterday":
            y = today - timedelta(days=1)
            label = f"Yesterday, {y:%b %d}"
            return self.make(preset, self.midnight(y), self.midnight(today), label, "hour", day=y)
        if preset in ("7d", "30d"):
            days = 7 if preset == "7d" else 30
            return self.make(preset, now - timedelta(days=days), now, PRESETS[preset], "day")
        if preset == "date":
            if day is not None and _parse_day(day) is None:
                self.notice = f"{day!r} is not a date (YYYY-MM-DD): showing today."
            chosen = self.clamp(_parse_day(day), today, "date")
            end = min(self.midnight(chosen + timedelta(days=1)), now)
            label = f"{chosen:%a %b %d, %Y}"
            return self.make(preset, self.midnight(chosen), end, label, "hour", day=chosen)
        lo = self.clamp(_parse_day(first), today - timedelta(days=6), "start date")
        hi = self.clamp(_parse_day(last), today, "end date")
        if hi < lo:
            lo, hi = hi, lo
            self.notice = "The end date was before the start date: the two were swapped."
        end = min(self.midnight(hi + timedelta(days=1)), now)
        label = f"{lo:%b %d} – {hi:%b %d, %Y}"
        bucket = "day" if hi > lo else "hour"
        return self.make(preset, self.midnight(lo), end, label, bucket, first=lo, last=hi)
