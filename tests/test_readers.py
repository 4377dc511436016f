"""Readers: HTTP bodies and files (NDJSON, JSON, CSV, Parquet, gzip) into raw frames."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data.ingest import store_batch
from data.lake import Lake
from data.readers import (
    RawBatch,
    detect_format,
    parse,
    parse_json,
    parse_ndjson,
    read_csv,
    read_parquet,
)
from data.schema import STORAGE_SCHEMA, ValidationError, validate_frame

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TS = "2026-03-10T11:59:00Z"
TS_MS = 1_773_143_940_000  # TS in epoch milliseconds


def line(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def ok(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "ts": TS,
        "api_version": "v2",
        "application": "App",
        "module": "Leads",
        "method": "GET",
        "user": "u@example.com",
        "ip": "192.0.2.1",
    }
    base.update(overrides)
    return base


def validate(batch: RawBatch) -> pl.DataFrame:
    """Validate as ingest does (errors located by line), with a fixed now."""
    try:
        return validate_frame(batch.frame, now=NOW, retention_days=30)
    except ValidationError as exc:
        raise exc.with_lines(batch.lines) from None


def refused(read, data: bytes) -> ValidationError:  # noqa: ANN001 - any reader
    with pytest.raises(ValidationError) as info:
        validate(read(data))
    return info.value


def located(exc: ValidationError) -> list[tuple[int | None, str | None]]:
    return [(e.line, e.field) for e in exc.errors]


# -- NDJSON --------------------------------------------------------------------------------


def test_ndjson_skips_blank_lines_and_numbers_the_others() -> None:
    body = b"\n".join(
        [line(**ok(id="a")), b"", line(**ok(id="b")), b"   ", b"", line(**ok(id="c"))]
    )
    batch = parse_ndjson(body + b"\n\n")
    assert batch.frame.get_column("id").to_list() == ["a", "b", "c"]
    assert list(batch.lines) == [1, 3, 6]
    assert validate(batch).height == 3


def test_ndjson_validation_errors_name_the_real_line() -> None:
    body = b"\n".join([line(**ok()), b"", b"", line(**ok(ip="nope")), line(**ok())])
    exc = refused(parse_ndjson, body)
    assert located(exc) == [(4, "ip")]
    assert exc.errors[0].index == 1
    assert exc.errors[0].describe() == "line 4: field 'ip' is not a valid IPv4 or IPv6 address"


def test_ndjson_crlf_line_ends() -> None:
    body = line(**ok(id="a")) + b"\r\n" + line(**ok(id="b")) + b"\r\n"
    assert validate(parse_ndjson(body)).get_column("id").to_list() == ["a", "b"]


def test_ndjson_invalid_json_line_is_reported_with_its_line_number() -> None:
    body = b"\n".join([line(**ok()), b"", line(**ok()), b'{"ts": "2026-03-10T11:59:00Z",', b""])
    with pytest.raises(ValidationError) as info:
        parse_ndjson(body)
    exc = info.value
    assert located(exc) == [(4, None)]
    assert exc.errors[0].index == 2
    assert "is not valid JSON" in exc.errors[0].message
    assert exc.bad_records == 1
    assert exc.total == 3


@pytest.mark.parametrize("bad", [b"[1, 2]", b'"an event"', b"42", b"null", b"true"])
def test_ndjson_line_that_is_not_an_object(bad: bytes) -> None:
    body = b"\n".join([line(**ok()), b"", bad, line(**ok())])
    with pytest.raises(ValidationError) as info:
        parse_ndjson(body)
    assert located(info.value) == [(3, None)]
    assert "must be a JSON object" in info.value.errors[0].message


@pytest.mark.parametrize(
    ("value", "kind"), [({"name": "App"}, "an object"), (["App"], "a list"), (True, "true/false")]
)
def test_ndjson_value_of_the_wrong_kind_names_field_and_line(value: object, kind: str) -> None:
    body = b"\n".join([line(**ok()), line(**ok(application=value))])
    with pytest.raises(ValidationError) as info:
        parse_ndjson(body)
    assert located(info.value) == [(2, "application")]
    assert info.value.errors[0].message == f"must be text or a number, not {kind}"


@pytest.mark.parametrize(
    ("body", "lines", "words"),
    [
        (b"not json\n", [1], "is not valid JSON"),
        (b"{}\n\n{}", [1, 3], "is required"),
        (b"1\n2\n", [1, 2], "must be a JSON object"),
    ],
)
def test_ndjson_with_no_usable_field_at_all(body: bytes, lines: list[int], words: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate(parse_ndjson(body))
    assert info.value.total == len(lines)
    assert sorted({e.line for e in info.value.errors}) == lines
    assert words in info.value.errors[0].message


def test_ndjson_true_false_in_every_line_is_refused_at_validation() -> None:
    body = b"\n".join([line(**ok(credits=True)), line(**ok(credits=False))])
    exc = refused(parse_ndjson, body)
    assert located(exc) == [(1, "credits"), (2, "credits")]
    assert exc.errors[0].message == "must be text or a number, not true/false"


def test_ndjson_more_than_100_bad_lines_are_truncated() -> None:
    body = b"\n".join([b"{not json"] * 150 + [line(**ok())])
    with pytest.raises(ValidationError) as info:
        parse_ndjson(body)
    exc = info.value
    assert len(exc.errors) == 100
    assert [e.line for e in exc.errors] == list(range(1, 101))
    assert exc.bad_records == 150
    assert exc.total == 151
    assert exc.truncated


def test_ndjson_deeply_nested_line_is_a_clear_error() -> None:
    with pytest.raises(ValidationError) as info:
        parse_ndjson(line(**ok()) + b"\n" + b"[" * 100_000)
    assert located(info.value) == [(2, None)]


def test_ndjson_numbers_and_text_mixed_in_one_field() -> None:
    body = b"\n".join([line(**ok(ts=TS_MS, status=404)), line(**ok(status="201"))])
    events = validate(parse_ndjson(body))
    assert events.get_column("status").to_list() == [404, 201]
    assert events.get_column("ts").to_list() == [datetime(2026, 3, 10, 11, 59, tzinfo=UTC)] * 2


# -- JSON array ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b'{"ts": 1}', b'"events"', b"", b"  42"])
def test_json_that_is_not_an_array_is_refused(body: bytes) -> None:
    with pytest.raises(ValidationError) as info:
        parse_json(body)
    assert "must be a JSON array" in info.value.errors[0].message


def test_json_that_does_not_parse_names_line_and_column() -> None:
    with pytest.raises(ValidationError) as info:
        parse_json(b'[\n  {"ts": 1},\n  {"ts": }\n]')
    message = info.value.errors[0].message
    assert "is not valid JSON" in message
    assert "line 3" in message


def test_json_deeply_nested_is_a_clear_error() -> None:
    with pytest.raises(ValidationError) as info:
        parse_json(b"[" * 100_000)
    assert "is not valid JSON" in info.value.errors[0].message


def test_json_mixed_kinds_in_one_field_are_read() -> None:
    records = [
        ok(ts=TS_MS, status=404, latency_ms=3, credits=2.0),
        ok(status="201", latency_ms="4.5", credits="3"),
        ok(ts=float(TS_MS), latency_ms=1.25),
    ]
    events = validate(parse_json(json.dumps(records).encode()))
    assert events.get_column("status").to_list() == [404, 201, 200]
    assert events.get_column("latency_ms").to_list() == [3.0, 4.5, 1.25]
    assert events.get_column("credits").to_list() == [2, 3, 1]
    assert events.get_column("ts").to_list() == [datetime(2026, 3, 10, 11, 59, tzinfo=UTC)] * 3


def test_json_records_that_are_not_objects_or_hold_odd_values() -> None:
    records = [ok(), [1, 2], ok(module={"a": 1}), "x", ok(status=False)]
    with pytest.raises(ValidationError) as info:
        parse_json(json.dumps(records).encode())
    exc = info.value
    assert [(e.index, e.field) for e in exc.errors] == [
        (1, None),
        (2, "module"),
        (3, None),
        (4, "status"),
    ]
    assert exc.bad_records == 4
    assert exc.total == 5


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [("credits", 2, True), ("latency_ms", 1.5, False), ("status", 200, True), ("user", "u", True)],
)
def test_json_true_false_next_to_other_values_is_not_turned_into_a_value(
    field: str, good: object, bad: object
) -> None:
    records = [ok(**{field: good}), ok(**{field: bad})]
    with pytest.raises(ValidationError) as info:
        parse_json(json.dumps(records).encode())
    assert [(e.index, e.field) for e in info.value.errors] == [(1, field)]
    assert info.value.errors[0].message == "must be text or a number, not true/false"


def test_json_empty_array_is_no_events() -> None:
    assert parse_json(b" [ ] ").frame.height == 0


# -- CSV -----------------------------------------------------------------------------------

CSV_HEADER = b"ts,api_version,application,module,method,user,ip,status,latency_ms,credits,id"


def test_csv_numeric_text_is_accepted() -> None:
    data = b"\n".join(
        [
            CSV_HEADER,
            b"2026-03-10T11:59:00Z,v2,App,Leads,get,u@example.com,192.0.2.1,404,12.5,3,e1",
            f"{TS_MS},v1,,Deals,getRecords,u2,::ffff:10.0.0.1,,,,".encode(),
            b'"2026-03-10T13:59:00+02:00",V2,"App, Inc.",Leads,POST,u3,2001:DB8::1,201,0,0,""',
        ]
    )
    batch = read_csv(data + b"\n")
    assert list(batch.lines) == [2, 3, 4]
    expected = pl.DataFrame(
        {
            "ts": [datetime(2026, 3, 10, 11, 59, tzinfo=UTC)] * 3,
            "api_version": ["v2", "v1", "v2"],
            "application": ["App", None, "App, Inc."],
            "module": ["Leads", "Deals", "Leads"],
            "method": ["GET", "getRecords", "POST"],
            "user": ["u@example.com", "u2", "u3"],
            "ip": ["192.0.2.1", "10.0.0.1", "2001:db8::1"],
            "status": [404, 200, 201],
            "latency_ms": [12.5, None, 0.0],
            "credits": [3, 1, 0],
            "id": ["e1", None, None],
        },
        schema=STORAGE_SCHEMA,
    )
    assert_frame_equal(validate(batch), expected)


def test_csv_with_fewer_columns_and_a_byte_order_mark() -> None:
    data = b"\xef\xbb\xbfts,api_version,module,method,user,ip\n" + (
        b"2026-03-10T11:59:00Z,v1,Leads,getRecords,u,192.0.2.1\n"
    )
    events = validate(read_csv(data))
    assert events.get_column("module").to_list() == ["Leads"]
    assert events.get_column("credits").to_list() == [1]


def test_csv_unknown_column_is_refused_at_line_1() -> None:
    data = b"ts,api_version,module,method,user,ip,region\n" + (
        b"2026-03-10T11:59:00Z,v1,Leads,getRecords,u,192.0.2.1,eu\n"
    )
    with pytest.raises(ValidationError) as info:
        read_csv(data)
    assert located(info.value) == [(1, "region")]
    assert "is not a known column" in info.value.errors[0].message
    assert info.value.errors[0].describe().startswith("line 1: field 'region'")


def test_csv_row_errors_are_at_line_i_plus_2() -> None:
    rows = [
        b"2026-03-10T11:59:00Z,v2,App,Leads,GET,u,192.0.2.1,200,,,",
        b"2026-03-10T11:59:00Z,v2,App,Leads,GET,u,192.0.2.1,200,,,",
        b"2026-03-10T11:59:00,v2,App,Leads,GET,u,192.0.2.1,200,,,",
        b"2026-03-10T11:59:00Z,v2,App,Leads,FETCH,u,192.0.2.1,abc,,,",
    ]
    exc = refused(read_csv, b"\n".join([CSV_HEADER, *rows]))
    assert located(exc) == [(4, "ts"), (5, "method"), (5, "status")]
    assert [e.index for e in exc.errors] == [2, 3, 3]


def test_csv_blank_lines_are_skipped_and_lines_stay_right() -> None:
    rows = [
        b"2026-03-10T11:59:00Z,v2,App,Leads,GET,u,192.0.2.1,200,,,",
        b"",
        b"2026-03-10T11:59:00Z,v2,App,Leads,GET,u,bad-ip,200,,,",
        b"",
    ]
    exc = refused(read_csv, b"\n".join([CSV_HEADER, *rows, b""]))
    assert located(exc) == [(4, "ip")]
    assert exc.total == 2
    good = b"\n".join([CSV_HEADER, rows[0], b"", rows[0], b"", b""])
    assert validate(read_csv(good)).height == 2


def test_csv_that_cannot_be_read_is_a_clear_error() -> None:
    with pytest.raises(ValidationError) as info:
        read_csv(b"")
    assert "is not a readable CSV file" in info.value.errors[0].message


# -- Parquet -------------------------------------------------------------------------------


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "ts",
    [
        pl.Series([datetime(2026, 3, 10, 11, 59)] * 2, dtype=pl.Datetime("us")),
        pl.Series([datetime(2026, 3, 10, 11, 59, tzinfo=UTC)] * 2).dt.convert_time_zone(
            "Europe/Paris"
        ),
        pl.Series([datetime(2026, 3, 10, 11, 59)] * 2, dtype=pl.Datetime("ns")),
        pl.Series([TS_MS] * 2, dtype=pl.Int64),
        pl.Series([TS, "2026-03-10T12:59:00+01:00"]),
    ],
    ids=["naive-us", "paris", "ns", "epoch-ms", "text"],
)
def test_parquet_typed_columns(ts: pl.Series) -> None:
    frame = pl.DataFrame(
        {
            "ts": ts,
            "api_version": ["v2", "v1"],
            "application": ["App", None],
            "module": pl.Series(["Leads", "Deals"], dtype=pl.Categorical),
            "method": ["post", "getRecords"],
            "user": ["u", "v"],
            "ip": ["10.0.0.1", "::1"],
            "status": pl.Series([201, 500], dtype=pl.Int16),
            "latency_ms": pl.Series([3.5, None], dtype=pl.Float32),
            "credits": pl.Series([2, 0], dtype=pl.UInt8),
            "id": pl.Series([1, 2], dtype=pl.Int32),
        }
    )
    batch = read_parquet(_parquet(frame))
    assert list(batch.lines) == [1, 2]
    expected = pl.DataFrame(
        {
            "ts": [datetime(2026, 3, 10, 11, 59, tzinfo=UTC)] * 2,
            "api_version": ["v2", "v1"],
            "application": ["App", None],
            "module": ["Leads", "Deals"],
            "method": ["POST", "getRecords"],
            "user": ["u", "v"],
            "ip": ["10.0.0.1", "::1"],
            "status": [201, 500],
            "latency_ms": [3.5, None],
            "credits": [2, 0],
            "id": ["1", "2"],
        },
        schema=STORAGE_SCHEMA,
    )
    assert_frame_equal(validate(batch), expected)


def test_parquet_row_errors_name_the_row_and_unknown_columns() -> None:
    frame = pl.DataFrame([ok(), ok(status=700), ok()]).with_columns(pl.lit("x").alias("extra"))
    exc = refused(read_parquet, _parquet(frame))
    assert located(exc) == [(1, "extra"), (2, "extra"), (2, "status"), (3, "extra")]


def test_parquet_that_cannot_be_read_is_a_clear_error() -> None:
    with pytest.raises(ValidationError) as info:
        read_parquet(b"PAR1 not really")
    assert "is not a readable Parquet file" in info.value.errors[0].message


# -- gzip and formats ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv", "parquet"])
def test_gzip_compressed_input_of_every_format(fmt: str) -> None:
    records = [ok(id="a"), ok(id="b")]
    data = {
        "ndjson": b"\n".join(line(**r) for r in records),
        "json": json.dumps(records).encode(),
        "csv": b"ts,api_version,application,module,method,user,ip,id\n"
        + b"".join(",".join(map(str, r.values())).encode() + b"\n" for r in records),
        "parquet": _parquet(pl.DataFrame(records)),
    }[fmt]
    plain = validate(parse(data, fmt))
    packed = validate(parse(gzip.compress(data), fmt))
    assert packed.get_column("id").to_list() == ["a", "b"]
    assert_frame_equal(packed, plain)


@pytest.mark.parametrize(
    "data",
    [
        gzip.compress(b'{"ts": 1}\n' * 50)[:-12],
        b"\x1f\x8b" + b"not gzip at all",
        gzip.compress(b'{"ts": 1}\n')[:-8] + b"\0" * 8,
    ],
    ids=["truncated", "garbage", "bad-crc"],
)
def test_broken_gzip_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="gzip"):
        parse(data, "ndjson")


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("events.ndjson", "ndjson"),
        ("events.jsonl", "ndjson"),
        ("EVENTS.NDJSON", "ndjson"),
        ("events.ndjson.gz", "ndjson"),
        ("events.json", "json"),
        ("events.2026-03.json.GZ", "json"),
        ("events.csv", "csv"),
        ("events.csv.gz", "csv"),
        ("events.parquet", "parquet"),
        ("events.pq", "parquet"),
    ],
)
def test_detect_format(name: str, fmt: str) -> None:
    assert detect_format(Path("/some/dir") / name) == fmt


@pytest.mark.parametrize("name", ["events.txt", "events", "events.gz", "events.xlsx.gz"])
def test_detect_format_refuses_unknown_types(name: str) -> None:
    with pytest.raises(ValueError, match="unknown file type") as info:
        detect_format(Path(name))
    assert name in str(info.value)
    assert ".ndjson" in str(info.value)
    assert ".csv" in str(info.value)


# -- through the lake ----------------------------------------------------------------------


def test_a_bad_line_stores_nothing_and_names_the_line(lake: Lake) -> None:
    recent = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    body = b"\n".join([line(**ok(ts=recent)), b"", line(**ok(ts=recent, user=""))])
    with pytest.raises(ValidationError) as info:
        store_batch(lake, parse_ndjson(body))
    assert located(info.value) == [(3, "user")]
    assert lake.is_empty()
    assert (
        store_batch(lake, parse_ndjson(body.replace(b'"user": ""', b'"user": "x"'))).accepted == 2
    )
