"""One SQLite connection with kbrank's settings and transactions, shared by the profile store and the outbox.

Settings: WAL journal (readers never block the writer, nor the writer readers), ``synchronous=FULL`` (an
acknowledged write survives a power cut), foreign keys on, ``secure_delete`` on (deleted content is
overwritten with zeros, not left in free pages), a busy timeout for concurrent writers. `write` runs
``BEGIN IMMEDIATE ... COMMIT`` and rolls back completely on any error; `read` runs one read transaction, so
every statement inside sees the same snapshot. SQLite errors become the subclass's ``error`` class (an
`OSError`-like kbrank error taking ``problem, path=, fix=``).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["SQLiteDatabase", "to_micros", "from_micros"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICROSECOND = dt.timedelta(microseconds=1)


def to_micros(moment: dt.datetime) -> int:
    """Microseconds since the Unix epoch (UTC) of an aware datetime: how kbrank stores times in SQLite."""
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> dt.datetime:
    """The aware UTC datetime of ``to_micros``' value."""
    return _EPOCH + dt.timedelta(microseconds=micros)


class SQLiteDatabase:
    """A connection to ``path`` guarded by a lock so that threads can share it. Subclasses set ``error``
    (the exception class) and ``kind`` (what the file is, for messages) and create their schema."""

    error: Any = OSError
    kind = "database"

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 10.0) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._timeout_ms = int(timeout * 1000)
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            self._configure()
        except BaseException:
            self.close()
            raise

    def _configure(self) -> None:
        conn = self.connection
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.DatabaseError as exc:
            raise self.error(f"not a SQLite database ({exc})", path=self.path,
                             fix=f"point at a kbrank {self.kind}") from None
        for pragma in ("synchronous = FULL", "foreign_keys = ON", "secure_delete = ON"):
            conn.execute(f"PRAGMA {pragma}")

    @property
    def connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise self.error(f"the {self.kind} is closed", path=self.path, fix="open it again")
        return self._conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction: committed if the block succeeds, rolled back entirely otherwise."""
        with self._lock:
            with self._transaction("BEGIN IMMEDIATE", "the write was rolled back; nothing changed",
                                   "retry; if it persists, check the disk and that no other program holds a lock"
                                   ) as cur:
                yield cur
            self._written()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Cursor]:
        """A read transaction: every statement inside sees the same snapshot."""
        with self._transaction("BEGIN", "the read failed", "retry; if it persists the file may be damaged") as cur:
            yield cur

    def _written(self) -> None:
        """Called after each committed write (subclasses count them)."""

    @contextmanager
    def _transaction(self, begin: str, failure: str, fix: str) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            conn = self.connection
            cur = conn.cursor()
            try:
                cur.execute(begin)
                yield cur
                cur.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self.error(f"{failure} (SQLite: {exc})", path=self.path, fix=fix) from exc
                raise
            finally:
                cur.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    @property
    def closed(self) -> bool:
        return self._conn is None
