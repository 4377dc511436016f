"""``flask --app app ingest|prune|demo``: files into the lake, retention, demo traffic."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from conftest import ROOT, event, stored_frame
from data.lake import Lake

CSV_FIELDS = ("ts", "api_version", "application", "module", "method", "user", "ip", "status", "id")


@pytest.fixture
def runner(env: Path):
    from app import server

    return server.test_cli_runner()


def run(runner, *args: str):  # noqa: ANN001, ANN201 - FlaskCliRunner and its Result
    result = runner.invoke(args=[str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def events_of(lake: Lake) -> pl.DataFrame:
    now = datetime.now(UTC)
    frame = lake.collect(lambda: lake.scan(now - timedelta(days=2), now + timedelta(days=1)))
    return frame.sort("id", nulls_last=True)


def write_ndjson(path: Path, events: list[dict[str, object]], blank_after: int = -1) -> Path:
    lines = [json.dumps(e) for e in events]
    if blank_after >= 0:
        lines.insert(blank_after + 1, "")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_csv(path: Path, events: list[dict[str, object]]) -> Path:
    rows = [",".join(CSV_FIELDS)]
    rows += [",".join(str(e.get(f, "")) for f in CSV_FIELDS) for e in events]
    path.write_text("\n".join(rows) + "\n")
    return path


# -- one real run of the command -----------------------------------------------------------


def test_flask_ingest_command_in_a_subprocess(tmp_path: Path) -> None:
    source = write_ndjson(tmp_path / "events.ndjson", [event(id="a"), event(id="b")])
    env = {
        **os.environ,
        "APIDASH_DATA_DIR": str(tmp_path / "lake"),
        "APIDASH_CACHE_DIR": str(tmp_path / "cache"),
        "APIDASH_DEMO": "off",
    }
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", "ingest", str(source)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"{source}: stored 2 events" in done.stdout
    lake = Lake(tmp_path / "lake")
    assert events_of(lake).get_column("id").to_list() == ["a", "b"]


# -- each format ---------------------------------------------------------------------------


def test_ingest_ndjson(runner, lake: Lake, tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "a.ndjson", [event(id="1"), event(id="2")], blank_after=0)
    result = run(runner, "ingest", path)
    assert result.exit_code == 0, result.output
    assert "stored 2 events" in result.stdout
    assert events_of(lake).get_column("id").to_list() == ["1", "2"]


def test_ingest_json(runner, lake: Lake, tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([event(id="1", method="patch"), event(id="2", status=404)]))
    result = run(runner, "ingest", path)
    assert result.exit_code == 0, result.output
    frame = events_of(lake)
    assert frame.get_column("method").to_list() == ["PATCH", "GET"]
    assert frame.get_column("status").to_list() == [200, 404]


def test_ingest_csv(runner, lake: Lake, tmp_path: Path) -> None:
    sent = [event(id="1", status=201), event(id="2", api_version="v1", application="")]
    path = write_csv(tmp_path / "a.csv", sent)
    result = run(runner, "ingest", path)
    assert result.exit_code == 0, result.output
    frame = events_of(lake)
    assert frame.get_column("status").to_list() == [201, 200]
    assert frame.get_column("application").to_list() == ["Zapier Sync", None]


def test_ingest_parquet(runner, lake: Lake, tmp_path: Path) -> None:
    sent = [event(id="1"), event(id="2", latency_ms=None)]
    frame = pl.DataFrame(sent).with_columns(
        pl.col("ts").str.to_datetime(time_zone="UTC"),
        pl.col("status").cast(pl.Int16),
        pl.col("module").cast(pl.Categorical),
    )
    path = tmp_path / "a.parquet"
    frame.write_parquet(path)
    result = run(runner, "ingest", path)
    assert result.exit_code == 0, result.output
    back = events_of(lake)
    assert back.get_column("ts").to_list() == frame.get_column("ts").dt.truncate("1ms").to_list()
    assert back.get_column("latency_ms").to_list() == [120.5, None]
    assert back.get_column("module").to_list() == ["Leads", "Leads"]


def test_ingest_gzip_and_format_option(runner, lake: Lake, tmp_path: Path) -> None:
    packed = tmp_path / "a.ndjson.gz"
    packed.write_bytes(gzip.compress(json.dumps(event(id="1")).encode()))
    other = write_ndjson(tmp_path / "export.txt", [event(id="2")])
    result = run(runner, "ingest", "--format", "ndjson", packed, other)
    assert result.exit_code == 0, result.output
    assert events_of(lake).get_column("id").to_list() == ["1", "2"]


def test_ingesting_a_file_twice_skips_duplicates(runner, lake: Lake, tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "a.ndjson", [event(id="1"), event(id="2"), event()])
    assert run(runner, "ingest", path).exit_code == 0
    again = run(runner, "ingest", path)
    assert again.exit_code == 0
    assert "stored 1 events, skipped 2 duplicates" in again.stdout
    assert events_of(lake).height == 4


# -- bad files -----------------------------------------------------------------------------


def test_a_bad_file_is_refused_whole_and_a_good_one_stored(
    runner, lake: Lake, tmp_path: Path
) -> None:
    good = write_ndjson(tmp_path / "good.ndjson", [event(id="g1"), event(id="g2")])
    bad = write_ndjson(
        tmp_path / "bad.ndjson",
        [event(id="b1"), event(id="b2", ip="300.0.0.1"), event(id="b3", method="FETCH")],
        blank_after=0,
    )
    result = run(runner, "ingest", bad, good)
    assert result.exit_code == 1
    assert f"{bad}: 2 of 3 records are invalid; nothing was stored" in result.stderr
    assert f"{bad}: line 3: field 'ip' is not a valid IPv4 or IPv6 address" in result.stderr
    assert f"{bad}: line 4: field 'method' must be an HTTP method" in result.stderr
    assert f"{good}: stored 2 events" in result.stdout
    assert events_of(lake).get_column("id").to_list() == ["g1", "g2"]


def test_bad_csv_lines_are_numbered_from_the_header(runner, lake: Lake, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [event(id="1"), event(id="2"), event(id="3", status=0)])
    result = run(runner, "ingest", path)
    assert result.exit_code == 1
    assert f"{path}: line 4: field 'status' must be from 100 to 599" in result.stderr
    assert lake.is_empty()


def test_unknown_csv_column_is_refused(runner, lake: Lake, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("ts,module,region\n1,Leads,eu\n")
    result = run(runner, "ingest", path)
    assert result.exit_code == 1
    assert f"{path}: line 1: field 'region' is not a known column" in result.stderr
    assert lake.is_empty()


def test_invalid_json_line_is_named(runner, lake: Lake, tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(event()) + "\n\n{oops\n")
    result = run(runner, "ingest", path)
    assert result.exit_code == 1
    assert f"{path}: line 3: is not valid JSON" in result.stderr
    assert lake.is_empty()


def test_more_than_100_problems_are_cut_short(runner, lake: Lake, tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "a.ndjson", [event(user="")] * 120)
    result = run(runner, "ingest", path)
    assert result.exit_code == 1
    assert "line 100: field 'user' is required" in result.stderr
    assert "line 101:" not in result.stderr
    assert "more problems not shown" in result.stderr


@pytest.mark.parametrize("name", ["events.txt", "events", "events.xlsx"])
def test_unknown_extension_is_a_clear_error(runner, lake: Lake, tmp_path: Path, name: str) -> None:
    path = write_ndjson(tmp_path / name, [event()])
    result = run(runner, "ingest", path)
    assert result.exit_code == 1
    assert "unknown file type" in result.stderr
    assert ".ndjson" in result.stderr
    assert lake.is_empty()


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("missing.ndjson", None, "cannot import"),
        ("broken.ndjson.gz", gzip.compress(b'{"ts": 1}\n' * 100)[:-20], "gzip"),
        ("garbage.parquet", b"PAR1 not really", "not a readable Parquet file"),
    ],
)
def test_unreadable_file_is_a_clear_error(
    runner, lake: Lake, tmp_path: Path, name: str, data: bytes | None, words: str
) -> None:
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    result = run(runner, "ingest", path)
    assert result.exit_code == 1
    assert str(path) in result.stderr
    assert words in result.stderr
    assert lake.is_empty()


# -- prune ---------------------------------------------------------------------------------


def _stored_event(ts: datetime, id_: str) -> dict[str, object]:
    return {
        "ts": ts,
        "api_version": "v2",
        "application": "App",
        "module": "Leads",
        "method": "GET",
        "user": "u",
        "ip": "192.0.2.1",
        "status": 200,
        "latency_ms": None,
        "credits": 1,
        "id": id_,
    }


def test_prune_removes_days_older_than_the_retention_window(runner, lake: Lake) -> None:
    now = datetime.now(UTC)
    old = [now - timedelta(days=40), now - timedelta(days=31, hours=1)]
    kept = [now - timedelta(days=29), now - timedelta(minutes=1)]
    lake.append(stored_frame([_stored_event(ts, str(i)) for i, ts in enumerate(old + kept)]))
    assert len(lake.days()) == 4
    result = run(runner, "prune")
    assert result.exit_code == 0, result.output
    assert "deleted 2 day(s)" in result.stdout
    for ts in old:
        assert ts.date().isoformat() in result.stdout
    assert lake.days() == sorted(ts.date() for ts in kept)
    again = run(runner, "prune")
    assert "deleted 0 day(s)" in again.stdout
    assert lake.days() == sorted(ts.date() for ts in kept)


# -- demo ----------------------------------------------------------------------------------


def test_demo_refuses_a_lake_with_data_without_append(runner, lake: Lake, env: Path) -> None:
    lake.append(stored_frame([_stored_event(datetime.now(UTC) - timedelta(minutes=1), "x")]))
    before = sorted((env / "lake").rglob("*.parquet"))
    result = run(runner, "demo", "--days", "1")
    assert result.exit_code == 1
    assert "already holds events" in result.stderr
    assert "--append" in result.stderr
    assert sorted((env / "lake").rglob("*.parquet")) == before
    added = run(runner, "demo", "--days", "1", "--append")
    assert added.exit_code == 0, added.output
    assert len(sorted((env / "lake").rglob("*.parquet"))) > len(before)


def test_demo_fills_an_empty_lake(runner, lake: Lake) -> None:
    result = run(runner, "demo", "--days", "1")
    assert result.exit_code == 0, result.output
    assert "demo events" in result.stdout
    assert not lake.is_empty()


def test_a_large_bad_file_reports_bad_lines_from_every_chunk(env, tmp_path, monkeypatch):
    """Big files are checked in chunks; the report covers the whole file, not the first chunk
    with a problem, and counts every bad record."""
    from app import server
    from server import commands

    monkeypatch.setattr(commands, "CHUNK", 3)
    lines = [json.dumps(event(id=f"e{i}")) for i in range(9)]
    lines[1] = json.dumps(event(ip="not-an-ip"))
    lines[7] = json.dumps(event(module=""))
    path = tmp_path / "big.ndjson"
    path.write_text("\n".join(lines) + "\n")
    result = server.test_cli_runner().invoke(args=["ingest", str(path)])
    assert result.exit_code == 1
    assert "2 of 9 records are invalid" in result.output
    assert "line 2: field 'ip'" in result.output and "line 8: field 'module'" in result.output
    assert Lake(env / "lake").is_empty()


def test_ingest_compacts_and_summarises_the_closed_days_it_touched(
    runner, lake: Lake, tmp_path: Path
) -> None:
    """Data made elsewhere is read from summaries at once: the closed days an import touched
    are compacted and summed into the window; the open day is left to the upkeep."""
    now = datetime.now(UTC)
    days_ago = [now - timedelta(days=d) for d in (1, 2, 3, 4)]
    sent = [
        event(id=f"{d}-{i}", ts=ts.isoformat().replace("+00:00", "Z"))
        for d, ts in enumerate([*days_ago, now - timedelta(minutes=1)])
        for i in range(3)
    ]
    path = write_ndjson(tmp_path / "old.ndjson", sent)
    result = run(runner, "ingest", path)
    assert result.exit_code == 0, result.output
    assert "compacted and summarised 4 closed day(s)" in result.stdout
    for ts in days_ago:
        assert [n[:8] for n in lake.live_files(ts.date())] == ["compact-"]
    assert [n[:5] for n in lake.live_files(now.date())] == ["part-"]
    window = lake._window()
    assert window is not None
    assert sorted(window.days) == sorted(f"date={ts.date()}" for ts in days_ago)

    again = write_ndjson(tmp_path / "more.ndjson", [event(id="x", ts=sent[0]["ts"])])
    result = run(runner, "ingest", "--no-compact", again)
    assert result.exit_code == 0, result.output
    assert "compacted" not in result.stdout
    assert len(lake.live_files(days_ago[0].date())) == 2
