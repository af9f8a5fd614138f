"""`SQLiteAuditLog`: the audit trail in the ``audit`` table of a profile store's SQLite file."""

from __future__ import annotations

import json
import os
from typing import Iterable

from ...errors import ParameterError
from ..audit import AuditRecord
from ._database import Database, from_micros, to_micros

__all__ = ["SQLiteAuditLog"]


class SQLiteAuditLog:
    """Audit records in SQLite. Built by `SQLiteProfileStore.audit_log` (sharing the store's connection,
    closed with it) or with `SQLiteAuditLog.open` on a file of its own."""

    def __init__(self, database: Database, *, owns: bool = False) -> None:
        self._db = database
        self._owns = owns

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = True) -> "SQLiteAuditLog":
        """An audit log with its own connection to ``path`` (closed by `close`)."""
        return cls(Database(path, create=create), owns=True)

    def __repr__(self) -> str:
        return f"SQLiteAuditLog({self._db.path!r})"

    def append(self, records: Iterable[AuditRecord]) -> int:
        rows = []
        for record in records:
            if not isinstance(record, AuditRecord):
                raise ParameterError("records", "AuditRecord objects", type(record).__name__)
            rows.append((to_micros(record.at), record.customer, record.requester, record.action, record.outcome,
                         record.purpose, json.dumps(list(record.fields))))
        if rows:
            with self._db.write() as cur:
                cur.executemany("INSERT INTO audit (at_us, customer, requester, action, outcome, purpose, fields) "
                                "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def for_customer(self, customer: str) -> tuple[AuditRecord, ...]:
        with self._db.read() as cur:
            rows = cur.execute("SELECT at_us, customer, requester, action, outcome, purpose, fields FROM audit "
                               "WHERE customer = ? ORDER BY id", (customer,)).fetchall()
        return tuple(AuditRecord(at=from_micros(at), customer=who, requester=requester, action=action,
                                 outcome=outcome, purpose=purpose, fields=tuple(json.loads(fields)))
                     for at, who, requester, action, outcome, purpose, fields in rows)

    def rekey(self, customer: str, tombstone: str) -> int:
        with self._db.write() as cur:
            return cur.execute("UPDATE audit SET customer = ? WHERE customer = ?", (tombstone, customer)).rowcount

    def __len__(self) -> int:
        with self._db.read() as cur:
            return int(cur.execute("SELECT count(*) FROM audit").fetchone()[0])

    def compact(self) -> bool:
        return self._db.compact()

    def close(self) -> None:
        if self._owns:
            self._db.close()
