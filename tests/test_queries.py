"""The statistics on a small hand-made lake, checked against independent counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data import queries, stats
from data.lake import Lake
from factory import counts, v1_rows, v2_rows, write

NOW = datetime.now(UTC).replace(microsecond=0)
START, END = NOW - timedelta(days=1), NOW + timedelta(seconds=1)


@pytest.fixture
def rows(lake: Lake) -> list[dict[str, object]]:
    v2, v1 = v2_rows(NOW), v1_rows(NOW)
    write(lake, v2 + v1)
    return v2 + v1


@pytest.mark.parametrize("dimension", ["application", "module", "method", "user", "ip"])
def test_ranking_counts_every_value_like_an_independent_count(rows, dimension):
    v2 = [r for r in rows if r["api_version"] == "v2"]
    ranked = stats.ranking(dimension, START, END, "v2")
    expected = counts(v2, dimension)
    assert dict(zip(ranked["value"], ranked["calls"], strict=True)) == dict(expected)
    assert ranked["calls"].to_list() == sorted(expected.values(), reverse=True)
    assert ranked["share"].sum() == pytest.approx(1.0)


def test_ranking_sums_credits_and_errors_per_value(rows):
    ranked = stats.ranking("module", START, END, "v2").filter(pl.col("value") == "Leads")
    leads = [r for r in rows if r["module"] == "Leads" and r["api_version"] == "v2"]
    assert ranked["credits"].item() == sum(r["credits"] for r in leads)
    assert ranked["errors"].item() == sum(r["status"] >= 400 for r in leads)


def test_version_filter_and_all_versions(rows):
    v1 = stats.ranking("module", START, END, "v1")
    assert dict(zip(v1["value"], v1["calls"], strict=True)) == {"Leads": 15, "Contacts": 15}
    every = stats.summary(START, END, "all")
    assert every["calls"] == len(rows)
    assert stats.summary(START, END, "v2")["calls"] == 280


def test_v1_calls_without_application_are_named(rows):
    apps = stats.ranking("application", START, END, "v1")
    assert apps["value"].to_list() == [queries.NO_APPLICATION]
    assert apps["calls"].to_list() == [30]


def test_top_five_plus_other_adds_up_to_the_whole(rows):
    top = queries.top_with_other(stats.ranking("module", START, END, "v2"), 5)
    assert top["value"].to_list() == [
        "Leads",
        "Contacts",
        "Deals",
        "Accounts",
        "Tasks",
        "Other (2)",
    ]
    assert top["calls"].to_list() == [70, 60, 50, 40, 30, 30]
    assert top["calls"].sum() == 280
    assert top["share"].sum() == pytest.approx(1.0)


def test_top_with_other_has_no_other_row_when_nothing_is_left():
    ranked = pl.DataFrame(
        {
            "value": ["a", "b"],
            "calls": [2, 1],
            "credits": [2, 1],
            "errors": [0, 0],
            "share": [2 / 3, 1 / 3],
        }
    )
    assert_frame_equal(queries.top_with_other(ranked, 5), ranked)


def test_summary_matches_totals(rows):
    v2 = [r for r in rows if r["api_version"] == "v2"]
    assert stats.summary(START, END, "v2") == {
        "calls": len(v2),
        "credits": sum(r["credits"] for r in v2),
        "errors": sum(r["status"] >= 400 for r in v2),
    }


def test_range_excludes_events_outside_it(lake):
    write(lake, v2_rows(NOW))
    assert stats.summary(NOW - timedelta(minutes=30), END, "v2")["calls"] < 280
    assert stats.summary(NOW - timedelta(days=3), NOW - timedelta(days=2), "v2")["calls"] == 0


def test_timeline_by_hour_and_by_day_in_the_display_zone(lake):
    at = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    base = v1_rows(at, count=4)  # 23:29:30 .. 23:27:00 UTC
    write(lake, base)
    now = at + timedelta(hours=1)
    by_hour = stats.timeline(at - timedelta(hours=2), now, "v1", "hour", "UTC")
    assert by_hour["calls"].to_list() == [4]
    assert by_hour["bucket"].dt.hour().to_list() == [23]
    # In Paris (UTC+1) those calls fall on the next local day.
    by_day = stats.timeline(at - timedelta(days=1), now, "v1", "day", "Europe/Paris")
    assert by_day["bucket"].dt.day().to_list() == [21]


def test_table_rows_group_every_dimension_and_keep_a_p95(rows):
    table = stats.table(START, END, "v2", "module", "Leads")
    assert set(table["module"].to_list()) == {"Leads"}
    assert table["calls"].sum() == 70
    leads = [r for r in rows if r["module"] == "Leads" and r["api_version"] == "v2"]
    key = ("application", "module", "method", "user", "ip", "api_version")
    assert table.height == len({tuple(r[k] for k in key) for r in leads})
    assert table["p95_ms"].null_count() == 0


@pytest.mark.parametrize("seed", range(5))
def test_p95_from_the_latency_sketch_is_within_its_bucket_of_the_nearest_rank(seed):
    import random

    from data.rollup import GAMMA, as_latency, p95_from_sketch

    rng = random.Random(seed)
    n = rng.randint(1, 400)
    latencies = [rng.lognormvariate(5, 1) for _ in range(n)]
    frame = pl.LazyFrame(
        {
            "application": ["a"] * n,
            "module": ["m"] * n,
            "method": ["GET"] * n,
            "user": ["u"] * n,
            "ip": ["192.0.2.1"] * n,
            "api_version": ["v2"] * n,
            "latency_ms": latencies,
        }
    )
    got = p95_from_sketch(as_latency(frame), ["user"]).collect()["p95_ms"].item()
    exact = sorted(latencies)[-(-95 * n // 100) - 1]  # nearest rank: ceil(0.95 n)
    assert abs((1 + got) / (1 + exact) - 1) <= (GAMMA - 1) / 2 + 1e-9


def test_connections_of_a_user_list_ips_modules_and_methods(rows):
    links = stats.links("user", "ana@example.com", START, END, "v2")
    ana = [r for r in rows if r["user"] == "ana@example.com"]
    ips = links.filter(pl.col("dimension") == "ip")
    assert dict(zip(ips["value"], ips["calls"], strict=True)) == dict(counts(ana, "ip"))
    assert set(links["dimension"]) == {"application", "module", "method", "ip", "api_version"}


def test_the_overview_in_one_pass_equals_each_question_asked_alone(rows):
    tops = (("application", "v2"), ("module", "all"), ("user", "all"))
    answers = stats.overview(START, END, "all", "hour", "UTC", tops)
    assert answers["summary"] == stats.summary(START, END, "all")
    for dimension, version in tops:
        assert_frame_equal(
            answers["rankings"][(dimension, version)],
            stats.ranking(dimension, START, END, version),
        )
    assert_frame_equal(answers["timeline"], stats.timeline(START, END, "all", "hour", "UTC"))
