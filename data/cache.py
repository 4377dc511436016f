"""The statistics cache: every answer computed at most once per refresh period, on disk.

Periods are aligned to the hour (:00/:15/:30/:45 for 15 minutes). A key is the question, its
primitive arguments and its period; the value lives in a diskcache ``Cache`` under
``APIDASH_CACHE_DIR``, shared by every worker process on the machine. When several processes
miss the same key at once, one computes while the others wait on a file lock for that key and
then read its answer (no stampede). The live usage counters never come through here.

Closed days are not cached here: their rollups (written at compaction) already stand in for
them, and are reused until that day's data changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar

import diskcache

from config import get_settings
from data import clock

P = ParamSpec("P")
T = TypeVar("T")
_MISSING = object()


def period_bounds(moment: datetime, minutes: int) -> tuple[datetime, datetime]:
    """The refresh period containing ``moment``: ``[start, start + minutes)``."""
    start = moment.replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % minutes)
    return start, start + timedelta(minutes=minutes)


class StatsCache:
    """Answers on disk, shared by processes, computed once per key."""

    def __init__(self, directory: Path, refresh_minutes: int) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)  # nobody else may plant answers
        (self.directory / "locks").mkdir(exist_ok=True, mode=0o700)
        self.refresh_minutes = refresh_minutes
        self.store = diskcache.Cache(str(self.directory / "answers"), size_limit=512 * 2**20)
        self.computed = 0  # how many answers this process computed (for tests and logs)
        self._count = threading.Lock()

    def period(self, moment: datetime | None = None) -> tuple[datetime, datetime]:
        return period_bounds(moment or clock.now(), self.refresh_minutes)

    @contextlib.contextmanager
    def _key_lock(self, digest: str) -> Iterator[None]:
        # One lock file per key: answers built from other answers (a 30-day ranking from
        # per-day parts) take their parts' locks while holding their own, so keys must never
        # share a lock. Old lock files are swept by ``sweep_locks``.
        fd = os.open(self.directory / "locks" / f"{digest}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def get_or_compute(self, key: tuple, compute: Callable[[], T], expire_s: float | None) -> T:
        """The cached answer for ``key``, computing it (once across processes) on a miss."""
        value = self.store.get(key, default=_MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        digest = hashlib.sha256(repr(key).encode()).hexdigest()
        # A thread lock too: flock is per open file, so threads of one process exclude too.
        with _thread_lock(digest), self._key_lock(digest):
            value = self.store.get(key, default=_MISSING)
            if value is _MISSING:
                value = compute()
                self.store.set(key, value, expire=expire_s)
                with self._count:
                    self.computed += 1
        return value  # type: ignore[return-value]

    def sweep_locks(self, older_than_s: float = 3 * 3600) -> int:
        """Delete lock files nobody has used for a while (keys of past periods)."""
        removed = 0
        cutoff = time.time() - older_than_s
        for entry in os.scandir(self.directory / "locks"):
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
        return removed


_thread_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_thread_locks_guard = threading.Lock()


def _thread_lock(name: str) -> threading.Lock:
    """One lock per key for the threads of this process (flock only excludes processes
    when each thread opens its own file, which they do; this keeps them from spinning)."""
    with _thread_locks_guard:
        lock = _thread_locks.get(name)
        if lock is None:
            lock = threading.Lock()
            _thread_locks[name] = lock
        return lock


@functools.cache
def get_cache() -> StatsCache:
    settings = get_settings()
    return StatsCache(settings.cache_dir, settings.refresh_minutes)


def cached(fn: Callable[P, T]) -> Callable[P, T]:
    """Cache ``fn``'s answer per refresh period (arguments must be primitives)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        cache = get_cache()
        start, _ = cache.period()
        key = (fn.__module__, fn.__qualname__, args, tuple(sorted(kwargs.items())), start)
        expire = 3 * cache.refresh_minutes * 60
        return cache.get_or_compute(key, lambda: fn(*args, **kwargs), expire)

    return wrapper
