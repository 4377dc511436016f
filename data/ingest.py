"""The one way events get into the lake: parse, validate every rule, then append."""

from __future__ import annotations

from datetime import UTC, datetime

from data.lake import AppendResult, Lake
from data.readers import RawBatch
from data.schema import ValidationError, validate_frame


def store_batch(lake: Lake, batch: RawBatch, *, now: datetime | None = None) -> AppendResult:
    """Validate a raw batch as a whole and store it, or raise :class:`ValidationError`.

    All-or-nothing: one bad record and nothing of the batch is stored.
    """
    now = now or datetime.now(UTC)
    try:
        events = validate_frame(batch.frame, now=now, retention_days=lake.retention_days)
    except ValidationError as exc:
        raise exc.with_lines(batch.lines) from None
    return lake.append(events)
