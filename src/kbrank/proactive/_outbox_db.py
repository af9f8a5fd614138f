"""The SQLite file behind `kbrank.proactive.Outbox`: its schema, on kbrank's one SQLite setup (`kbrank._sqlite`).

The outbox may live in its own file or inside a kbrank profile store's file (then erasure's compaction of
the store also rewrites the outbox's pages). It refuses any other SQLite database, so it never writes into a
file kbrank did not make. The settings are the profile store's: WAL, ``synchronous=FULL`` (a message marked
sent stays marked after a power cut), foreign keys, ``secure_delete`` (an erased customer's rows are
overwritten, not left in free pages) and a busy timeout, so several dispatchers can share one outbox.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path
from typing import overload

from .._sqlite import SQLiteDatabase, to_micros
from .._sqlite import from_micros as _from_micros
from ..errors import OutboxError

__all__ = ["OutboxDatabase", "SCHEMA_VERSION", "has_outbox", "to_micros", "from_micros"]

SCHEMA_VERSION = 1
_VERSION_KEY = "outbox_schema_version"
#: The tables of a kbrank profile store: an outbox may share its file.
_PROFILE_STORE_TABLES = {"meta", "profiles", "owned_products", "usage_events", "addresses", "consents", "audit"}

SCHEMA = """
CREATE TABLE outbox_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- one thread per known issue, one row per update planned on it
CREATE TABLE outbox_threads (
    issue  TEXT PRIMARY KEY,
    title  TEXT NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1))
) WITHOUT ROWID;
CREATE TABLE outbox_updates (
    issue      TEXT NOT NULL REFERENCES outbox_threads (issue),
    number     INTEGER NOT NULL,
    status     TEXT NOT NULL,
    eta        TEXT,
    quiet      INTEGER NOT NULL CHECK (quiet IN (0, 1)),
    closes     INTEGER NOT NULL CHECK (closes IN (0, 1)),
    planned_us INTEGER NOT NULL,
    PRIMARY KEY (issue, number)
) WITHOUT ROWID;

-- the audience snapshot: who is affected and why, by pseudonym (never an address)
CREATE TABLE outbox_audience (
    issue         TEXT NOT NULL,
    pseudonym     TEXT NOT NULL,
    joined_update INTEGER NOT NULL,
    clause        TEXT NOT NULL,
    contact       INTEGER NOT NULL CHECK (contact IN (0, 1)),
    decision      TEXT NOT NULL,
    channel       TEXT NOT NULL,
    locale        TEXT,
    segment       TEXT,
    product       TEXT,
    version       TEXT,
    PRIMARY KEY (issue, pseudonym)
) WITHOUT ROWID;
CREATE INDEX outbox_audience_by_customer ON outbox_audience (pseudonym);

-- next_us: when a pending or failed message is due, or when a leased one's lease expires
CREATE TABLE outbox_messages (
    id         INTEGER PRIMARY KEY,
    key        TEXT NOT NULL UNIQUE,
    issue      TEXT NOT NULL,
    update_no  INTEGER NOT NULL,
    pseudonym  TEXT NOT NULL,
    channel    TEXT NOT NULL,
    locale     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    html       INTEGER NOT NULL CHECK (html IN (0, 1)),
    state      TEXT NOT NULL CHECK (state IN ('pending', 'leased', 'sent', 'failed', 'dead', 'skipped')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_us    INTEGER NOT NULL,
    lease_owner TEXT,
    created_us INTEGER NOT NULL,
    first_us   INTEGER,
    done_us    INTEGER,
    error      TEXT
);
CREATE INDEX outbox_messages_due ON outbox_messages (state, next_us);
CREATE INDEX outbox_messages_by_issue ON outbox_messages (issue, state);
CREATE INDEX outbox_messages_by_customer ON outbox_messages (pseudonym);

-- every attempt to deliver a message, with how it ended
CREATE TABLE outbox_attempts (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES outbox_messages (id) ON DELETE CASCADE,
    number     INTEGER NOT NULL,
    worker     TEXT NOT NULL,
    started_us INTEGER NOT NULL,
    ended_us   INTEGER,
    outcome    TEXT NOT NULL,
    error      TEXT
);
CREATE INDEX outbox_attempts_by_message ON outbox_attempts (message_id, number);

-- issue '*' means every issue
CREATE TABLE outbox_unsubscribes (
    pseudonym TEXT NOT NULL,
    issue     TEXT NOT NULL,
    at_us     INTEGER NOT NULL,
    PRIMARY KEY (pseudonym, issue)
) WITHOUT ROWID;
"""


@overload
def from_micros(micros: int) -> dt.datetime: ...
@overload
def from_micros(micros: None) -> None: ...
@overload
def from_micros(micros: int | None) -> dt.datetime | None: ...
def from_micros(micros: int | None) -> dt.datetime | None:
    """`kbrank._sqlite.from_micros`, with ``None`` for a time not set yet."""
    return None if micros is None else _from_micros(micros)


def has_outbox(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a SQLite file with an outbox in it (opened read-only; nothing is written)."""
    if not Path(path).is_file():
        return False
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox_meta'"
                            ).fetchone() is not None
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()


class OutboxDatabase(SQLiteDatabase):
    """One connection to the outbox's SQLite file (kbrank's settings, `kbrank._sqlite`), shared by threads."""

    error = OutboxError
    kind = "outbox"

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, timeout: float = 10.0) -> None:
        path = str(path)
        if path != ":memory:" and not Path(path).is_file():
            if not create:
                raise OutboxError("no outbox here", path=path,
                                  fix="check the path, or plan an issue first (that creates the outbox)")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(path, timeout=timeout)
        try:
            self._ensure_schema(create)
        except BaseException:
            self.close()
            raise

    def _ensure_schema(self, create: bool) -> None:
        with self.write() as cur:
            tables = {row[0] for row in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "outbox_meta" in tables:
                row = cur.execute("SELECT value FROM outbox_meta WHERE name = ?", (_VERSION_KEY,)).fetchone()
                version = None if row is None else row[0]
                if version != str(SCHEMA_VERSION):
                    raise OutboxError(f"unknown outbox schema version {version} (this kbrank reads version "
                                      f"{SCHEMA_VERSION})", path=self.path,
                                      fix="open it with the kbrank version that wrote it")
                return
            if tables and not _PROFILE_STORE_TABLES <= tables:
                raise OutboxError("a SQLite database, but neither a kbrank outbox nor a kbrank profile store",
                                  path=self.path, fix="give a new file name; kbrank creates its outbox there")
            if not create:
                raise OutboxError("this file holds no outbox yet", path=self.path,
                                  fix="plan an issue first (that creates the outbox), or check the path")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    cur.execute(statement)
            cur.execute("INSERT INTO outbox_meta (name, value) VALUES (?, ?)", (_VERSION_KEY, str(SCHEMA_VERSION)))

    def checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it (after an erasure); ``False`` if a reader blocked it."""
        with self._lock:
            try:
                busy, _, _ = self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error as exc:
                raise OutboxError(f"checkpoint failed (SQLite: {exc})", path=self.path,
                                  fix="close other connections to the outbox and try again") from exc
            return not busy
