"""The demo traffic generator: schema, windows, determinism, sizing and realism."""

from __future__ import annotations

import ipaddress
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from data.demo import INTEGRATIONS, V1_METHODS, V2_METHODS, generate_events
from data.schema import STORAGE_SCHEMA

LIMIT_V2 = 100_000
LIMIT_V1 = 25_000
V1_ZONE = "America/Los_Angeles"
# Spans the US switch to daylight saving time (2025-03-09) and five weekends.
START = datetime(2025, 3, 1, tzinfo=UTC)
END = START + timedelta(days=30)
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def month() -> tuple[pl.DataFrame, float]:
    """Thirty days of demo traffic with the app's default limits, and how long it took."""
    t0 = time.perf_counter()
    frame = generate_events(START, END, limit_v2=LIMIT_V2, limit_v1=LIMIT_V1, v1_timezone=V1_ZONE)
    return frame, time.perf_counter() - t0


@pytest.fixture(scope="module")
def events(month: tuple[pl.DataFrame, float]) -> pl.DataFrame:
    return month[0]


def _window(start: datetime, seconds: float, seed: int = 7) -> pl.DataFrame:
    return generate_events(
        start, start + timedelta(seconds=seconds), limit_v2=LIMIT_V2, limit_v1=LIMIT_V1, seed=seed
    )


def test_schema_is_the_storage_schema(events: pl.DataFrame) -> None:
    assert dict(events.schema) == STORAGE_SCHEMA
    assert list(events.columns) == list(STORAGE_SCHEMA)
    assert events["id"].null_count() == events.height


def test_empty_and_tiny_windows_keep_the_schema() -> None:
    empty = generate_events(START, START, limit_v2=LIMIT_V2, limit_v1=LIMIT_V1)
    assert empty.height == 0
    assert dict(empty.schema) == STORAGE_SCHEMA
    tiny = _window(START, 0.001)
    assert dict(tiny.schema) == STORAGE_SCHEMA


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_events(
            datetime(2025, 3, 1), datetime(2025, 3, 2), limit_v2=LIMIT_V2, limit_v1=LIMIT_V1
        )


def test_timestamps_are_inside_the_window_and_sorted(events: pl.DataFrame) -> None:
    assert events.height > 0
    assert events["ts"].min() >= START
    assert events["ts"].max() < END
    assert events["ts"].is_sorted()


def test_window_bounds_with_sub_millisecond_edges() -> None:
    start = datetime(2025, 3, 4, 15, 0, 0, 123_456, tzinfo=UTC)
    end = start + timedelta(seconds=90, microseconds=500)
    frame = generate_events(start, end, limit_v2=LIMIT_V2, limit_v1=LIMIT_V1)
    assert frame.height > 0
    assert frame["ts"].is_sorted()
    assert frame["ts"].min() >= start
    assert frame["ts"].max() < end


def test_other_aware_zones_are_accepted() -> None:
    paris = ZoneInfo("Europe/Paris")
    start = datetime(2025, 3, 4, 16, 0, tzinfo=paris)
    frame = generate_events(
        start, start + timedelta(minutes=5), limit_v2=LIMIT_V2, limit_v1=LIMIT_V1
    )
    assert frame.height > 0
    assert frame["ts"].min() >= start.astimezone(UTC)
    assert frame["ts"].max() < (start + timedelta(minutes=5)).astimezone(UTC)


def test_same_arguments_give_the_same_frame() -> None:
    day = START + timedelta(days=3)
    a = generate_events(day, day + timedelta(days=2), limit_v2=LIMIT_V2, limit_v1=LIMIT_V1)
    b = generate_events(day, day + timedelta(days=2), limit_v2=LIMIT_V2, limit_v1=LIMIT_V1)
    assert a.height > 0
    assert a.equals(b)
    w = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
    assert _window(w, 10).equals(_window(w, 10))


def test_consecutive_windows_differ() -> None:
    # Busy time (weekday afternoon UTC); windows of one minute have hundreds of calls.
    first = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
    a = _window(first, 60)
    b = _window(first + timedelta(seconds=60), 60)
    assert a.height > 20 and b.height > 20
    n = min(a.height, b.height)
    # Not only the timestamps: the drawn values must come from a different stream.
    offsets_a = a["ts"].dt.epoch("ms") - int(first.timestamp() * 1000)
    offsets_b = b["ts"].dt.epoch("ms") - int(first.timestamp() * 1000) - 60_000
    assert offsets_a[:n].to_list() != offsets_b[:n].to_list()
    assert a["latency_ms"][:n].to_list() != b["latency_ms"][:n].to_list()
    assert a["user"][:n].to_list() != b["user"][:n].to_list()


