"""``POST /ingest/events`` through the Flask test client, over a real lake in a tmp folder."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from conftest import TOKEN, event, reset_caches
from data.lake import Lake

URL = "/ingest/events"
JSON = "application/json"
NDJSON = "application/x-ndjson"


def post(
    client,  # noqa: ANN001 - Flask test client
    body: bytes | list[dict[str, object]],
    *,
    content_type: str | None = JSON,
    token: str | None = TOKEN,
    headers: dict[str, str] | None = None,
):
    data = json.dumps(body).encode() if isinstance(body, list) else body
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if content_type is not None:
        sent["Content-Type"] = content_type
    return client.post(URL, data=data, headers=sent)


def ndjson(events: list[dict[str, object]]) -> bytes:
    return b"\n".join(json.dumps(e).encode() for e in events) + b"\n"


def stored(lake: Lake) -> pl.DataFrame:
    """Every event in the lake (last two days), sorted by id then ts."""
    now = datetime.now(UTC)
    frame = lake.collect(lambda: lake.scan(now - timedelta(days=2), now + timedelta(days=1)))
    return frame.sort("id", "ts", nulls_last=True)


def files(lake_dir: Path) -> list[Path]:
    return sorted(lake_dir.rglob("*.parquet"))


@pytest.fixture
def lake_dir(env: Path) -> Path:
    return env / "lake"


# -- accepted ------------------------------------------------------------------------------


def test_json_array_is_accepted_and_stored(client, lake: Lake) -> None:
    sent = [
        event(id="a", method="post", ip="2001:DB8:0:0::1"),
        event(id="b", api_version="V1", application=None, method="getRecords", credits=None),
    ]
    response = post(client, sent)
    assert response.status_code == 202
    assert response.get_json() == {"accepted": 2, "duplicates": 0}
    frame = stored(lake)
    assert frame.get_column("id").to_list() == ["a", "b"]
    assert frame.get_column("method").to_list() == ["POST", "getRecords"]
    assert frame.get_column("ip").to_list() == ["2001:db8::1", "192.0.2.10"]
    assert frame.get_column("api_version").to_list() == ["v2", "v1"]
    assert frame.get_column("application").to_list() == ["Zapier Sync", None]
    assert frame.get_column("credits").to_list() == [1, 1]


@pytest.mark.parametrize(
    "content_type", [NDJSON, "application/ndjson", "application/jsonl; charset=utf-8"]
)
def test_ndjson_is_accepted(client, lake: Lake, content_type: str) -> None:
    body = ndjson([event(id="a"), event(id="b"), event(id="c")]).replace(b"\n", b"\n\n", 1)
    response = post(client, body, content_type=content_type)
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"accepted": 3, "duplicates": 0}
    assert stored(lake).get_column("id").to_list() == ["a", "b", "c"]


@pytest.mark.parametrize("content_type", [JSON, NDJSON])
def test_gzip_body_is_accepted(client, lake: Lake, content_type: str) -> None:
    events = [event(id=str(i)) for i in range(50)]
    raw = json.dumps(events).encode() if content_type == JSON else ndjson(events)
    response = post(
        client, gzip.compress(raw), content_type=content_type, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"accepted": 50, "duplicates": 0}
    assert stored(lake).height == 50


def test_gzip_body_of_several_members_is_read_whole(client, lake: Lake) -> None:
    body = gzip.compress(ndjson([event(id="a")])) + gzip.compress(ndjson([event(id="b")]))
    response = post(client, body, content_type=NDJSON, headers={"Content-Encoding": "GZIP"})
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"accepted": 2, "duplicates": 0}
    assert stored(lake).get_column("id").to_list() == ["a", "b"]


def test_empty_array_stores_nothing(client, lake: Lake) -> None:
    response = post(client, [])
    assert response.status_code == 202
    assert response.get_json() == {"accepted": 0, "duplicates": 0}
    assert lake.is_empty()


# -- refused records: 400 and nothing stored -----------------------------------------------


def test_one_bad_record_among_valid_ones_stores_nothing(client, lake: Lake, lake_dir: Path) -> None:
    assert post(client, [event(id="before")]).status_code == 202
    before = files(lake_dir)
    sent = [event(id="1"), event(id="2", ip="999.0.0.1"), event(id="3")]
    response = post(client, sent)
    assert response.status_code == 400
    body = response.get_json()
    assert body["errors"] == [
        {"index": 1, "field": "ip", "message": "is not a valid IPv4 or IPv6 address"}
    ]
    assert body["bad_records"] == 1
    assert body["total"] == 3
    assert body["truncated"] is False
    assert "nothing was stored" in body["error"]
    assert files(lake_dir) == before
    assert stored(lake).get_column("id").to_list() == ["before"]


def test_every_bad_record_is_listed_with_index_field_and_message(client, lake: Lake) -> None:
    sent = [
        event(ts="2026-03-10T11:59:00"),
        event(),
        event(api_version="v3", status=99),
        event(extra="x"),
    ]
    response = post(client, sent)
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [
        (0, "ts"),
        (2, "api_version"),
        (2, "status"),
        (3, "extra"),
    ]
    for error in errors:
        assert set(error) == {"index", "field", "message"}
        assert error["message"]
    assert response.get_json()["bad_records"] == 3
    assert lake.is_empty()


def test_ndjson_errors_also_name_the_line(client, lake: Lake) -> None:
    body = ndjson([event(), event(user="")]).replace(b"\n", b"\n\n", 1)
    response = post(client, body, content_type=NDJSON)
    assert response.status_code == 400
    assert response.get_json()["errors"] == [
        {"index": 1, "field": "user", "line": 3, "message": "is required"}
    ]
    assert lake.is_empty()


def test_more_than_100_bad_records_are_truncated(client, lake: Lake) -> None:
    response = post(client, [event(ip="x")] * 150)
    assert response.status_code == 400
    body = response.get_json()
    assert len(body["errors"]) == 100
    assert body["truncated"] is True
    assert body["bad_records"] == 150
    assert lake.is_empty()


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (b'{"ts": 1}', JSON, "must be a JSON array"),
        (b'[{"ts": ', JSON, "is not valid JSON"),
        (b"[" * 100_000, JSON, "is not valid JSON"),
        (b"not json\n", NDJSON, "is not valid JSON"),
        (b"[{}, {}]", JSON, "is required"),
        (b"{}\n", NDJSON, "is required"),
        (b"[1, 2]", JSON, "must be a JSON object"),
        (b"\xff\xfe[]", JSON, "JSON"),
    ],
)
def test_body_that_is_not_json_is_a_400(
    client, lake: Lake, body: bytes, content_type: str, words: str
) -> None:
    response = post(client, body, content_type=content_type)
    assert response.status_code == 400
    assert words in json.dumps(response.get_json()["errors"])
    assert lake.is_empty()


@pytest.mark.parametrize(
    "body",
    [b"definitely not gzip", gzip.compress(b"[]" * 100)[:-10], b""],
    ids=["garbage", "truncated", "empty"],
)
def test_invalid_gzip_is_a_400(client, lake: Lake, body: bytes) -> None:
    response = post(client, body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "not valid gzip" in response.get_json()["error"]
    assert lake.is_empty()


# -- duplicates ----------------------------------------------------------------------------


def test_a_batch_sent_twice_is_stored_once(client, lake: Lake) -> None:
    sent = [event(id=f"evt-{i}") for i in range(5)]
    assert post(client, sent).get_json() == {"accepted": 5, "duplicates": 0}
    again = post(client, sent)
    assert again.status_code == 202
    assert again.get_json() == {"accepted": 0, "duplicates": 5}
    assert stored(lake).height == 5
    mixed = post(client, sent[:2] + [event(id="evt-new")])
    assert mixed.get_json() == {"accepted": 1, "duplicates": 2}
    assert stored(lake).height == 6


def test_duplicate_ids_inside_one_batch(client, lake: Lake) -> None:
    sent = [event(id="x", user="first"), event(id="y"), event(id="x", user="second")]
    assert post(client, sent).get_json() == {"accepted": 2, "duplicates": 1}
    frame = stored(lake)
    assert frame.get_column("id").to_list() == ["x", "y"]
    assert frame.filter(pl.col("id") == "x").get_column("user").to_list() == ["first"]


def test_events_without_id_are_never_duplicates(client, lake: Lake) -> None:
    sent = [event(), event()]
    assert post(client, sent).get_json() == {"accepted": 2, "duplicates": 0}
    assert post(client, sent).get_json() == {"accepted": 2, "duplicates": 0}
    assert stored(lake).height == 4


# -- auth, limits, content types -----------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN[:-1]}"],
)
def test_missing_or_wrong_token_is_a_401(client, lake: Lake, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = post(client, [event()], token=None, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in response.get_json()["error"]
    assert lake.is_empty()


def test_several_tokens_for_rotation(client, lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APIDASH_INGEST_TOKEN", "old-token-1234, new-token-5678")
    reset_caches()
    assert post(client, [event(id="1")], token="old-token-1234").status_code == 202
    assert post(client, [event(id="2")], token="new-token-5678").status_code == 202
    assert post(client, [event(id="3")], token=TOKEN).status_code == 401
    assert post(client, [event(id="4")], token="old-token-1234, new-token-5678").status_code == 401
    assert stored(lake).get_column("id").to_list() == ["1", "2"]


@pytest.mark.parametrize("value", ["", " , "])
def test_ingest_is_off_without_a_token(
    client, lake: Lake, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("APIDASH_INGEST_TOKEN", value)
    reset_caches()
    response = post(client, [event()])
    assert response.status_code == 503
    assert "APIDASH_INGEST_TOKEN" in response.get_json()["error"]
    assert lake.is_empty()


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch, env: Path) -> int:
    monkeypatch.setenv("APIDASH_INGEST_MAX_BYTES", "1024")
    reset_caches()
    return 1024


def test_body_over_the_size_limit_is_a_413(client, lake: Lake, small_limit: int) -> None:
    sent = [event(id=str(i)) for i in range(10)]
    body = json.dumps(sent).encode()
    assert len(body) > small_limit
    response = post(client, body)
    assert response.status_code == 413
    assert "1,024 bytes" in response.get_json()["error"]
    assert lake.is_empty()
    fits = json.dumps(sent[:3]).encode()
    assert len(fits) <= small_limit
    assert post(client, fits).status_code == 202


def test_gzip_bomb_is_a_413(client, lake: Lake, small_limit: int) -> None:
    raw = json.dumps([event(id="x" * 100, user="u" * 200)] * 30).encode()
    body = gzip.compress(raw)
    assert len(body) < small_limit < len(raw)
    response = post(client, body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert lake.is_empty()


def test_gzip_that_fits_once_unpacked_is_accepted(client, lake: Lake, small_limit: int) -> None:
    raw = json.dumps([event(id="a"), event(id="b")]).encode()
    assert len(raw) <= small_limit
    response = post(client, gzip.compress(raw), headers={"Content-Encoding": "gzip"})
    assert response.status_code == 202
    assert stored(lake).height == 2


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "text/csv", "multipart/form-data", None]
)
def test_other_content_types_are_a_415(client, lake: Lake, content_type: str | None) -> None:
    response = post(client, [event()], content_type=content_type)
    assert response.status_code == 415
    message = response.get_json()["error"]
    assert "application/json" in message
    assert "application/x-ndjson" in message
    assert lake.is_empty()


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd"])
def test_unknown_content_encoding_is_a_415(client, lake: Lake, encoding: str) -> None:
    response = post(client, [event()], headers={"Content-Encoding": encoding})
    assert response.status_code == 415
    assert encoding in response.get_json()["error"]
    assert lake.is_empty()
