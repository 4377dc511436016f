"""One API call event: the storage schema and the validation every way in shares.

Every way data gets in (HTTP, files, the demo) turns its input into a *raw frame* — one row
per event, one column per field it carried, any dtype — and hands it to :func:`validate_frame`.
Validation is vectorised (Polars expressions), so a batch of 10,000 events costs milliseconds;
a failing batch raises :class:`ValidationError` listing every bad record and field.

Decisions where PRODUCT.md is silent (also in docs/ingest.md):

- Text values are stripped of surrounding white space; an empty optional value counts as absent.
- Numbers may come as JSON numbers or as numeric text (CSV has only text).
- ``api_version`` is case-insensitive; a V2 ``method`` is upper-cased and must be an HTTP method.
- A ``ts`` without a time zone offset is refused rather than guessed.
- IPv4-mapped IPv6 addresses (``::ffff:192.0.2.1``) are stored as the IPv4 address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

#: Column order and types of every Parquet file in the lake.
STORAGE_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("ms", "UTC"),
    "api_version": pl.String(),
    "application": pl.String(),
    "module": pl.String(),
    "method": pl.String(),
    "user": pl.String(),
    "ip": pl.String(),
    "status": pl.Int16(),
    "latency_ms": pl.Float64(),
    "credits": pl.Int64(),
    "id": pl.String(),
}
FIELDS: tuple[str, ...] = tuple(STORAGE_SCHEMA)
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MAX_FUTURE = timedelta(minutes=5)
MAX_ERRORS = 100
_LENGTHS = {"application": 200, "module": 100, "method": 50, "user": 200, "id": 128}
_NAIVE_TS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"


@dataclass(frozen=True)
class FieldError:
    """One problem with one record: ``index`` is its 0-based position in the batch."""

    index: int
    field: str | None
    message: str
    line: int | None = None

    def where(self) -> str:
        """Where the problem is, in words: 'line 12' for files, 'record 3' otherwise."""
        return f"line {self.line}" if self.line is not None else f"record {self.index}"

    def describe(self) -> str:
        field = f"field '{self.field}' " if self.field else ""
        return f"{self.where()}: {field}{self.message}"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"index": self.index, "field": self.field}
        if self.line is not None:
            out["line"] = self.line
        out["message"] = self.message
        return out


class ValidationError(ValueError):
    """A batch was refused: ``errors`` lists the first problems, ``bad_records`` counts all."""

    def __init__(
        self,
        errors: Sequence[FieldError],
        *,
        bad_records: int,
        total: int,
        truncated: bool = False,
    ) -> None:
        self.errors = list(errors)
        self.bad_records = bad_records
        self.total = total
        self.truncated = truncated
        noun = "record is" if bad_records == 1 else "records are"
        super().__init__(f"{bad_records} of {total} {noun} invalid; nothing was stored")

    def with_lines(self, lines: Sequence[int] | None) -> ValidationError:
        """The same errors, located by line number (``lines[index]``)."""
        if lines is None:
            return self
        located = [
            FieldError(
                e.index,
                e.field,
                e.message,
                lines[e.index] if e.line is None else e.line,
            )
            for e in self.errors
        ]
        return ValidationError(
            located, bad_records=self.bad_records, total=self.total, truncated=self.truncated
        )


class _Collector:
    """Gathers (row mask, field, message) findings into per-record errors."""

    def __init__(self, height: int) -> None:
        self.height = height
        self.found: list[tuple[pl.Series, str | None, str]] = []

    def add(self, mask: pl.Series, field: str | None, message: str) -> None:
        mask = mask.fill_null(False)
        if mask.any():
            self.found.append((mask, field, message))

    def raise_if_any(self) -> None:
        if not self.found:
            return
        bad = pl.Series([False] * self.height)
        errors: list[FieldError] = []
        count = 0  # every problem found, not only the first MAX_ERRORS of each kind kept
        for mask, field, message in self.found:
            bad = bad | mask
            count += int(mask.sum())
            for index in mask.arg_true().head(MAX_ERRORS).to_list():
                errors.append(FieldError(index, field, message))
        errors.sort(key=lambda e: (e.index, FIELDS.index(e.field) if e.field in FIELDS else -1))
        raise ValidationError(
            errors[:MAX_ERRORS],
            bad_records=int(bad.sum()),
            total=self.height,
            truncated=count > MAX_ERRORS,
        )


def _as_text(raw: pl.DataFrame, name: str, errors: _Collector) -> pl.Series:
    """The column as stripped text ('' and missing become null); odd JSON types are errors."""
    if name not in raw.columns:
        return pl.Series(name, [None] * raw.height, dtype=pl.String)
    col = raw.get_column(name)
    dtype = col.dtype
    if dtype == pl.String:
        text = col
    elif dtype == pl.Null or isinstance(dtype, (pl.Categorical, pl.Enum)):
        text = col.cast(pl.String)
    elif dtype == pl.Boolean:
        errors.add(col.is_not_null(), name, "must be text or a number, not true/false")
        text = pl.Series(name, [None] * raw.height, dtype=pl.String)
    elif dtype.is_integer():
        text = col.cast(pl.String)
    elif dtype.is_float():
        whole = col.is_finite() & (col == col.floor())
        text = (
            pl.select(
                pl.when(whole)
                .then(col.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(col.cast(pl.String))
            )
            .to_series()
            .alias(name)
        )
    elif isinstance(dtype, pl.Datetime):
        zone = col if dtype.time_zone else col.dt.replace_time_zone("UTC")
        text = zone.dt.epoch("ms").cast(pl.String)
    else:
        kind = "a list" if isinstance(dtype, (pl.List, pl.Array)) else "an object"
        errors.add(col.is_not_null(), name, f"must be text or a number, not {kind}")
        text = pl.Series(name, [None] * raw.height, dtype=pl.String)
    text = text.str.strip_chars()
    return pl.select(pl.when(text != "").then(text)).to_series().alias(name)


def _parse_ts(text: pl.Series, now: datetime, retention_days: int, errors: _Collector) -> pl.Series:
    errors.add(text.is_null(), "ts", "is required")
    numeric = text.str.contains(r"^-?\d{1,16}$")
    epoch = (
        pl.select(pl.when(numeric).then(text.cast(pl.Int64, strict=False))).to_series().alias("ts")
    )
    iso = (
        text.str.replace(r"^(\d{4}-\d{2}-\d{2})[ tT]", "${1}T")
        .str.replace(r"[zZ]$", "+00:00")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_zone="UTC", strict=False, time_unit="ms")
    )
    ts = pl.select(
        pl.when(numeric)
        .then(epoch.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"))
        .otherwise(iso)
    ).to_series()
    naive = text.str.replace(r"^(\d{4}-\d{2}-\d{2})[ tT]", "${1}T").str.contains(_NAIVE_TS)
    errors.add(
        text.is_not_null() & ts.is_null() & naive,
        "ts",
        "has no time zone offset: add Z for UTC or an offset such as +02:00",
    )
    errors.add(
        text.is_not_null() & ts.is_null() & ~naive,
        "ts",
        "is not a valid time: use RFC 3339 (2026-11-25T10:00:00Z) or epoch milliseconds",
    )
    seconds_like = numeric & epoch.is_between(0, 99_999_999_999)
    errors.add(
        seconds_like,
        "ts",
        "looks like epoch seconds: send epoch milliseconds (seconds × 1000)",
    )
    cutoff = now - timedelta(days=retention_days)
    errors.add(
        ts > now + MAX_FUTURE,
        "ts",
        f"is more than 5 minutes in the future (now is {now:%Y-%m-%dT%H:%M:%SZ})",
    )
    errors.add(
        (ts < cutoff) & ~seconds_like,
        "ts",
        f"is older than the {retention_days}-day retention window "
        f"(the oldest accepted time is {cutoff:%Y-%m-%dT%H:%M:%SZ})",
    )
    return ts.alias("ts")


def _check_length(text: pl.Series, name: str, errors: _Collector) -> None:
    limit = _LENGTHS[name]
    errors.add(text.str.len_chars() > limit, name, f"must be at most {limit} characters")


def _normalise_ips(text: pl.Series, errors: _Collector) -> pl.Series:
    errors.add(text.is_null(), "ip", "is required")
    mapping: dict[str, str | None] = {}
    for value in text.drop_nulls().unique().to_list():
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            mapping[value] = None
            continue
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        mapping[value] = str(address)
    if not mapping:
        return text
    keys = pl.Series(list(mapping), dtype=pl.String)
    values = pl.Series(list(mapping.values()), dtype=pl.String)
    normal = text.replace_strict(keys, values, default=None, return_dtype=pl.String)
    errors.add(
        text.is_not_null() & normal.is_null(),
        "ip",
        "is not a valid IPv4 or IPv6 address",
    )
    return normal.alias("ip")


def _whole_number(
    text: pl.Series, name: str, low: int, high: int, default: int, errors: _Collector
) -> pl.Series:
    value = (
        pl.select(pl.when(text.str.contains(r"^\d{1,15}$")).then(text.cast(pl.Int64, strict=False)))
        .to_series()
        .alias(name)
    )
    errors.add(
        text.is_not_null() & value.is_null(),
        name,
        f"must be a whole number from {low} to {high}",
    )
    errors.add(~value.is_between(low, high), name, f"must be from {low} to {high}")
    return value.fill_null(default)


def validate_frame(raw: pl.DataFrame, *, now: datetime, retention_days: int) -> pl.DataFrame:
    """Check every rule of the event schema; return the events in storage form.

    ``raw`` holds one row per event and one column per field present in the input, of any
    dtype. Raises :class:`ValidationError` naming each bad record (by index) and field.
    """
    errors = _Collector(raw.height)
    for name in raw.columns:
        if name not in STORAGE_SCHEMA:
            errors.add(
                raw.get_column(name).is_not_null(),
                name,
                f"is not a known field (known fields: {', '.join(FIELDS)})",
            )
    text = {name: _as_text(raw, name, errors) for name in FIELDS}

    ts = _parse_ts(text["ts"], now, retention_days, errors)

    version = text["api_version"].str.to_lowercase()
    errors.add(text["api_version"].is_null(), "api_version", "is required")
    errors.add(
        version.is_not_null() & ~version.is_in(["v1", "v2"]),
        "api_version",
        'must be "v1" or "v2"',
    )
    is_v2 = version == "v2"

    for name in ("module", "user"):
        errors.add(text[name].is_null(), name, "is required")
    errors.add(is_v2 & text["application"].is_null(), "application", "is required for v2 calls")
    for name in _LENGTHS:
        _check_length(text[name], name, errors)

    errors.add(text["method"].is_null(), "method", "is required")
    upper = text["method"].str.to_uppercase()
    errors.add(
        is_v2 & upper.is_not_null() & ~upper.is_in(HTTP_METHODS),
        "method",
        f"must be an HTTP method for v2 calls ({', '.join(HTTP_METHODS)})",
    )
    method = pl.select(pl.when(is_v2).then(upper).otherwise(text["method"])).to_series()

    ip = _normalise_ips(text["ip"], errors)
    status = _whole_number(text["status"], "status", 100, 599, 200, errors)
    credits = _whole_number(text["credits"], "credits", 0, 10**12, 1, errors)

    latency = text["latency_ms"].cast(pl.Float64, strict=False)
    errors.add(
        text["latency_ms"].is_not_null() & (latency.is_null() | ~latency.is_finite()),
        "latency_ms",
        "must be a number of milliseconds",
    )
    errors.add(latency < 0, "latency_ms", "must not be negative")

    errors.raise_if_any()
    return pl.DataFrame(
        {
            "ts": ts,
            "api_version": version,
            "application": text["application"],
            "module": text["module"],
            "method": method,
            "user": text["user"],
            "ip": ip,
            "status": status,
            "latency_ms": latency,
            "credits": credits,
            "id": text["id"],
        }
    ).cast(STORAGE_SCHEMA)