def test_another_seed_gives_other_events() -> None:
    first = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
    a, b = _window(first, 60, seed=7), _window(first, 60, seed=8)
    assert not a.equals(b)
    n = min(a.height, b.height)
    assert a["latency_ms"][:n].to_list() != b["latency_ms"][:n].to_list()


def test_ten_second_windows_are_small_and_plausible() -> None:
    sizes = []
    for k in range(12):
        start = datetime(2025, 3, 4, 2 * k, 0, 7, tzinfo=UTC)
        frame = _window(start, 10)
        assert dict(frame.schema) == STORAGE_SCHEMA
        assert 0 <= frame.height <= 200
        if frame.height:
            assert frame["ts"].min() >= start
            assert frame["ts"].max() < start + timedelta(seconds=10)
        sizes.append(frame.height)
    # About 65 000 calls a day are about 7.5 per 10 s on average: not all windows are empty.
    assert sum(sizes) > 12


def test_live_windows_add_up_to_the_daily_rate() -> None:
    # A live mode appending 10-second windows must produce traffic at the same rate.
    start = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
    live = pl.concat([_window(start + timedelta(seconds=10 * k), 10) for k in range(360)])
    bulk = generate_events(start, start + timedelta(hours=1), limit_v2=LIMIT_V2, limit_v1=LIMIT_V1)
    assert live["ts"].is_sorted()
    assert 0.85 < live.height / bulk.height < 1.15


def _rolling_v2_credits(events: pl.DataFrame, ends: list[datetime]) -> list[int]:
    v2 = events.filter(pl.col("api_version") == "v2")
    ts = v2["ts"].dt.epoch("ms").to_numpy()
    cum = np.concatenate([[0], np.cumsum(v2["credits"].to_numpy())])
    out = []
    for end in ends:
        end_ms = int(end.timestamp() * 1000)
        hi, lo = np.searchsorted(ts, end_ms), np.searchsorted(ts, end_ms - DAY_MS)
        out.append(int(cum[hi] - cum[lo]))
    return out


