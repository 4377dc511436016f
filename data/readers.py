"""Turn what arrives (HTTP bodies, NDJSON / JSON / CSV / Parquet files) into raw frames.

A *raw batch* is one row per event, one column per field as sent, plus where each event came
from (its line number in a file or body), so that validation errors can name the line. The
fast path lets Polars parse; when Polars cannot (a line that is not JSON, a value of the
wrong kind), a slow path parses record by record and names each bad one.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from data.schema import FIELDS, MAX_ERRORS, FieldError, ValidationError

FORMATS = ("ndjson", "json", "csv", "parquet")
_SUFFIXES = {
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class RawBatch:
    """Events as sent; ``lines[i]`` is the line (or row) where event ``i`` starts, if known."""

    frame: pl.DataFrame
    lines: Sequence[int] | None = None


def _scalar_frame(records: list[dict[str, object]]) -> pl.DataFrame:
    """Columns of text from Python records (the slow path); odd kinds become errors later."""
    names: list[str] = []
    for record in records:
        for key in record:
            if key not in names:
                names.append(key)
    columns: dict[str, pl.Series] = {}
    for name in names:
        values = [record.get(name) for record in records]
        kinds = {type(v) for v in values if v is not None}
        if kinds <= {str, int, float}:
            text = [None if v is None else _number_text(v) for v in values]
            columns[name] = pl.Series(name, text, dtype=pl.String)
        else:
            columns[name] = pl.Series(name, values, dtype=pl.Object)
    return pl.DataFrame(columns or None, height=len(records))  # Polars: {} has height 0


def _number_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _object_errors(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[FieldError]]:
    """Replace columns of mixed Python objects by text, listing values of the wrong kind."""
    errors: list[FieldError] = []
    for name in frame.columns:
        col = frame.get_column(name)
        if col.dtype != pl.Object:
            continue
        text: list[str | None] = []
        for index, value in enumerate(col.to_list()):
            if (
                value is None
                or isinstance(value, (str, int, float))
                and not isinstance(value, bool)
            ):
                text.append(None if value is None else _number_text(value))
                continue
            kind = {bool: "true/false", list: "a list", dict: "an object"}.get(type(value), "that")
            errors.append(FieldError(index, name, f"must be text or a number, not {kind}"))
            text.append(None)
        frame = frame.with_columns(pl.Series(name, text, dtype=pl.String))
    return frame, errors


def _records_batch(
    records: list[object], lines: list[int] | None, errors: list[FieldError]
) -> RawBatch:
    """The slow path's end: check each record is an object, then build the frame."""
    dicts: list[dict[str, object]] = []
    for index, record in enumerate(records):
        if isinstance(record, dict):
            dicts.append(record)
        else:
            line = lines[index] if lines else None
            errors.append(FieldError(index, None, "must be a JSON object (an event)", line))
            dicts.append({})
    frame, kind_errors = _object_errors(_scalar_frame(dicts))
    errors.extend(kind_errors)
    if errors:
        bad = len({e.index for e in errors})
        errors.sort(key=lambda e: e.index)
        raise ValidationError(
            errors[:MAX_ERRORS],
            bad_records=bad,
            total=len(records),
            truncated=len(errors) > MAX_ERRORS,
        ).with_lines(lines)
    return RawBatch(frame, lines)


def _try(parse: Callable[[], pl.DataFrame]) -> pl.DataFrame | None:
    """The fast path: Polars parses, or None when it cannot (the exact path then names why)."""
    try:
        return parse()
    except Exception:  # noqa: BLE001 - any failure falls through to the record-by-record path
        return None


def _fast_ok(frame: pl.DataFrame) -> bool:
    allowed = (pl.String, pl.Int64, pl.Float64, pl.Null, pl.Boolean)
    return all(dtype in allowed for dtype in frame.schema.values())


def _maybe_coerced(frame: pl.DataFrame) -> bool:
    """Whether a text column may hold a true/false, object or list that Polars turned into text.

    ``read_ndjson`` writes such values mixed with text as JSON text (``{"a": 1}``, ``true``);
    the exact path then reports them. Text that merely looks like one only costs speed.
    """
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text:
        return False
    odd = pl.col(text).str.contains(r"^\s*(?:[\[{]|true\s*$|false\s*$)").any()
    return bool(frame.select(pl.any_horizontal(odd)).item())


