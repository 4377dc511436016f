"""Every ``APIDASH_*`` setting, read once from the environment into one typed object.

Nothing else in the project reads ``os.environ`` for an ``APIDASH_*`` variable: call
:func:`get_settings` (cached) or build one with :func:`load_settings` in tests.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEMO_MODES = ("seed", "live", "off")


class ConfigError(ValueError):
    """A setting has a value the app cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """The app's configuration. Field comments name the environment variable."""

    data_dir: Path  # APIDASH_DATA_DIR
    cache_dir: Path  # APIDASH_CACHE_DIR
    retention_days: int  # APIDASH_RETENTION_DAYS
    limit_v2: int  # APIDASH_LIMIT_V2
    limit_v1: int  # APIDASH_LIMIT_V1
    timezone: str  # APIDASH_TIMEZONE
    v1_timezone: str  # APIDASH_V1_TIMEZONE
    refresh_minutes: int  # APIDASH_REFRESH_MINUTES
    ingest_tokens: tuple[str, ...]  # APIDASH_INGEST_TOKEN (comma-separated for rotation)
    ingest_max_bytes: int  # APIDASH_INGEST_MAX_BYTES
    demo: str  # APIDASH_DEMO
    maintenance_minutes: int  # APIDASH_MAINTENANCE_MINUTES
    frame_ancestors: str  # APIDASH_FRAME_ANCESTORS
    viewer_header: str | None  # APIDASH_VIEWER_HEADER (set by the trusted reverse proxy)
    viewer_allow: tuple[str, ...]  # APIDASH_VIEWER_ALLOW (names, or @domain, comma-separated)
    basic_auth: tuple[tuple[str, str], ...]  # APIDASH_BASIC_AUTH ("user:password,…")

    @property
    def ingest_enabled(self) -> bool:
        return bool(self.ingest_tokens)


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _zone(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name} must be an IANA time zone such as 'UTC' or 'Europe/Paris', got {value!r}"
        ) from None
    return value


def _list(env: Mapping[str, str], name: str, *, lower: bool = False) -> tuple[str, ...]:
    items = (item.strip() for item in env.get(name, "").split(","))
    return tuple(item.lower() if lower else item for item in items if item)


def _pairs(env: Mapping[str, str], name: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in _list(env, name):
        user, sep, password = item.partition(":")
        if not sep or not user or not password:
            raise ConfigError(f"{name} must be user:password pairs separated by commas")
        pairs.append((user, password))
    return tuple(pairs)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read every ``APIDASH_*`` variable from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("APIDASH_DATA_DIR", "").strip() or "var/lake")
    cache_dir = Path(env.get("APIDASH_CACHE_DIR", "").strip() or "var/cache")
    demo = env.get("APIDASH_DEMO", "").strip().lower() or "seed"
    if demo not in DEMO_MODES:
        raise ConfigError(f"APIDASH_DEMO must be one of {', '.join(DEMO_MODES)}, got {demo!r}")
    tokens = tuple(t.strip() for t in env.get("APIDASH_INGEST_TOKEN", "").split(",") if t.strip())
    refresh = _int(env, "APIDASH_REFRESH_MINUTES", 15, 1)
    if 60 % refresh:
        raise ConfigError(
            f"APIDASH_REFRESH_MINUTES must divide 60 (periods align to the hour), got {refresh}"
        )
    return Settings(
        data_dir=data_dir,
        cache_dir=cache_dir,
        retention_days=_int(env, "APIDASH_RETENTION_DAYS", 30, 1),
        limit_v2=_int(env, "APIDASH_LIMIT_V2", 100_000, 1),
        limit_v1=_int(env, "APIDASH_LIMIT_V1", 25_000, 1),
        timezone=_zone(env, "APIDASH_TIMEZONE", "UTC"),
        v1_timezone=_zone(env, "APIDASH_V1_TIMEZONE", "America/Los_Angeles"),
        refresh_minutes=refresh,
        ingest_tokens=tokens,
        ingest_max_bytes=_int(env, "APIDASH_INGEST_MAX_BYTES", 32 * 1024 * 1024, 1024),
        demo=demo,
        maintenance_minutes=_int(env, "APIDASH_MAINTENANCE_MINUTES", 10, 1),
        frame_ancestors=env.get("APIDASH_FRAME_ANCESTORS", "").strip() or "'self'",
        viewer_header=env.get("APIDASH_VIEWER_HEADER", "").strip() or None,
        viewer_allow=_list(env, "APIDASH_VIEWER_ALLOW", lower=True),
        basic_auth=_pairs(env, "APIDASH_BASIC_AUTH"),
    )


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
