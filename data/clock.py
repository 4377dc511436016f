"""The one wall clock of the app, so tests can set the time instead of waiting for it."""

from __future__ import annotations

from datetime import UTC, datetime

_fixed: datetime | None = None


def now() -> datetime:
    """The current instant (aware, UTC), or the instant a test fixed."""
    return _fixed if _fixed is not None else datetime.now(UTC)


def set_now(moment: datetime | None) -> None:
    """Fix the clock at ``moment`` (tests only); ``None`` returns to the wall clock."""
    global _fixed
    _fixed = moment