def _plain(records: list[object]) -> bool:
    """Whether every record is an object of text, numbers and nulls only.

    Polars would silently turn true/false into 1/0 or text next to numbers or text.
    """
    return all(
        isinstance(r, dict) and all(v is None or type(v) in (str, int, float) for v in r.values())
        for r in records
    )


def parse_ndjson(body: bytes) -> RawBatch:
    """One JSON object per line; blank lines are skipped; lines are numbered from 1."""
    frame = _try(lambda: pl.read_ndjson(io.BytesIO(body), infer_schema_length=None))
    if frame is not None and _fast_ok(frame) and not _maybe_coerced(frame):
        return RawBatch(frame, _line_numbers(body) if frame.height else None)
    records: list[object] = []
    lines: list[int] = []
    errors: list[FieldError] = []
    for number, raw in enumerate(body.splitlines(), start=1):
        if not raw.strip():
            continue
        lines.append(number)
        try:
            records.append(json.loads(raw))
        except (ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            errors.append(FieldError(len(records), None, f"is not valid JSON ({reason})", number))
            records.append({})
    return _records_batch(records, lines, errors)


class _LineNumbers(Sequence[int]):
    """Line numbers of the non-blank lines of a body, computed only when asked for."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._lines: list[int] | None = None

    def _all(self) -> list[int]:
        if self._lines is None:
            split = self._body.splitlines()
            self._lines = [n for n, raw in enumerate(split, start=1) if raw.strip()]
        return self._lines

    def __getitem__(self, index):  # type: ignore[override]
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())


def _line_numbers(body: bytes) -> Sequence[int]:
    return _LineNumbers(body)


def parse_json(body: bytes) -> RawBatch:
    """A JSON array of event objects."""
    stripped = body.lstrip()
    if not stripped.startswith(b"["):
        raise ValidationError(
            [FieldError(0, None, "the body must be a JSON array of events: [{...}, {...}]")],
            bad_records=1,
            total=1,
        )
    try:
        records = json.loads(body)
    except (ValueError, RecursionError) as exc:
        where = (
            f" at line {exc.lineno}, column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ValidationError(
            [FieldError(0, None, f"is not valid JSON ({reason}{where})")],
            bad_records=1,
            total=1,
        ) from None
    if not records:
        return RawBatch(pl.DataFrame())
    if _plain(records):
        frame = _try(lambda: pl.DataFrame(records, infer_schema_length=None))
        if frame is not None and _fast_ok(frame):
            return RawBatch(frame)
    return _records_batch(records, None, [])


def read_csv(data: bytes) -> RawBatch:
    """A CSV file with a header row naming the fields; row ``i`` is on line ``i + 2``."""
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False, empty_string_is_null=True)
    except Exception as exc:  # noqa: BLE001 - Polars names the line in its message
        raise ValidationError(
            [FieldError(0, None, f"is not a readable CSV file ({exc})", 1)],
            bad_records=1,
            total=1,
        ) from None
    unknown = [c for c in frame.columns if c not in FIELDS]
    if unknown:
        raise ValidationError(
            [
                FieldError(0, name, f"is not a known column (known: {', '.join(FIELDS)})", 1)
                for name in unknown
            ],
            bad_records=frame.height,
            total=frame.height,
        )
    # A blank line reads as a row of nulls: skip it, as NDJSON does, keeping the line numbers.
    blank = frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
    if frame.width and blank.any():
        rows = frame.with_row_index("_line", offset=2).filter(~blank)
        return RawBatch(rows.drop("_line"), rows.get_column("_line").to_list())
    return RawBatch(frame, range(2, frame.height + 2))


def read_parquet(data: bytes) -> RawBatch:
    """A Parquet file with one column per field; rows are numbered from 1."""
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001
        raise ValidationError(
            [FieldError(0, None, f"is not a readable Parquet file ({exc})")],
            bad_records=1,
            total=1,
        ) from None
    return RawBatch(frame, range(1, frame.height + 1))


def detect_format(path: Path) -> str:
    """The format of a file by its name (``.gz`` allowed): ndjson, json, csv or parquet."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise ValueError(
            f"{path}: unknown file type; use .ndjson/.jsonl, .json, .csv or .parquet"
            " (optionally .gz)"
        )
    return fmt


def parse(data: bytes, fmt: str) -> RawBatch:
    """Parse bytes of a known format (see :data:`FORMATS`)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"is not a readable gzip file ({exc})") from None
    return {
        "ndjson": parse_ndjson,
        "json": parse_json,
        "csv": read_csv,
        "parquet": read_parquet,
    }[fmt](data)
