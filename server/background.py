"""Work done while the app runs: seeding the demo, live demo traffic, retention, compaction.

Every worker process starts one daemon thread at its first request. The threads elect one
leader with a lock file that the leader holds for its whole life (``HeldLock``): only the
leader prunes, compacts and sends live demo traffic, so the work runs once however many
gunicorn workers there are; when the leader dies the OS drops its lock and another worker
takes over within one tick. See docs/operations.md for why this is a lock and not a
separate ``clock:`` process.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from config import Settings, get_settings
from data.cache import get_cache
from data.demo import generate_events
from data.ingest import store_batch
from data.lake import Lake
from data.readers import RawBatch
from data.runtime import get_lake
from data.storage import HeldLock

log = logging.getLogger(__name__)
TICK_S = 5.0
COMPACT_TODAY_AT = 4  # compact the open day (and roll it up) once it has this many files
#: Between upkeep rounds, compact the open day as soon as it has this many files: a steady
#: ingest stream (a batch a second) would otherwise leave every live read hundreds of files.
COMPACT_TODAY_SOON_AT = 48
SETTLED_S = 30.0  # a closed day left alone this long after a write is compacted between rounds

_started = threading.Lock()
_thread: threading.Thread | None = None


def seed_if_empty(lake: Lake, settings: Settings, now: datetime | None = None) -> int:
    """With ``APIDASH_DEMO`` seed or live, fill an empty lake with 30 days of demo traffic.

    Runs under a lock so that several workers starting together seed once.
    """
    if settings.demo == "off":
        return 0
    with lake.store.lock("demo-seed"):
        if not lake.is_empty():
            return 0
        from server.commands import seed_demo

        stored = seed_demo(settings.retention_days, now=now)
        log.info("seeded the empty lake with %s demo events", stored)
        return stored


def maintain(lake: Lake, now: datetime | None = None) -> dict[str, int]:
    """One round of upkeep: prune old days, compact, sweep crashed writers' temp files."""
    now = now or datetime.now(UTC)
    pruned = len(lake.prune(now))
    today = now.date()
    compacted = 0
    for day in lake.days():
        if day < today or len(lake.live_files(day)) >= COMPACT_TODAY_AT:
            compacted += 1 if lake.compact(day) else 0
    lake.refresh_window(now)
    swept = lake.sweep(now) + get_cache().sweep_locks()
    return {"pruned": pruned, "compacted": compacted, "swept": swept}


class LiveDemo:
    """Sends demo calls for each new stretch of time, so the live counter moves."""

    def __init__(self, lake: Lake, settings: Settings) -> None:
        self.lake = lake
        self.settings = settings
        self.last = datetime.now(UTC)

    def tick(self, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        start, self.last = self.last, now
        if now - start > timedelta(minutes=10):
            start = now - timedelta(minutes=10)
        events = generate_events(
            start,
            now,
            limit_v2=self.settings.limit_v2,
            limit_v1=self.settings.limit_v1,
            v1_timezone=self.settings.v1_timezone,
        )
        return store_batch(self.lake, RawBatch(events), now=now).accepted if events.height else 0


def compact_between_rounds(lake: Lake, now: datetime | None = None) -> int:
    """What the upkeep thread does between rounds; returns the number of days compacted.

    - The open day (or any day) is compacted as soon as ingest has left it
      :data:`COMPACT_TODAY_SOON_AT` files since its last compaction.
    - A closed day not in final form (history sent over HTTP) is compacted once nothing has
      been written to it for :data:`SETTLED_S` seconds, and the window is brought up to
      date: imported history is read from summaries within a minute, not at the next round.
    """
    now = now or datetime.now(UTC)
    today = now.date()
    compacted = closed = 0
    for day in lake.days():
        files = lake.day_files(day)
        crowded = len(files.live) >= COMPACT_TODAY_SOON_AT
        unfinished_closed = day < today and not crowded and not files.final
        newest = lake.newest_write(day, files.live) if unfinished_closed else None
        settled = newest is not None and now.timestamp() - newest >= SETTLED_S
        if (crowded or settled) and lake.compact(day):
            compacted += 1
            closed += day < today
    if closed:
        lake.refresh_window(now)
    return compacted


def _loop(lake: Lake, settings: Settings) -> None:
    leader = HeldLock(lake.store, "leader")
    live = LiveDemo(lake, settings) if settings.demo == "live" else None
    next_upkeep = 0.0
    while True:
        try:
            if leader.try_acquire():
                if live is not None:
                    live.tick()
                if time.monotonic() >= next_upkeep:
                    log.info("upkeep: %s", maintain(lake))
                    next_upkeep = time.monotonic() + settings.maintenance_minutes * 60
                elif compacted := compact_between_rounds(lake):
                    log.info("compacted %s day(s) between upkeep rounds", compacted)
        except Exception:  # noqa: BLE001 - keep the thread alive; the next tick tries again
            log.exception("background work failed")
        time.sleep(TICK_S)


def start() -> None:
    """Seed an empty lake (once, across workers) and start this process's upkeep thread."""
    global _thread
    with _started:
        if _thread is not None:
            return
        settings = get_settings()
        lake = get_lake()
        seed_if_empty(lake, settings)
        _thread = threading.Thread(target=_loop, args=(lake, settings), daemon=True)
        _thread.start()
