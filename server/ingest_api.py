"""``POST /ingest/events``: bearer token, JSON array or NDJSON, gzip, all-or-nothing.

Answers (JSON bodies): ``202 {"accepted", "duplicates"}``; ``400`` with the bad records;
``401`` without a valid token; ``413`` over ``APIDASH_INGEST_MAX_BYTES``; ``415`` for another
content type or encoding; ``503`` when ingest is off (no token) or the lake cannot be written.
"""

from __future__ import annotations

import hmac
import logging
import zlib

from flask import Blueprint, Response, jsonify, request

from config import get_settings
from data.ingest import store_batch
from data.readers import parse_json, parse_ndjson
from data.runtime import get_lake
from data.schema import ValidationError

log = logging.getLogger(__name__)
blueprint = Blueprint("ingest", __name__)

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
JSON_TYPES = ("application/json",)


class _TooLarge(Exception):
    pass


def _error(status: int, message: str, **extra: object) -> Response:
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response


def token_ok(header: str | None, tokens: tuple[str, ...]) -> bool:
    """Whether ``Authorization: Bearer <token>`` names one of ``tokens`` (constant time)."""
    scheme, _, credentials = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return False
    given = credentials.strip().encode()
    # Compare with every token (no early exit), so timing tells nothing about which matched.
    matches = [hmac.compare_digest(given, token.encode()) for token in tokens]
    return any(matches)


def _read_body(limit: int) -> bytes:
    request.max_content_length = limit + 1  # this endpoint's own limit, not the app's
    if request.content_length is not None and request.content_length > limit:
        raise _TooLarge
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise _TooLarge
    return body


def _gunzip(body: bytes, limit: int) -> bytes:
    """Every member of a gzip body (``cat a.gz b.gz`` is valid gzip), at most ``limit`` bytes."""
    data = b""
    while True:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data += inflater.decompress(body, limit + 1 - len(data))
        if len(data) > limit or inflater.unconsumed_tail:
            raise _TooLarge
        if not inflater.eof:
            raise zlib.error("the gzip stream is truncated")
        body = inflater.unused_data
        if not body:
            return data


@blueprint.post("/ingest/events")
def ingest_events() -> Response:
    settings = get_settings()
    if not settings.ingest_enabled:
        return _error(
            503, "ingest is turned off: set APIDASH_INGEST_TOKEN on the server to turn it on"
        )
    if not token_ok(request.headers.get("Authorization"), settings.ingest_tokens):
        response = _error(401, "missing or wrong token: send 'Authorization: Bearer <token>'")
        response.headers["WWW-Authenticate"] = 'Bearer realm="ingest"'
        return response
    mimetype = request.mimetype
    if mimetype in NDJSON_TYPES:
        parse = parse_ndjson
    elif mimetype in JSON_TYPES:
        parse = parse_json
    else:
        return _error(
            415,
            f"unsupported Content-Type {mimetype or '(none)'!r}: send application/json "
            "(a JSON array of events) or application/x-ndjson (one event per line)",
        )
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        return _error(415, f"unsupported Content-Encoding {encoding!r}: send gzip or none")
    limit = settings.ingest_max_bytes
    try:
        body = _read_body(limit)
        if encoding == "gzip":
            body = _gunzip(body, limit)
    except _TooLarge:
        return _error(
            413,
            f"the batch is larger than {limit:,} bytes (compressed or not): send smaller batches",
        )
    except zlib.error as exc:
        return _error(400, f"the body is not valid gzip ({exc})")
    try:
        result = store_batch(get_lake(), parse(body))
    except ValidationError as exc:
        return _error(
            400,
            str(exc),
            errors=[e.as_dict() for e in exc.errors],
            bad_records=exc.bad_records,
            total=exc.total,
            truncated=exc.truncated,
        )
    except OSError:
        log.exception("ingest: the lake could not be written")
        return _error(503, "the lake could not be written; nothing was stored: try again later")
    response = jsonify({"accepted": result.accepted, "duplicates": result.duplicates})
    response.status_code = 202
    return response
