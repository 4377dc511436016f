"""The lake's file operations, and nothing else: list, stage-then-publish, delete, lock.

Every byte the lake writes goes through :class:`LocalStore`, so that moving the lake to
object storage means writing one more class with these methods.

Durability: a file is written under a temporary name that readers skip (it starts with a
dot), flushed and fsynced, then renamed into place and the folder fsynced. A reader never
sees a half-written file, and once :meth:`Staged.publish` returns the file survives a crash.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

TEMP_PREFIX = ".tmp-"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Staged:
    """A fully written, fsynced file under a temporary name, waiting to be published."""

    temp: Path
    final: Path

    def publish(self) -> None:
        """Rename into place (atomic) and make the rename durable."""
        os.replace(self.temp, self.final)
        _fsync_dir(self.final.parent)

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


class LocalStore:
    """A folder on the local file system (or a persistent disk of the PaaS)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def list_dirs(self) -> list[str]:
        """Names of the visible sub-folders of the root (not starting with a dot)."""
        if not self.root.is_dir():
            return []
        return sorted(
            e.name for e in os.scandir(self.root) if e.is_dir() and not e.name.startswith(".")
        )

    def list_files(self, folder: str) -> list[str]:
        """Names of the visible files in ``folder`` (temporary files are skipped)."""
        try:
            entries = os.scandir(self.root / folder)
        except FileNotFoundError:
            return []
        with entries:
            return sorted(e.name for e in entries if e.is_file() and not e.name.startswith("."))

    def stage(self, folder: str, name: str, write: Callable[[Path], None]) -> Staged:
        """Write a file through ``write(temp_path)`` under a hidden name, then fsync it."""
        directory = self.root / folder
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            _fsync_dir(self.root)  # the new day's folder itself must survive a crash
        temp = directory / f"{TEMP_PREFIX}{uuid.uuid4().hex}-{name}"
        try:
            write(temp)
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        return Staged(temp=temp, final=directory / name)

    def delete(self, folder: str, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / folder / name).unlink()

    def delete_dir(self, folder: str) -> None:
        """Remove a whole folder: first renamed out of sight (atomic), then deleted."""
        source = self.root / folder
        if not source.exists():
            return
        hidden = self.root / f".trash-{uuid.uuid4().hex}-{folder}"
        os.replace(source, hidden)
        _fsync_dir(self.root)
        shutil.rmtree(hidden, ignore_errors=True)

    def sweep_trash(self) -> int:
        """Finish deleting folders a crashed :meth:`delete_dir` left renamed out of sight."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for entry in os.scandir(self.root):
            if entry.name.startswith(".trash-") and entry.is_dir():
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
        return removed

    def sweep_temporaries(self, folder: str, older_than_s: float, now_s: float) -> int:
        """Delete temporary files left by a crashed writer (older than ``older_than_s``)."""
        removed = 0
        directory = self.root / folder
        if not directory.is_dir():
            return 0
        for entry in os.scandir(directory):
            if entry.name.startswith(TEMP_PREFIX):
                with contextlib.suppress(FileNotFoundError):
                    if now_s - entry.stat().st_mtime > older_than_s:
                        os.unlink(entry.path)
                        removed += 1
        return removed

    @contextlib.contextmanager
    def lock(self, name: str, *, blocking: bool = True) -> Iterator[bool]:
        """An exclusive lock shared by every process on this machine; yields whether held."""
        directory = self.root / ".locks"
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class HeldLock:
    """A lock kept for as long as this process lives (leader election between workers).

    :meth:`try_acquire` is non-blocking; the lock is never released by hand: the operating
    system releases it when the process dies, so another worker takes over at its next try.
    """

    def __init__(self, store: LocalStore, name: str) -> None:
        self._path = store.root / ".locks" / f"{name}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True
