"""Small hand-made lakes with counts a test can work out independently."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import polars as pl

from data.lake import Lake
from data.schema import STORAGE_SCHEMA

MODULES = {
    "Leads": 70,
    "Contacts": 60,
    "Deals": 50,
    "Accounts": 40,
    "Tasks": 30,
    "Calls": 20,
    "Notes": 10,
}
APPLICATIONS = [
    "Zapier Sync",
    "Mailchimp Connector",
    "Support Portal",
    "Mobile Sales App",
    "NetSuite ERP Bridge",
    "Slack Notifier",
    "Partner Portal",
]
USERS = ["ana@example.com", "bo@example.com", "cy@example.com", "di@example.com", "ed@example.com"]
IPS = [
    "192.0.2.1",
    "192.0.2.2",
    "192.0.2.3",
    "198.51.100.4",
    "198.51.100.5",
    "203.0.113.6",
    "203.0.113.7",
    "2001:db8::8",
]
USER_PATTERN = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3]
METHODS = ["GET", "GET", "POST", "PUT", "GET", "PATCH", "DELETE", "POST"]


def v2_rows(now: datetime, hours_back: float = 2.0) -> list[dict[str, object]]:
    """280 V2 calls spread over the last ``hours_back`` hours; dimensions assigned by a
    fixed rule so that every classification has a different ranking."""
    rows = []
    i = 0
    total = sum(MODULES.values())
    for module, count in MODULES.items():
        for _ in range(count):
            rows.append(
                {
                    "ts": now - timedelta(seconds=60 + i * hours_back * 3600 / (total + 1)),
                    "api_version": "v2",
                    "application": APPLICATIONS[0 if i % 3 == 0 else (i // 2) % len(APPLICATIONS)],
                    "module": module,
                    "method": METHODS[i % len(METHODS)],
                    "user": USERS[4 if i % 13 == 0 else USER_PATTERN[i % len(USER_PATTERN)]],
                    "ip": IPS[(i // 3) % len(IPS) if i % 4 else 0],
                    "status": 500 if i % 25 == 0 else 200,
                    "latency_ms": float(50 + (i % 40) * 5),
                    "credits": 1 + (i % 3 == 0),
                    "id": None,
                }
            )
            i += 1
    return rows


def v1_rows(now: datetime, count: int = 30) -> list[dict[str, object]]:
    """``count`` V1 calls (no application) in the last half hour."""
    return [
        {
            "ts": now - timedelta(seconds=30 + i * 50),
            "api_version": "v1",
            "application": None,
            "module": "Leads" if i % 2 else "Contacts",
            "method": "getRecords" if i % 3 else "insertRecords",
            "user": "legacy@example.com",
            "ip": "198.51.100.200",
            "status": 200,
            "latency_ms": None,
            "credits": 1,
            "id": None,
        }
        for i in range(count)
    ]


def write(lake: Lake, rows: list[dict[str, object]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=STORAGE_SCHEMA)
    lake.append(frame)
    return frame


def counts(rows: list[dict[str, object]], field: str) -> Counter:
    """Calls per value of ``field``, counted in plain Python (independent of Polars)."""
    return Counter(r[field] for r in rows)


def call(ts: datetime, version: str = "v2", credits: int = 1, **extra: object) -> dict:
    """One call in storage form at ``ts``: V2 from Zapier Sync by default, fields overridable."""
    return {
        "ts": ts,
        "api_version": version,
        "application": "Zapier Sync" if version == "v2" else None,
        "module": "Leads",
        "method": "GET" if version == "v2" else "getRecords",
        "user": "ana@example.com",
        "ip": "192.0.2.10",
        "status": 200,
        "latency_ms": 10.0,
        "credits": credits,
        "id": None,
        **extra,
    }


def store(lake: Lake, rows: list[dict]) -> None:
    """Append calls in storage form straight to the lake (no validation: any ts allowed)."""
    lake.append(pl.DataFrame(rows, schema=STORAGE_SCHEMA))
