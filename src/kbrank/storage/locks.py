"""The two locks of an index directory (``flock``, so they belong to an open file and die with the process).

- The **writer lock** is an exclusive lock on ``DIR/.kbrank.journal``: one save at a time per directory.
  A second writer waits up to ``timeout`` seconds, then gets an `OutputError` that says who to wait for.
- The **reader lock** is a lock on the directory itself. A load holds it shared from before it reads the
  manifest until every file is open; a writer takes it exclusively, without waiting, only to delete the
  files of the generation it replaced. When a load holds it, the writer keeps those files (the journal
  lists them) and a later save deletes them. So a load sees the old index or the new one, never a file
  that vanished under it. A directory without write permission can still be locked for reading.

A lock that the file system does not support (some network mounts) is skipped with a warning: saving and
loading still work, only two concurrent saves are no longer kept apart.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from ..errors import OutputError

__all__ = ["WriterLock", "ReaderLock", "try_exclusive_directory", "LOCK_TIMEOUT", "JOURNAL"]

log = logging.getLogger("kbrank.storage")

#: Seconds a save waits for another save of the same directory (and a load for a writer's deletions).
LOCK_TIMEOUT = 60.0
#: The journal and writer lock file kbrank keeps in every index directory it writes.
JOURNAL = ".kbrank.journal"
_POLL = 0.02


def _fcntl() -> Any:  # the module, or None where flock does not exist
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    return fcntl


def _flock(fd: int, exclusive: bool, timeout: float | None) -> bool:
    """Take the lock, waiting up to ``timeout`` s (``None``: do not wait). False if it is held elsewhere;
    True if taken or if the file system cannot lock (then a warning is logged)."""
    fcntl = _fcntl()
    if fcntl is None:  # pragma: no cover - Windows
        return True
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    deadline = time.monotonic() + (timeout or 0.0)
    while True:
        try:
            fcntl.flock(fd, mode)
            return True
        except BlockingIOError:
            if timeout is None or time.monotonic() >= deadline:
                return False
            time.sleep(_POLL)
        except OSError as exc:  # ENOLCK, EOPNOTSUPP, EINVAL: a file system without flock
            log.warning("cannot lock (%s); concurrent saves to this directory are not kept apart", exc.strerror)
            return True


class WriterLock:
    """The exclusive writer lock on ``DIR/.kbrank.journal`` (created if needed); ``fd`` is the journal."""

    def __init__(self, directory: Path, *, timeout: float = LOCK_TIMEOUT) -> None:
        self.path = directory / JOURNAL
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _flock(fd, True, timeout):
                os.close(fd)
                raise OutputError(f"another process has been saving an index into this directory for {timeout:g} s "
                                  f"(it holds {JOURNAL})", path=str(directory),
                                  fix="wait for that save to finish, or save to another directory")
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else the previous holder removed the file (an aborted first save): lock the new one
                self.fd: int | None = fd
                return
            os.close(fd)
            directory.mkdir(parents=True, exist_ok=True)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class ReaderLock:
    """A shared lock on the directory itself, held while a load opens its files."""

    def __init__(self, directory: Path, *, timeout: float = LOCK_TIMEOUT) -> None:
        self.fd: int | None = None
        try:
            fd = os.open(directory, os.O_RDONLY)
        except OSError:  # pragma: no cover - platforms without directory file descriptors
            return
        if not _flock(fd, False, timeout):
            os.close(fd)
            from ..errors import IndexFormatError

            raise IndexFormatError(f"a save kept the directory locked for {timeout:g} s", path=str(directory),
                                   fix="try again when the save has finished")
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def try_exclusive_directory(directory: Path) -> int | None:
    """The directory locked exclusively if no load holds it (a file descriptor to close), else ``None``."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return None
    if _flock(fd, True, None):
        return fd
    os.close(fd)
    return None