def test_v2_rolling_24h_credits_sit_near_70_percent_of_the_limit(events: pl.DataFrame) -> None:
    # Every 5 hours, so each hour of the day and each weekday is an end at some point.
    ends = [START + timedelta(hours=24 + 5 * k) for k in range(0, (29 * 24) // 5 + 1)]
    assert ends[-1] <= END
    sums = _rolling_v2_credits(events, ends)
    shares = [s / LIMIT_V2 for s in sums]
    assert min(shares) >= 0.60, min(shares)
    assert max(shares) <= 0.80, max(shares)
    assert 0.65 <= float(np.mean(shares)) <= 0.75


def test_v1_calls_per_local_weekday_sit_near_45_percent(events: pl.DataFrame) -> None:
    zone = ZoneInfo(V1_ZONE)
    v1 = events.filter(pl.col("api_version") == "v1").with_columns(
        day=pl.col("ts").dt.convert_time_zone(V1_ZONE).dt.date()
    )
    counts = dict(v1.group_by("day").len().iter_rows())
    first = START.astimezone(zone).date() + timedelta(days=1)
    last = END.astimezone(zone).date() - timedelta(days=1)
    weekdays = weekends = 0
    day = first
    while day <= last:
        n = counts.get(day, 0)
        if day.weekday() < 5:
            assert 0.30 * LIMIT_V1 <= n <= 0.60 * LIMIT_V1, (day, n)
            weekdays += 1
        else:
            assert n < 0.60 * LIMIT_V1, (day, n)
            weekends += 1
        day += timedelta(days=1)
    assert weekdays >= 18 and weekends >= 6
    # The Sunday the clocks change has 23 hours and still has its (weekend-low) traffic.
    assert 0 < counts[date(2025, 3, 9)] < 0.30 * LIMIT_V1


def test_row_count_is_bounded(events: pl.DataFrame) -> None:
    per_day = events.height / 30
    assert 40_000 < per_day < 2_500_000 / 30


def test_applications(events: pl.DataFrame) -> None:
    v2 = events.filter(pl.col("api_version") == "v2")
    v1 = events.filter(pl.col("api_version") == "v1")
    assert set(events["api_version"].unique()) == {"v1", "v2"}
    assert v2["application"].null_count() == 0
    assert v2["application"].n_unique() >= 8
    assert v1["application"].null_count() > 0
    # A clear top five then a long tail: the top five make most of the V2 calls.
    per_app = v2.group_by("application").len().sort("len", descending=True)["len"].to_list()
    assert sum(per_app[:5]) / sum(per_app) > 0.6
    assert per_app[-1] / per_app[0] < 0.1


def test_methods_and_modules_match_the_api_version(events: pl.DataFrame) -> None:
    v2 = events.filter(pl.col("api_version") == "v2")
    v1 = events.filter(pl.col("api_version") == "v1")
    assert set(v2["method"].unique()) <= set(V2_METHODS)
    assert set(v1["method"].unique()) <= set(V1_METHODS)
    assert len(set(v2["method"].unique())) == len(V2_METHODS)
    assert events["module"].null_count() == 0
    assert events["module"].n_unique() >= 10
    converted = v1.filter(pl.col("method") == "convertLead")["module"].unique().to_list()
    assert converted == ["Leads"]


def test_credits(events: pl.DataFrame) -> None:
    v2 = events.filter(pl.col("api_version") == "v2")
    v1 = events.filter(pl.col("api_version") == "v1")
    assert (v1["credits"] == 1).all()
    assert v2["credits"].min() >= 1
    assert v2["credits"].max() <= 10
    assert (v2["credits"] == 1).mean() > 0.8  # mostly single-credit calls
    assert (v2["credits"] > 1).sum() > 0  # with some bulk calls


def test_statuses_and_error_share(events: pl.DataFrame) -> None:
    allowed = {200, 201, 400, 401, 404, 429, 500, 503}
    assert set(events["status"].unique()) <= allowed
    share = (events["status"] >= 400).mean()
    assert 0.003 <= share <= 0.05
    ok = events.filter(pl.col("status") < 400)
    assert set(ok.filter(pl.col("status") == 201)["method"].unique()) == {"POST"}
    assert (ok.filter(pl.col("api_version") == "v1")["status"] == 200).all()


def test_latency_is_plausible(events: pl.DataFrame) -> None:
    latency = events["latency_ms"]
    assert latency.null_count() == 0
    assert latency.min() > 0
    median = events.group_by("application").agg(pl.col("latency_ms").median())
    assert median["latency_ms"].min() >= 50
    assert median["latency_ms"].max() <= 1000


def test_daily_rhythm(events: pl.DataFrame) -> None:
    v2 = events.filter(pl.col("api_version") == "v2")
    hourly = v2.group_by(pl.col("ts").dt.hour()).len()["len"]
    assert hourly.len() == 24
    assert hourly.max() / hourly.min() > 2
    # The nightly batch jobs peak around 02:00 UTC.
    nightly = v2.filter(pl.col("application") == "NetSuite ERP Bridge")
    peak = nightly.group_by(pl.col("ts").dt.hour()).len().sort("len")["ts"][-1]
    assert peak in {1, 2, 3}
    # V1 follows business hours in its zone: far more calls at 11:00 than at 03:00 local.
    local_hour = (
        events.filter(pl.col("api_version") == "v1")
        .group_by(pl.col("ts").dt.convert_time_zone(V1_ZONE).dt.hour().alias("h"))
        .len()
    )
    by_hour = dict(local_hour.iter_rows())
    assert by_hour[11] > 5 * by_hour.get(3, 0)


def test_prolific_users(events: pl.DataFrame) -> None:
    users = events.group_by("user").len().sort("len", descending=True)
    assert users.height >= 15
    assert users["user"].null_count() == 0
    assert all("@" in u for u in users["user"])
    top = users["len"].to_list()
    assert top[0] > top[3]


def test_ips_are_valid_and_normalised(events: pl.DataFrame) -> None:
    ips = events["ip"].unique().to_list()
    assert None not in ips
    parsed = [ipaddress.ip_address(ip) for ip in ips]
    assert [str(p) for p in parsed] == ips
    assert any(p.version == 6 for p in parsed)
    assert all(p.is_private for p in parsed)  # documentation ranges only


def test_integrations_catalogue() -> None:
    v2 = [i for i in INTEGRATIONS if i["api_version"] == "v2"]
    v1 = [i for i in INTEGRATIONS if i["api_version"] == "v1"]
    assert 10 <= len(v2) <= 14
    assert 3 <= len(v1) <= 5
    assert all(i["application"] for i in v2)
    for version in (v1, v2):
        assert sum(i["share"] for i in version) == pytest.approx(1.0)
    for integ in INTEGRATIONS:
        assert 1 <= len(integ["ips"]) <= 4
        assert 0.005 <= integ["error_rate"] <= 0.03
        assert 80 <= integ["latency_median_ms"] <= 400
        assert integ["rhythm"] in {"business", "nightly", "flat"}
        for ip in integ["ips"]:
            assert str(ipaddress.ip_address(ip)) == ip


def test_generation_is_fast_enough(month: tuple[pl.DataFrame, float]) -> None:
    assert month[1] < 10.0
