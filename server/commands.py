"""``flask --app app ingest|prune|compact|demo``: the lake's command-line tools."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
import polars as pl
from tqdm import tqdm

from config import get_settings
from data.demo import generate_events
from data.ingest import store_batch
from data.lake import Lake
from data.readers import FORMATS, RawBatch, detect_format, parse
from data.runtime import get_lake
from data.schema import MAX_ERRORS, FieldError, ValidationError, validate_frame

CHUNK = 200_000


def _validate_with_progress(batch: RawBatch, name: str, now: datetime) -> pl.DataFrame:
    """Validate a large file in chunks behind a progress bar; errors name the file's lines."""
    lake = get_lake()
    frame = batch.frame
    valid: list[pl.DataFrame] = []
    with tqdm(
        total=frame.height,
        unit="events",
        unit_scale=True,
        desc=f"checking {name}",
        disable=frame.height < CHUNK or None,
        file=sys.stderr,
    ) as bar:
        errors: list[FieldError] = []
        bad = 0
        truncated = False
        for offset in range(0, max(frame.height, 1), CHUNK):
            chunk = frame.slice(offset, CHUNK)
            try:
                valid.append(validate_frame(chunk, now=now, retention_days=lake.retention_days))
            except ValidationError as exc:  # keep checking: the report covers the whole file
                errors += [replace(e, index=e.index + offset) for e in exc.errors]
                bad += exc.bad_records
                truncated = truncated or exc.truncated
            bar.update(chunk.height)
    if bad:
        shown = errors[:MAX_ERRORS]
        more = truncated or len(errors) > MAX_ERRORS
        problem = ValidationError(shown, bad_records=bad, total=frame.height, truncated=more)
        raise problem.with_lines(batch.lines)
    return pl.concat(valid) if valid else frame


@click.command("ingest")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="The files' format (default: from each file's name).",
)
@click.option(
    "--no-compact",
    is_flag=True,
    help="Leave the closed days it touched for the upkeep to compact and summarise.",
)
def ingest_command(files: tuple[Path, ...], fmt: str | None, no_compact: bool) -> None:
    """Import events from NDJSON, JSON, CSV or Parquet FILES (each all-or-nothing), then
    compact and summarise the closed days they touched, as the upkeep would."""
    lake = get_lake()
    failed = 0
    touched: set[date] = set()
    for path in files:
        try:
            kind = fmt or detect_format(path)
            data = path.read_bytes()
            batch = parse(data, kind)
            now = datetime.now(UTC)
            events = _validate_with_progress(batch, path.name, now)
            result = lake.append(events)
            touched.update(events.get_column("ts").dt.date().unique().to_list())
        except ValidationError as exc:
            failed += 1
            click.echo(f"{path}: {exc}", err=True)
            for error in exc.errors:
                click.echo(f"  {path}: {error.describe()}", err=True)
            if exc.truncated:
                click.echo(f"  {path}: … more problems not shown", err=True)
            continue
        except (OSError, ValueError) as exc:
            failed += 1
            click.echo(f"{path}: cannot import: {exc}", err=True)
            continue
        click.echo(
            f"{path}: stored {result.accepted:,} events"
            + (f", skipped {result.duplicates:,} duplicates" if result.duplicates else "")
        )
    if not no_compact:
        _summarise(lake, touched)
    if failed:
        raise SystemExit(1)


def _summarise(lake: Lake, days: set[date]) -> None:
    """Compact the closed ones of ``days`` and write the window, so the dashboard reads their
    summaries at once rather than raw events until the next upkeep round."""
    today = datetime.now(UTC).date()
    closed = sorted(d for d in days if d < today)
    if not closed:
        return
    for day in tqdm(closed, desc="compacting closed days", unit="day", file=sys.stderr):
        lake.compact(day)
    lake.refresh_window()
    click.echo(f"compacted and summarised {len(closed)} closed day(s)")


@click.command("prune")
def prune_command() -> None:
    """Delete the days older than APIDASH_RETENTION_DAYS."""
    removed = get_lake().prune()
    days = ", ".join(d.isoformat() for d in removed) or "none"
    click.echo(f"deleted {len(removed)} day(s) older than the retention window: {days}")


@click.command("compact")
def compact_command() -> None:
    """Merge each day's small ingest files into one."""
    click.echo(f"compacted {get_lake().compact_all()} day(s)")


@click.command("demo")
@click.option("--days", default=30, show_default=True, help="How many days up to now.")
@click.option("--append", is_flag=True, help="Add demo traffic even if the lake has data.")
def demo_command(days: int, append: bool) -> None:
    """Fill the lake with realistic demo traffic (30 days up to now)."""
    lake = get_lake()
    if not lake.is_empty() and not append:
        click.echo(
            f"{lake.store.root} already holds events; add --append to add demo traffic anyway",
            err=True,
        )
        raise SystemExit(1)
    result = seed_demo(days)
    click.echo(f"stored {result:,} demo events in {lake.store.root}")


def seed_demo(days: int = 30, now: datetime | None = None) -> int:
    """Generate and store ``days`` of demo traffic ending now; returns the number stored."""
    settings = get_settings()
    lake = get_lake()
    now = now or datetime.now(UTC)
    days = min(days, settings.retention_days)
    start = now - timedelta(days=days) + timedelta(minutes=1)
    events = generate_events(
        start,
        now,
        limit_v2=settings.limit_v2,
        limit_v1=settings.limit_v1,
        v1_timezone=settings.v1_timezone,
    )
    return store_batch(lake, RawBatch(events), now=now).accepted


COMMANDS = (ingest_command, prune_command, compact_command, demo_command)
