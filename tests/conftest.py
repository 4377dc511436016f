"""Shared fixtures: a fresh lake folder and settings per test, and the app's test client."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config import get_settings  # noqa: E402
from data import clock  # noqa: E402
from data.cache import get_cache  # noqa: E402
from data.lake import Lake  # noqa: E402
from data.runtime import get_lake  # noqa: E402
from data.schema import STORAGE_SCHEMA  # noqa: E402

TOKEN = "test-token-0123456789"


def reset_caches() -> None:
    get_settings.cache_clear()
    get_lake.cache_clear()
    get_cache.cache_clear()
    clock.set_now(None)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings for one test: its own lake and cache folders, demo off, an ingest token."""
    monkeypatch.setenv("APIDASH_DATA_DIR", str(tmp_path / "lake"))
    monkeypatch.setenv("APIDASH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("APIDASH_DEMO", "off")
    monkeypatch.setenv("APIDASH_INGEST_TOKEN", TOKEN)
    reset_caches()
    yield tmp_path
    reset_caches()


@pytest.fixture
def lake(env: Path) -> Lake:
    return get_lake()


@pytest.fixture
def client(env: Path):
    from app import server

    return server.test_client()


def event(**overrides: object) -> dict[str, object]:
    """One valid V2 event as a client would send it, one minute ago."""
    base: dict[str, object] = {
        "ts": (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
        "api_version": "v2",
        "application": "Zapier Sync",
        "module": "Leads",
        "method": "GET",
        "user": "ana@example.com",
        "ip": "192.0.2.10",
        "status": 200,
        "latency_ms": 120.5,
        "credits": 1,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def stored_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    """Events in storage form (for tests that write straight to a lake)."""
    return pl.DataFrame(rows, schema=STORAGE_SCHEMA)
