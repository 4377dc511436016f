"""The process's lake, built once from the settings."""

from __future__ import annotations

import functools

from config import get_settings
from data.lake import Lake


@functools.cache
def get_lake() -> Lake:
    """The lake under ``APIDASH_DATA_DIR`` (one per process: it holds the id index)."""
    settings = get_settings()
    return Lake(settings.data_dir, retention_days=settings.retention_days)
