"""Realistic demo traffic of a metered CRM-style API (V1 and V2), as a storage-schema frame.

The model is a set of :data:`INTEGRATIONS`: each one is an application authorised by a user,
calling from a few IP addresses, with its own mix of modules and methods, a daily rhythm
(business hours in some zone, a nightly batch job or flat 24/7), an error rate, a latency
distribution and, for some, bulk calls costing several credits.

Time is cut into one-minute bins (partial at the window's edges); each integration's call count
in a bin is a Poisson draw around its rate at that minute, so a window of a few seconds gets
a handful of calls and 30 days get about two million. Rates are sized from the limits:

* V2 credits over any rolling 24 hours sit near 70 % of ``limit_v2`` (every rhythm averages
  to one over its day, and the weekend dip of business-hours integrations is mild);
* V1 calls per weekday in ``v1_timezone`` sit near 45 % of ``limit_v1`` (much less at
  weekends).

Day-level variation (a +-5 % volume factor and, on some days, a short incident with many
5xx answers) is drawn from the seed and the UTC day alone, so history generated in one go and
"live" windows generated a few seconds at a time agree on it. Everything else is drawn from an
RNG derived from the seed and the window, so the same window is reproducible and consecutive
windows differ.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from data.schema import STORAGE_SCHEMA

__all__ = [
    "INTEGRATIONS",
    "V1_METHODS",
    "V2_METHODS",
    "Integration",
    "generate_events",
]


class Integration(TypedDict):
    """One client of the API: who calls, from where, what, when and how well.

    ``share`` is the integration's part of its API version's calls on a weekday (shares of one
    version add up to 1). ``rhythm`` is ``"business"``, ``"nightly"`` or ``"flat"``;
    ``timezone`` is the zone whose clock the rhythm follows (``None``: the ``v1_timezone``
    given to :func:`generate_events`). A bulk call costs 2 to ``bulk_max_credits`` credits.
    """

    api_version: str
    application: str | None
    users: dict[str, float]
    ips: dict[str, float]
    modules: dict[str, float]
    methods: dict[str, float]
    rhythm: str
    timezone: str | None
    share: float
    error_rate: float
    latency_median_ms: float
    latency_sigma: float
    bulk_share: float
    bulk_max_credits: int


#: HTTP methods of the V2 (REST) API.
V2_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

#: Method names of the legacy V1 API.
V1_METHODS = (
    "getRecords",
    "insertRecords",
    "updateRecords",
    "searchRecords",
    "getRelatedRecords",
    "deleteRecords",
    "getFields",
    "convertLead",
)

#: The integrations behind the demo traffic. The first user of ``users`` authorised it.
INTEGRATIONS: list[Integration] = [
    # ---- V2: a clear top five, then a long tail ------------------------------------------
    {
        "api_version": "v2",
        "application": "Zapier Sync",
        "users": {
            "ops.automation@example.com": 0.7,
            "maria.lopez@example.com": 0.2,
            "dev.sandbox@example.com": 0.1,
        },
        "ips": {"203.0.113.10": 0.4, "203.0.113.11": 0.35, "203.0.113.12": 0.25},
        "modules": {"Leads": 0.35, "Contacts": 0.3, "Deals": 0.2, "Tasks": 0.1, "Notes": 0.05},
        "methods": {"GET": 0.55, "POST": 0.25, "PUT": 0.08, "PATCH": 0.1, "DELETE": 0.02},
        "rhythm": "flat",
        "timezone": "UTC",
        "share": 0.25,
        "error_rate": 0.018,
        "latency_median_ms": 180.0,
        "latency_sigma": 0.5,
        "bulk_share": 0.03,
        "bulk_max_credits": 3,
    },
    {
        "api_version": "v2",
        "application": "Mailchimp Connector",
        "users": {"marketing.ops@example.com": 0.75, "lena.fischer@example.com": 0.25},
        "ips": {"198.51.100.23": 0.6, "198.51.100.24": 0.4},
        "modules": {"Contacts": 0.45, "Campaigns": 0.3, "Leads": 0.25},
        "methods": {"GET": 0.45, "POST": 0.3, "PUT": 0.1, "PATCH": 0.15},
        "rhythm": "business",
        "timezone": "America/New_York",
        "share": 0.17,
        "error_rate": 0.012,
        "latency_median_ms": 250.0,
        "latency_sigma": 0.45,
        "bulk_share": 0.15,
        "bulk_max_credits": 5,
    },
    {
        "api_version": "v2",
        "application": "Support Portal",
        "users": {"support.portal@example.com": 0.8, "helpdesk@example.com": 0.2},
        "ips": {"203.0.113.80": 0.7, "2001:db8:4f2a::80": 0.3},
        "modules": {"Contacts": 0.4, "Accounts": 0.25, "Notes": 0.2, "Tasks": 0.15},
        "methods": {"GET": 0.75, "POST": 0.12, "PUT": 0.05, "PATCH": 0.08},
        "rhythm": "business",
        "timezone": "Europe/London",
        "share": 0.14,
        "error_rate": 0.008,
        "latency_median_ms": 120.0,
        "latency_sigma": 0.4,
        "bulk_share": 0.0,
        "bulk_max_credits": 1,
    },
    {
        "api_version": "v2",
        "application": "Mobile Sales App",
        "users": {
            "j.carter@example.com": 0.3,
            "a.nguyen@example.com": 0.25,
            "r.patel@example.com": 0.25,
            "s.kim@example.com": 0.2,
        },
        "ips": {
            "198.51.100.101": 0.35,
            "198.51.100.150": 0.25,
            "2001:db8:85a3::8a2e:370:7334": 0.25,
            "192.0.2.201": 0.15,
        },
        "modules": {
            "Deals": 0.25,
            "Accounts": 0.2,
            "Contacts": 0.2,
            "Meetings": 0.12,
            "Calls": 0.12,
            "Notes": 0.11,
        },
        "methods": {"GET": 0.7, "POST": 0.15, "PUT": 0.05, "PATCH": 0.08, "DELETE": 0.02},
        "rhythm": "business",
        "timezone": "America/Chicago",
        "share": 0.12,
        "error_rate": 0.025,
        "latency_median_ms": 150.0,
        "latency_sigma": 0.6,
        "bulk_share": 0.0,
        "bulk_max_credits": 1,
    },
    {
        "api_version": "v2",
        "application": "NetSuite ERP Bridge",
        "users": {"erp.integration@example.com": 0.9, "finance.admin@example.com": 0.1},
        "ips": {"192.0.2.44": 1.0},
        "modules": {"Accounts": 0.3, "Products": 0.25, "Invoices": 0.25, "Quotes": 0.2},
        "methods": {"GET": 0.3, "POST": 0.3, "PUT": 0.35, "DELETE": 0.05},
        "rhythm": "nightly",
        "timezone": "UTC",
        "share": 0.09,
        "error_rate": 0.01,
        "latency_median_ms": 400.0,
        "latency_sigma": 0.5,
        "bulk_share": 0.35,
        "bulk_max_credits": 8,
    },
    {
        "api_version": "v2",
        "application": "Outlook Calendar Sync",
        "users": {"it.admin@example.com": 0.6, "maria.lopez@example.com": 0.4},
        "ips": {"198.51.100.60": 0.5, "198.51.100.61": 0.5},
        "modules": {"Meetings": 0.6, "Tasks": 0.25, "Calls": 0.15},
        "methods": {"GET": 0.6, "POST": 0.2, "PUT": 0.15, "DELETE": 0.05},
        "rhythm": "business",
        "timezone": "Europe/Berlin",
        "share": 0.055,
        "error_rate": 0.006,
        "latency_median_ms": 110.0,
        "latency_sigma": 0.35,
        "bulk_share": 0.0,
        "bulk_max_credits": 1,
    },
    {
        "api_version": "v2",
        "application": "Data Warehouse Export",
        "users": {"bi.etl@example.com": 0.9, "ops.automation@example.com": 0.1},
        "ips": {"192.0.2.50": 1.0},
        "modules": {
            "Leads": 0.15,
            "Contacts": 0.15,
            "Deals": 0.15,
            "Accounts": 0.15,
            "Invoices": 0.1,
            "Products": 0.1,
            "Campaigns": 0.1,
            "Calls": 0.1,
        },
        "methods": {"GET": 0.97, "POST": 0.03},
        "rhythm": "nightly",
        "timezone": "UTC",
        "share": 0.045,
        "error_rate": 0.005,
        "latency_median_ms": 350.0,
        "latency_sigma": 0.4,
        "bulk_share": 0.45,
        "bulk_max_credits": 8,
    },
    {
        "api_version": "v2",
        "application": "Slack Notifier",
        "users": {"ops.automation@example.com": 1.0},
        "ips": {"203.0.113.33": 1.0},
        "modules": {"Deals": 0.5, "Leads": 0.3, "Tasks": 0.2},
        "methods": {"GET": 1.0},
        "rhythm": "business",
        "timezone": "America/New_York",
        "share": 0.04,
        "error_rate": 0.007,
        "latency_median_ms": 90.0,
        "latency_sigma": 0.3,
        "bulk_share": 0.0,
        "bulk_max_credits": 1,
    },
    {
        "api_version": "v2",
        "application": "DocuSign Quotes",
        "users": {"deal.desk@example.com": 0.85, "j.carter@example.com": 0.15},
        "ips": {"198.51.100.77": 1.0},
        "modules": {"Quotes": 0.55, "Deals": 0.3, "Accounts": 0.15},
        "methods": {"GET": 0.5, "POST": 0.2, "PATCH": 0.3},
        "rhythm": "business",
        "timezone": "America/Los_Angeles",
        "share": 0.03,
        "error_rate": 0.015,
        "latency_median_ms": 300.0,
        "latency_sigma": 0.45,
        "bulk_share": 0.0,
        "bulk_max_credits": 1,
    },
    {
        "api_version": "v2",
        "application": "Web-to-Lead Forms",
        "users": {"web.forms@example.com": 1.0},
        "ips": {"203.0.113.90": 0.5, "203.0.113.91": 0.5},
        "modules": {"Leads": 0.9, "Campaigns": 0.1},
        "methods": {"POST": 0.9, "GET": 0.1},
        "rhythm": "flat",
        "timezone": "UTC",
        "share": 0.03,
        "error_rate": 0.03,
        "latency_median_ms": 80.0,
        "latency_sigma": 0.35,
        "bulk_share": 0.0,
        "bulk_max_credits": 1,
    },
    {
        "api_version": "v2",
        "application": "Stripe Billing Hook",
        "users": {"billing@example.com": 1.0},
        "ips": {"198.51.100.140": 0.4, "198.51.100.141": 0.3, "198.51.100.142": 0.3},
        "modules": {"Invoices": 0.6, "Accounts": 0.3, "Products": 0.1},
        "methods": {"PATCH": 0.4, "POST": 0.3, "GET": 0.3},
        "rhythm": "flat",
        "timezone": "UTC",
        "share": 0.02,
        "error_rate": 0.01,
        "latency_median_ms": 140.0,
        "latency_sigma": 0.4,
        "bulk_share": 0.0,
        "bulk_max_credits": 1,
    },
    {
        "api_version": "v2",
        "application": "Partner Portal",
        "users": {"partner.manager@example.com": 0.6, "channel@partners.example.net": 0.4},
        "ips": {"192.0.2.120": 1.0},
        "modules": {"Accounts": 0.5, "Deals": 0.4, "Leads": 0.1},
        "methods": {"GET": 0.8, "POST": 0.1, "PUT": 0.1},
        "rhythm": "business",
        "timezone": "Asia/Singapore",
        "share": 0.01,
        "error_rate": 0.02,
        "latency_median_ms": 220.0,
        "latency_sigma": 0.5,
        "bulk_share": 0.0,
        "bulk_max_credits": 1,
    },
    # ---- V1: legacy clients, mostly without an application name -------------------------
    {
        "api_version": "v1",
        "application": None,
        "users": {"crm.admin@example.com": 1.0},
        "ips": {"192.0.2.15": 0.6, "192.0.2.16": 0.4},
        "modules": {"Leads": 0.35, "Contacts": 0.3, "Accounts": 0.2, "Deals": 0.15},
        "methods": {
            "getRecords": 0.4,
            "searchRecords": 0.2,
            "getRelatedRecords": 0.1,
            "insertRecords": 0.12,
            "updateRecords": 0.12,
            "deleteRecords": 0.02,
            "getFields": 0.03,
            "convertLead": 0.01,
        },
        "rhythm": "business",
        "timezone": None,
        "share": 0.4,
        "error_rate": 0.015,
        "latency_median_ms": 260.0,
        "latency_sigma": 0.5,
        "bulk_share": 0.0,
        "bulk_max_credits": 1,
    },
    {
        "api_version": "v1",
        "application": None,
        "users": {"legacy.sync@example.com": 0.85, "crm.admin@example.com": 0.15},
        "ips": {"198.51.100.200": 1.0},
        "modules": {"Contacts": 0.4, "Accounts": 0.3, "Products": 0.15, "Invoices": 0.15},
        "methods": {
            "getRecords": 0.35,
            "insertRecords": 0.25,
            "updateRecords": 0.3,
            "deleteRecords": 0.05,
            "getFields": 0.05,
        },
        "rhythm": "business",
        "timezone": None,
        "share": 0.3,
        "error_rate": 0.02,
        "latency_median_ms": 320.0,
        "latency_sigma": 0.55,
        "bulk_share": 0.0,
        "bulk_max_credits": 1,
    },
    {
        "api_version": "v1",
        "application": "Excel Add-in",
        "users": {
            "k.oconnor@example.com": 0.45,
            "m.schmidt@example.com": 0.35,
            "t.brown@example.com": 0.2,
        },
        "ips": {"203.0.113.150": 0.4, "203.0.113.151": 0.35, "203.0.113.152": 0.25},
        "modules": {"Deals": 0.35, "Leads": 0.25, "Accounts": 0.25, "Quotes": 0.15},
        "methods": {
            "getRecords": 0.45,
            "searchRecords": 0.25,
            "updateRecords": 0.2,
            "getFields": 0.1,
        },
        "rhythm": "business",
        "timezone": None,
        "share": 0.18,
        "error_rate": 0.01,
        "latency_median_ms": 200.0,
        "latency_sigma": 0.45,
        "bulk_share": 0.0,
        "bulk_max_credits": 1,
    },
    {
        "api_version": "v1",
        "application": None,
        "users": {"reports@example.com": 1.0},
        "ips": {"192.0.2.99": 1.0},
        "modules": {"Deals": 0.4, "Accounts": 0.3, "Calls": 0.15, "Meetings": 0.15},
        "methods": {"getRecords": 0.6, "getRelatedRecords": 0.3, "searchRecords": 0.1},
        "rhythm": "business",
        "timezone": None,
        "share": 0.12,
        "error_rate": 0.008,
        "latency_median_ms": 380.0,
        "latency_sigma": 0.5,
        "bulk_share": 0.0,
        "bulk_max_credits": 1,
    },
]

#: Weekday V2 credits per day, as a share of ``limit_v2`` (weekends are a little lower).
V2_CREDITS_TARGET = 0.72
#: Weekday V1 calls per day in ``v1_timezone``, as a share of ``limit_v1``.
V1_CALLS_TARGET = 0.45

_WEEKEND_FACTOR = {("v2", "business"): 0.85, ("v1", "business"): 0.3}
_ERROR_MIX = {400: 0.25, 401: 0.05, 404: 0.3, 429: 0.2, 500: 0.12, 503: 0.08}
_INCIDENT_MIX = {500: 0.45, 503: 0.55}
_INCIDENT_ERROR_RATE = 0.15
_INCIDENT_CHANCE = 0.3

_MINUTE_MS = 60_000
_DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_U64 = (1 << 64) - 1
_DAY_STREAM = 0xDA7
_V1_DAY_STREAM = 0xDA71


def _vocab(key: str) -> list[str | None]:
    values: dict[str | None, None] = {}
    for integ in INTEGRATIONS:
        value = integ[key]  # type: ignore[literal-required]
        for item in value if isinstance(value, dict) else [value]:
            values[item] = None
    return list(values)


_APPS = _vocab("application")
_USERS = _vocab("users")
_IPS = _vocab("ips")
_MODULES = _vocab("modules")
_METHODS = _vocab("methods")


def _gaussian(hours: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """A bump centred on ``mu`` o'clock on a 24-hour circle."""
    d = (hours - mu + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (d / sigma) ** 2)


