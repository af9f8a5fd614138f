"""The SQLite database behind `SQLiteProfileStore` and `SQLiteAuditLog`: schema and compaction.

The connection settings and transactions are kbrank's one SQLite setup (`kbrank._sqlite`): WAL,
``synchronous=FULL`` (a consent withdrawal that was acknowledged survives a power cut), foreign keys,
``secure_delete`` (deleted content is overwritten with zeros, not left in free pages), a busy timeout; every
multi-statement read runs in one read transaction (one consistent snapshot); every write runs in
``BEGIN IMMEDIATE ... COMMIT`` and rolls back completely on any error.

`compact` runs ``VACUUM`` and ``wal_checkpoint(TRUNCATE)``, after which neither the database file nor the
``-wal`` file holds deleted rows. kbrank never runs ``ANALYZE``/``PRAGMA optimize``: with SQLite's STAT4
statistics that would copy sample index keys (pseudonyms) into ``sqlite_stat4``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..._sqlite import SQLiteDatabase, from_micros, to_micros
from ...errors import ProfileStoreError

__all__ = ["Database", "SCHEMA_VERSION", "SCHEMA", "to_micros", "from_micros"]

#: Stored in ``PRAGMA user_version``; a store with another version is refused.
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE profiles (
    pseudonym         TEXT PRIMARY KEY,
    region            TEXT,
    locale            TEXT,
    segment           TEXT,
    preferred_channel TEXT NOT NULL DEFAULT 'none'
                      CHECK (preferred_channel IN ('email', 'sms', 'push', 'none'))
) WITHOUT ROWID;
CREATE INDEX profiles_by_region ON profiles (region, segment);

CREATE TABLE owned_products (
    pseudonym     TEXT NOT NULL REFERENCES profiles (pseudonym) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    product       TEXT NOT NULL,
    version       TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'returned', 'retired')),
    line          TEXT,
    platform      TEXT,
    registered_at TEXT,
    PRIMARY KEY (pseudonym, position)
) WITHOUT ROWID;
-- proactive service: "who owns router-x200 at a version in >=2.0.3,<2.4, still active?"
CREATE INDEX owned_by_product_version ON owned_products (product, version, status, pseudonym);

CREATE TABLE usage_events (
    id        INTEGER PRIMARY KEY,
    pseudonym TEXT NOT NULL REFERENCES profiles (pseudonym) ON DELETE CASCADE,
    product   TEXT NOT NULL,
    feature   TEXT NOT NULL,
    at_us     INTEGER NOT NULL,
    region    TEXT,
    count     INTEGER NOT NULL CHECK (count >= 0)
);
CREATE INDEX usage_by_customer ON usage_events (pseudonym, id);
CREATE INDEX usage_by_time ON usage_events (at_us);

-- addresses live apart: only a contact read with channel consent ever loads them
CREATE TABLE addresses (
    pseudonym TEXT NOT NULL REFERENCES profiles (pseudonym) ON DELETE CASCADE,
    channel   TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
    address   TEXT NOT NULL,
    PRIMARY KEY (pseudonym, channel)
) WITHOUT ROWID;

CREATE TABLE consents (
    pseudonym      TEXT NOT NULL REFERENCES profiles (pseudonym) ON DELETE CASCADE,
    scope          TEXT NOT NULL,
    granted        INTEGER NOT NULL CHECK (granted IN (0, 1)),
    recorded_at_us INTEGER,
    PRIMARY KEY (pseudonym, scope)
) WITHOUT ROWID;

-- who read which fields (never values), customer is a pseudonym or, after erasure, a tombstone
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    at_us     INTEGER NOT NULL,
    customer  TEXT NOT NULL,
    requester TEXT NOT NULL,
    action    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    purpose   TEXT,
    fields    TEXT NOT NULL
);
CREATE INDEX audit_by_customer ON audit (customer, id);
"""


class Database(SQLiteDatabase):
    """One SQLite connection with kbrank's settings (`kbrank._sqlite`), holding the profile store's schema."""

    error = ProfileStoreError
    kind = "profile store"

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, timeout: float = 10.0) -> None:
        path = str(path)
        if path != ":memory:" and not create and not Path(path).is_file():
            raise ProfileStoreError("no profile store here", path=path,
                                    fix="check the path, or create the store first (ProfileGateway.open(path, "
                                        "key=..., create=True))")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._writes = 0
        self._dirty = False  # rows were deleted or changed since the last VACUUM
        self._wal_pending = False  # the last checkpoint could not empty the WAL
        super().__init__(path, timeout=timeout)
        try:
            self._ensure_schema()
        except BaseException:
            self.close()
            raise

    def _written(self) -> None:
        self._writes += 1
        self._dirty = True

    def _ensure_schema(self) -> None:
        with self.write() as cur:
            version = cur.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version == 0 and not tables:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        cur.execute(statement)
                cur.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                return
            if version == SCHEMA_VERSION:
                return
        if version == 0:
            raise ProfileStoreError("a SQLite database, but not a kbrank profile store", path=self.path,
                                    fix="give a new file name; kbrank creates its store there")
        raise ProfileStoreError(f"unknown profile store schema version {version} (this kbrank reads "
                                f"version {SCHEMA_VERSION})", path=self.path,
                                fix="open it with the kbrank version that wrote it")

    def generation(self) -> int:
        """Changes whenever this connection or any other one commits a change."""
        with self._lock:
            data_version = int(self.connection.execute("PRAGMA data_version").fetchone()[0])
            return (data_version << 32) + self._writes

    def compact(self, *, checkpoint_wait: float = 0.25) -> bool:
        """VACUUM and truncate the WAL; ``False`` when another connection's open read kept the WAL from
        emptying (waiting at most ``checkpoint_wait`` seconds for it): call it again later."""
        with self._lock:
            if not (self._dirty or self._wal_pending):
                return True
            conn = self.connection
            try:
                if self._dirty:
                    conn.execute("VACUUM")
                    self._dirty = False
                conn.execute(f"PRAGMA busy_timeout = {int(checkpoint_wait * 1000)}")
                try:
                    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                finally:
                    conn.execute(f"PRAGMA busy_timeout = {self._timeout_ms}")
            except sqlite3.Error as exc:
                raise ProfileStoreError(f"compaction failed (SQLite: {exc})", path=self.path,
                                        fix="close other connections to the store and call it again") from exc
            self._wal_pending = bool(busy)
            return not busy
