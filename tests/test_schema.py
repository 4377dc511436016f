"""Validation of one API call event: every rule of PRODUCT.md's "One API call event" table."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data.schema import (
    FIELDS,
    MAX_ERRORS,
    STORAGE_SCHEMA,
    FieldError,
    ValidationError,
    validate_frame,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RETENTION_DAYS = 30
MINUTE_AGO = "2026-03-10T11:59:00Z"


def raw(**overrides: object) -> dict[str, object]:
    """One valid V2 event as sent, one minute before NOW; ``None`` drops a field."""
    base: dict[str, object] = {
        "ts": MINUTE_AGO,
        "api_version": "v2",
        "application": "Zapier Sync",
        "module": "Leads",
        "method": "GET",
        "user": "ana@example.com",
        "ip": "192.0.2.10",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def validate(rows: list[dict[str, object]] | pl.DataFrame) -> pl.DataFrame:
    frame = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(rows)
    return validate_frame(frame, now=NOW, retention_days=RETENTION_DAYS)


def refused(rows: list[dict[str, object]] | pl.DataFrame) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validate(rows)
    return info.value


def only_error(record: dict[str, object], field: str, *words: str) -> FieldError:
    """Validate ``[valid, record]``: one error, on record 1 and ``field``, saying ``words``."""
    exc = refused([raw(), record])
    assert [(e.index, e.field) for e in exc.errors] == [(1, field)], exc.errors
    error = exc.errors[0]
    for word in words:
        assert word.lower() in error.message.lower(), error.message
    assert exc.bad_records == 1
    assert exc.total == 2
    assert f"record 1: field '{field}'" in error.describe()
    return error


def stored(record: dict[str, object]) -> dict[str, object]:
    """The one event ``record`` becomes in storage form."""
    frame = validate([record])
    assert dict(frame.schema) == STORAGE_SCHEMA
    return frame.row(0, named=True)


# -- a whole batch, fully normalised --------------------------------------------------------


def test_a_valid_batch_is_returned_in_storage_form() -> None:
    rows = [
        raw(id="evt-1", status="201", latency_ms="12.5", credits="3"),
        raw(
            ts="2026-03-10T13:30:00.250+02:00",
            api_version="V2",
            method="post",
            ip="2001:DB8:0:0::1",
            module="  Deals ",
        ),
        raw(
            ts="1773143940000",
            api_version="v1",
            application=None,
            method="getRecords",
            ip="::ffff:192.0.2.1",
            user="42",
        ),
        raw(api_version="V1", application="", method="insertRecords", id=""),
    ]
    frame = pl.DataFrame(rows, schema={k: pl.String for r in rows for k in r})
    expected = pl.DataFrame(
        {
            "ts": [
                datetime(2026, 3, 10, 11, 59, tzinfo=UTC),
                datetime(2026, 3, 10, 11, 30, 0, 250_000, tzinfo=UTC),
                datetime(2026, 3, 10, 11, 59, tzinfo=UTC),
                datetime(2026, 3, 10, 11, 59, tzinfo=UTC),
            ],
            "api_version": ["v2", "v2", "v1", "v1"],
            "application": ["Zapier Sync", "Zapier Sync", None, None],
            "module": ["Leads", "Deals", "Leads", "Leads"],
            "method": ["GET", "POST", "getRecords", "insertRecords"],
            "user": ["ana@example.com", "ana@example.com", "42", "ana@example.com"],
            "ip": ["192.0.2.10", "2001:db8::1", "192.0.2.1", "192.0.2.10"],
            "status": [201, 200, 200, 200],
            "latency_ms": [12.5, None, None, None],
            "credits": [3, 1, 1, 1],
            "id": ["evt-1", None, None, None],
        },
        schema=STORAGE_SCHEMA,
    )
    assert_frame_equal(validate(frame), expected)


def test_json_numbers_are_accepted_like_numeric_text() -> None:
    frame = pl.DataFrame(
        {
            "ts": [1_773_143_940_000],
            "api_version": ["v2"],
            "application": ["App"],
            "module": ["Leads"],
            "method": ["DELETE"],
            "user": ["u"],
            "ip": ["10.0.0.1"],
            "status": [404],
            "latency_ms": [7],
            "credits": [2.0],
        }
    )
    expected = pl.DataFrame(
        {
            "ts": [datetime(2026, 3, 10, 11, 59, tzinfo=UTC)],
            "api_version": ["v2"],
            "application": ["App"],
            "module": ["Leads"],
            "method": ["DELETE"],
            "user": ["u"],
            "ip": ["10.0.0.1"],
            "status": [404],
            "latency_ms": [7.0],
            "credits": [2],
            "id": [None],
        },
        schema=STORAGE_SCHEMA,
    )
    assert_frame_equal(validate(frame), expected)


# -- ts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   "])
def test_ts_is_required(value: object) -> None:
    only_error(raw(ts=value), "ts", "is required")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-10T11:59:00Z", datetime(2026, 3, 10, 11, 59, tzinfo=UTC)),
        ("2026-03-10t11:59:00z", datetime(2026, 3, 10, 11, 59, tzinfo=UTC)),
        ("2026-03-10T11:59:00.123Z", datetime(2026, 3, 10, 11, 59, 0, 123_000, tzinfo=UTC)),
        ("2026-03-10T13:59:00+02:00", datetime(2026, 3, 10, 11, 59, tzinfo=UTC)),
        ("2026-03-10T06:29:00-05:30", datetime(2026, 3, 10, 11, 59, tzinfo=UTC)),
        ("2026-03-10T11:59:00+00:00", datetime(2026, 3, 10, 11, 59, tzinfo=UTC)),
        ("2026-03-10 11:59:00Z", datetime(2026, 3, 10, 11, 59, tzinfo=UTC)),
    ],
)
def test_ts_rfc3339_is_stored_in_utc(value: str, expected: datetime) -> None:
    assert stored(raw(ts=value))["ts"] == expected


@pytest.mark.parametrize("value", [1_773_143_940_000, "1773143940000", 1_773_143_940_000.0])
def test_ts_epoch_milliseconds(value: object) -> None:
    assert stored(raw(ts=value))["ts"] == datetime(2026, 3, 10, 11, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", ["2026-03-10T11:59:00", "2026-03-10 11:59", "2026-03-10T11:59:00.5"]
)
def test_ts_without_an_offset_is_refused(value: str) -> None:
    only_error(raw(ts=value), "ts", "no time zone", "Z", "+02:00")


@pytest.mark.parametrize("value", [1_773_143_940, "1773143940"])
def test_ts_in_epoch_seconds_gets_a_hint(value: object) -> None:
    only_error(raw(ts=value), "ts", "epoch seconds", "milliseconds")


@pytest.mark.parametrize("value", ["yesterday", "2026-03-10", "2026-13-40T11:59:00Z", "10/03/2026"])
def test_ts_that_is_not_a_time_is_refused(value: str) -> None:
    only_error(raw(ts=value), "ts", "not a valid time", "RFC 3339", "epoch milliseconds")


def test_ts_more_than_five_minutes_in_the_future_is_refused() -> None:
    only_error(raw(ts="2026-03-10T12:06:00Z"), "ts", "5 minutes in the future")
    assert stored(raw(ts="2026-03-10T12:04:59Z"))["ts"] == datetime(
        2026, 3, 10, 12, 4, 59, tzinfo=UTC
    )


def test_ts_older_than_the_retention_window_is_refused() -> None:
    only_error(raw(ts="2026-02-08T11:59:00Z"), "ts", "older than the 30-day retention")
    only_error(raw(ts=-1000), "ts", "older than the 30-day retention")
    assert stored(raw(ts="2026-02-08T12:01:00Z"))["ts"] == datetime(2026, 2, 8, 12, 1, tzinfo=UTC)


# -- api_version ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [("v1", "v1"), ("V1", "v1"), ("v2", "v2"), ("V2", "v2"), (" v2 ", "v2")]
)
def test_api_version_is_v1_or_v2_in_any_case(value: str, expected: str) -> None:
    assert stored(raw(api_version=value))["api_version"] == expected


@pytest.mark.parametrize("value", ["v3", "2", "version2", 2])
def test_api_version_other_values_are_refused(value: object) -> None:
    only_error(raw(api_version=value), "api_version", '"v1" or "v2"')


def test_api_version_is_required() -> None:
    only_error(raw(api_version=None), "api_version", "is required")


# -- application ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  "])
def test_application_is_required_for_v2(value: object) -> None:
    only_error(raw(application=value), "application", "required for v2")


@pytest.mark.parametrize("value", [None, ""])
def test_application_is_optional_for_v1_and_stored_null(value: object) -> None:
    event = stored(raw(api_version="v1", method="getRecords", application=value))
    assert event["application"] is None


def test_application_at_most_200_characters() -> None:
    assert stored(raw(application="a" * 200))["application"] == "a" * 200
    only_error(raw(application="a" * 201), "application", "at most 200 characters")


# -- module, method, user ------------------------------------------------------------------


@pytest.mark.parametrize(("field", "limit"), [("module", 100), ("method", 50), ("user", 200)])
def test_required_text_fields(field: str, limit: int) -> None:
    def v1(value: object) -> dict[str, object]:
        return raw(**{"api_version": "v1", "method": "getRecords", field: value})

    only_error(v1(None), field, "is required")
    only_error(v1(""), field, "is required")
    assert stored(v1("x" * limit))[field] == "x" * limit
    only_error(v1("x" * (limit + 1)), field, f"at most {limit} characters")


@pytest.mark.parametrize(
    ("sent", "expected"),
    [("get", "GET"), ("Post", "POST"), ("PATCH", "PATCH"), ("delete", "DELETE")],
)
def test_v2_method_is_an_upper_cased_http_method(sent: str, expected: str) -> None:
    assert stored(raw(method=sent))["method"] == expected


@pytest.mark.parametrize("value", ["getRecords", "FETCH", "GETS"])
def test_v2_method_that_is_not_http_is_refused(value: str) -> None:
    only_error(raw(method=value), "method", "HTTP method", "GET")


@pytest.mark.parametrize("value", ["getRecords", "insertRecords", "get"])
def test_v1_method_names_are_kept_as_sent(value: str) -> None:
    assert stored(raw(api_version="v1", method=value))["method"] == value


# -- ip ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::1", "::1"),
    ],
)
def test_ip_is_normalised(sent: str, expected: str) -> None:
    assert stored(raw(ip=sent))["ip"] == expected


@pytest.mark.parametrize(
    "value", ["999.1.1.1", "192.0.2", "not-an-ip", "2001:db8::g", "1.2.3.4/24"]
)
def test_ip_that_is_not_an_address_is_refused(value: str) -> None:
    only_error(raw(ip=value), "ip", "not a valid IPv4 or IPv6 address")


def test_ip_is_required() -> None:
    only_error(raw(ip=None), "ip", "is required")


# -- status, latency_ms, credits, id -------------------------------------------------------


def test_status_defaults_to_200_and_keeps_a_given_code() -> None:
    assert stored(raw())["status"] == 200
    assert stored(raw(status=""))["status"] == 200
    assert stored(raw(status="503"))["status"] == 503
    assert stored(raw(status=100))["status"] == 100
    assert stored(raw(status=599))["status"] == 599


@pytest.mark.parametrize("value", [99, 600, "-1", 1000])
def test_status_outside_100_to_599_is_refused(value: object) -> None:
    only_error(raw(status=value), "status", "100 to 599")


@pytest.mark.parametrize("value", ["ok", "200.5", 200.5, True])
def test_status_that_is_not_a_whole_number_is_refused(value: object) -> None:
    only_error(raw(status=value), "status")


def test_latency_is_optional_and_not_negative() -> None:
    assert stored(raw())["latency_ms"] is None
    assert stored(raw(latency_ms=0))["latency_ms"] == 0.0
    assert stored(raw(latency_ms="12.75"))["latency_ms"] == 12.75
    only_error(raw(latency_ms=-0.5), "latency_ms", "must not be negative")
    only_error(raw(latency_ms="fast"), "latency_ms", "number of milliseconds")
    only_error(raw(latency_ms="inf"), "latency_ms", "number of milliseconds")


def test_credits_default_to_one_and_accept_zero_and_more() -> None:
    assert stored(raw())["credits"] == 1
    assert stored(raw(credits=0))["credits"] == 0
    assert stored(raw(credits="5"))["credits"] == 5


@pytest.mark.parametrize("value", [-1, "1.5", 1.5, "many"])
def test_credits_that_are_not_a_whole_number_from_zero_are_refused(value: object) -> None:
    only_error(raw(credits=value), "credits", "whole number")


def test_id_is_optional_and_at_most_128_characters() -> None:
    assert stored(raw())["id"] is None
    assert stored(raw(id=""))["id"] is None
    assert stored(raw(id="e" * 128))["id"] == "e" * 128
    assert stored(raw(id=12345))["id"] == "12345"
    only_error(raw(id="e" * 129), "id", "at most 128 characters")


# -- unknown fields, several bad records, truncation -----------------------------------------


@pytest.mark.parametrize("name", ["timestamp", "User", "extra"])
def test_unknown_fields_are_refused_not_dropped(name: str) -> None:
    error = only_error(raw(**{name: "x"}), name, "not a known field")
    for field in FIELDS:
        assert field in error.message


def test_every_bad_record_is_listed() -> None:
    rows = [
        raw(),
        raw(ts="2026-03-10T11:59:00"),
        raw(),
        raw(ip="300.1.1.1", status="700"),
        raw(module=None),
        raw(),
    ]
    exc = refused(pl.DataFrame(rows, schema={k: pl.String for r in rows for k in r}))
    assert [(e.index, e.field) for e in exc.errors] == [
        (1, "ts"),
        (3, "ip"),
        (3, "status"),
        (4, "module"),
    ]
    assert exc.bad_records == 3
    assert exc.total == 6
    assert not exc.truncated
    assert str(exc) == "3 of 6 records are invalid; nothing was stored"
    assert exc.errors[1].as_dict() == {
        "index": 3,
        "field": "ip",
        "message": "is not a valid IPv4 or IPv6 address",
    }


def test_more_than_100_errors_of_one_kind_are_truncated() -> None:
    rows = [raw(ip="bad")] * 150 + [raw()]
    exc = refused(rows)
    assert len(exc.errors) == MAX_ERRORS
    assert [e.index for e in exc.errors] == list(range(MAX_ERRORS))
    assert exc.bad_records == 150
    assert exc.total == 151
    assert exc.truncated


def test_more_than_100_errors_of_several_kinds_are_truncated() -> None:
    rows = [raw(ip="bad", status="1")] * 60
    exc = refused(rows)
    assert len(exc.errors) == MAX_ERRORS
    assert exc.errors[0].index == 0
    assert exc.errors[-1].index == MAX_ERRORS // 2 - 1
    assert exc.bad_records == 60
    assert exc.truncated


def test_exactly_100_errors_are_not_truncated() -> None:
    exc = refused([raw(user=None)] * MAX_ERRORS)
    assert len(exc.errors) == MAX_ERRORS
    assert not exc.truncated