def _shape(rhythm: str) -> np.ndarray:
    """Relative call rate for each minute of the (local) day, averaging to one."""
    h = np.arange(1440) / 60.0
    if rhythm == "business":
        s = 0.05 + 0.9 * _gaussian(h, 10.0, 1.4) + 0.75 * _gaussian(h, 14.75, 1.7)
        s += 0.12 * _gaussian(h, 20.5, 1.5)
    elif rhythm == "nightly":
        s = 0.04 + _gaussian(h, 2.0, 0.6) + 0.35 * _gaussian(h, 3.5, 0.5)
    elif rhythm == "flat":
        s = 1.0 + 0.2 * np.cos(2 * np.pi * (h - 15.0) / 24.0)
    else:
        raise ValueError(f"unknown rhythm {rhythm!r}")
    return s / s.mean()


_SHAPES = {r: _shape(r) for r in ("business", "nightly", "flat")}


def _mean_credits(integ: Integration) -> float:
    return 1.0 + integ["bulk_share"] * (integ["bulk_max_credits"] / 2.0)


def _to_ms(moment: datetime, name: str) -> int:
    """Milliseconds since the epoch, rounded up (so ``ts >= start`` and ``ts < end`` hold)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")
    return -((_EPOCH - moment) // timedelta(milliseconds=1))


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=STORAGE_SCHEMA)


def _bins(start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and length (ms) of the minute bins covering ``[start_ms, end_ms)``."""
    first = -(-start_ms // _MINUTE_MS) * _MINUTE_MS
    inner = np.arange(first, end_ms, _MINUTE_MS, dtype=np.int64)
    edges = np.unique(np.concatenate(([start_ms], inner, [end_ms])).astype(np.int64))
    return edges[:-1], np.diff(edges)


def _clock(bin_start: np.ndarray, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """Minute of the local day and whether it is a weekend, for each bin start."""
    local = pl.from_epoch(pl.Series(bin_start), time_unit="ms").dt.replace_time_zone("UTC")
    if tz != "UTC":
        local = local.dt.convert_time_zone(tz)
    minute = local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)
    weekend = local.dt.weekday() >= 6
    return minute.to_numpy(), weekend.to_numpy()


def _day_effects(seed: int, stream: int, days: np.ndarray) -> tuple[dict, dict]:
    """Per UTC day: a volume factor and an optional incident ``(first_minute, last_minute)``."""
    factors: dict[int, float] = {}
    incidents: dict[int, tuple[int, int]] = {}
    for day in np.unique(days).tolist():
        rng = np.random.default_rng([seed & _U64, stream, day & _U64])
        factors[day] = float(rng.uniform(0.95, 1.05))
        hit, first, length = rng.random(), int(rng.integers(0, 1380)), int(rng.integers(15, 46))
        if hit < _INCIDENT_CHANCE:
            incidents[day] = (first, first + length)
    return factors, incidents


def _pick(rng: np.random.Generator, weights: dict, vocab: list, n: int) -> np.ndarray:
    """``n`` codes into ``vocab`` drawn with the given weights."""
    codes = np.array([vocab.index(k) for k in weights], dtype=np.int32)
    p = np.array(list(weights.values()), dtype=np.float64)
    cum = np.cumsum(p / p.sum())
    cum[-1] = 1.0
    return codes[np.searchsorted(cum, rng.random(n), side="right")]


def _pick_status(rng: np.random.Generator, mix: dict[int, float], n: int) -> np.ndarray:
    codes = np.array(list(mix), dtype=np.int16)
    p = np.array(list(mix.values()), dtype=np.float64)
    cum = np.cumsum(p / p.sum())
    cum[-1] = 1.0
    return codes[np.searchsorted(cum, rng.random(n), side="right")]


def generate_events(
    start: datetime,
    end: datetime,
    *,
    limit_v2: int,
    limit_v1: int,
    seed: int = 7,
    v1_timezone: str = "America/Los_Angeles",
) -> pl.DataFrame:
    """Events with start <= ts < end (aware UTC datetimes), sorted by ts.

    The frame has exactly the columns and types of :data:`data.schema.STORAGE_SCHEMA`;
    ``id`` is left null. V2 credits over any 24 hours come to about 70 % of ``limit_v2``
    and V1 calls per weekday in ``v1_timezone`` to about 45 % of ``limit_v1``. The same
    arguments always give the same frame; windows that start at different times differ.
    Raises ``ValueError`` for a naive datetime and ``ZoneInfoNotFoundError`` for an unknown
    ``v1_timezone``.
    """
    ZoneInfo(v1_timezone)
    start_ms, end_ms = _to_ms(start, "start"), _to_ms(end, "end")
    if end_ms <= start_ms:
        return _empty()
    rng = np.random.default_rng([seed & _U64, start_ms & _U64, end_ms & _U64])
    bin_start, bin_len = _bins(start_ms, end_ms)
    bin_minutes = bin_len / _MINUTE_MS
    utc_minute = ((bin_start % _DAY_MS) // _MINUTE_MS).astype(np.int32)
    day = bin_start // _DAY_MS

    clocks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    volume: dict[str, np.ndarray] = {}
    incident = np.zeros(len(bin_start), dtype=bool)
    for version, stream in (("v2", _DAY_STREAM), ("v1", _V1_DAY_STREAM)):
        factors, incidents = _day_effects(seed, stream, day)
        volume[version] = np.array([factors[d] for d in day.tolist()])
        if version == "v2":
            for d, (lo, hi) in incidents.items():
                incident |= (day == d) & (utc_minute >= lo) & (utc_minute < hi)

    v2 = [i for i in INTEGRATIONS if i["api_version"] == "v2"]
    v1 = [i for i in INTEGRATIONS if i["api_version"] == "v1"]
    v2_calls = V2_CREDITS_TARGET * limit_v2 / sum(i["share"] * _mean_credits(i) for i in v2)
    v1_calls = V1_CALLS_TARGET * limit_v1 / sum(i["share"] for i in v1)

    parts: dict[str, list[np.ndarray]] = {
        k: []
        for k in ("ts", "version", "app", "module", "method", "user", "ip")
        + ("status", "latency", "credits")
    }
    for integ in INTEGRATIONS:
        version = integ["api_version"]
        tz = integ["timezone"] or v1_timezone
        if tz not in clocks:
            clocks[tz] = _clock(bin_start, tz)
        minute, weekend = clocks[tz]
        per_day = (v2_calls if version == "v2" else v1_calls) * integ["share"]
        lam = per_day / 1440.0 * _SHAPES[integ["rhythm"]][minute] * bin_minutes * volume[version]
        weekend_factor = _WEEKEND_FACTOR.get((version, integ["rhythm"]), 1.0)
        lam = np.where(weekend, lam * weekend_factor, lam)
        counts = rng.poisson(lam)
        n = int(counts.sum())
        if n == 0:
            continue
        b = np.repeat(np.arange(len(bin_start)), counts)
        ts = bin_start[b] + (rng.random(n) * bin_len[b]).astype(np.int64)

        module = _pick(rng, integ["modules"], _MODULES, n)
        method = _pick(rng, integ["methods"], _METHODS, n)
        if "convertLead" in integ["methods"]:
            module[method == _METHODS.index("convertLead")] = _MODULES.index("Leads")

        credits = np.ones(n, dtype=np.int64)
        if integ["bulk_share"] > 0:
            bulk = rng.random(n) < integ["bulk_share"]
            credits[bulk] = rng.integers(2, integ["bulk_max_credits"] + 1, int(bulk.sum()))

        status = np.full(n, 200, dtype=np.int16)
        if version == "v2":
            status[method == _METHODS.index("POST")] = 201
        failed = rng.random(n) < integ["error_rate"]
        status[failed] = _pick_status(rng, _ERROR_MIX, int(failed.sum()))
        hit = incident[b] if version == "v2" else np.zeros(n, dtype=bool)
        outage = hit & (rng.random(n) < _INCIDENT_ERROR_RATE) & ~failed
        status[outage] = _pick_status(rng, _INCIDENT_MIX, int(outage.sum()))

        latency = integ["latency_median_ms"] * np.exp(integ["latency_sigma"] * rng.normal(size=n))
        latency *= 1.0 + 0.35 * (credits - 1)
        latency[(status >= 400) & (status < 500)] *= 0.35
        latency[status >= 500] *= 2.5
        latency[hit] *= 2.0
        latency = np.maximum(np.round(latency, 1), 1.0)

        parts["ts"].append(ts)
        parts["version"].append(np.full(n, version == "v2"))
        parts["app"].append(np.full(n, _APPS.index(integ["application"]), dtype=np.int32))
        parts["module"].append(module)
        parts["method"].append(method)
        parts["user"].append(_pick(rng, integ["users"], _USERS, n))
        parts["ip"].append(_pick(rng, integ["ips"], _IPS, n))
        parts["status"].append(status)
        parts["latency"].append(latency)
        parts["credits"].append(credits)

    if not parts["ts"]:
        return _empty()
    cols = {k: np.concatenate(v) for k, v in parts.items()}
    order = np.argsort(cols["ts"], kind="stable")
    cols = {k: v[order] for k, v in cols.items()}

    def strings(vocab: list[str | None], codes: np.ndarray) -> pl.Series:
        return pl.Series(vocab, dtype=pl.String).gather(codes)

    frame = pl.DataFrame(
        {
            "ts": pl.Series(cols["ts"], dtype=pl.Int64).cast(pl.Datetime("ms", "UTC")),
            "api_version": strings(["v1", "v2"], cols["version"].astype(np.int32)),
            "application": strings(_APPS, cols["app"]),
            "module": strings(_MODULES, cols["module"]),
            "method": strings(_METHODS, cols["method"]),
            "user": strings(_USERS, cols["user"]),
            "ip": strings(_IPS, cols["ip"]),
            "status": pl.Series(cols["status"], dtype=pl.Int16),
            "latency_ms": pl.Series(cols["latency"], dtype=pl.Float64),
            "credits": pl.Series(cols["credits"], dtype=pl.Int64),
            "id": pl.repeat(None, len(order), dtype=pl.String, eager=True),
        }
    )
    return frame.select(pl.col(name).cast(dtype) for name, dtype in STORAGE_SCHEMA.items())
