"""The audit trail: who read which fields of whose profile, for what purpose, and when. Never the values.

Every read through the gateway appends an `AuditRecord` *before* the view is handed out (if the audit
cannot be written, nothing is handed out). Writes, consent changes, access reports and erasures are
recorded too. Records name the customer by pseudonym; erasure replaces it with a random tombstone, so the
trail keeps its counts while nothing in it points at the erased customer any more.

`AuditLog` is the interface; `InMemoryAuditLog` is here, the SQLite one lives with the SQLite store
(`kbrank.privacy.store.SQLiteAuditLog`, same database file).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable, Protocol, runtime_checkable

from ..errors import ParameterError
from .profiles import to_utc

if TYPE_CHECKING:  # pragma: no cover
    from .view import ProfileView

__all__ = ["ALL_CUSTOMERS", "ACTIONS", "OUTCOMES", "AuditRecord", "AuditLog", "InMemoryAuditLog", "audited_fields"]

#: What happened: a single read, a read during a scan, a profile write, a consent change, an access report,
#: an erasure, a proactive contact (``fields`` name the issue and channel, ``issue:KI-7``, ``channel:email``).
ACTIONS = ("read", "scan", "write", "consent", "report", "erase", "contact")
#: The ``customer`` of a record that covers a whole columnar scan (`ProfileGateway.scan_columns`): one record
#: names the fields and counts for every customer scanned; access reports list it for every customer.
ALL_CUSTOMERS = "*"
#: How it ended: fields handed out, the non-personalized view handed out, refused for lack of consent, done
#: (writes and erasure), or an erasure that could not finish.
OUTCOMES = ("granted", "degraded", "denied", "done", "incomplete")


@dataclass(frozen=True)
class AuditRecord:
    """One audited event. ``fields`` names what was handed out or written (``addresses.email`` for one
    address), never a value; ``purpose`` is ``None`` for events without one (writes, erasure)."""

    at: dt.datetime
    customer: str
    requester: str
    action: str
    outcome: str
    purpose: str | None = None
    fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", to_utc(self.at, name="at"))
        object.__setattr__(self, "fields", tuple(self.fields))
        if self.action not in ACTIONS:
            raise ParameterError("action", f"one of {', '.join(ACTIONS)}", self.action)
        if self.outcome not in OUTCOMES:
            raise ParameterError("outcome", f"one of {', '.join(OUTCOMES)}", self.outcome)
        if not isinstance(self.requester, str) or not self.requester.strip():
            raise ParameterError("requester", "a non-empty name of who asks (e.g. 'kbrank.personalize')",
                                 self.requester)
        if not isinstance(self.customer, str) or not self.customer:
            raise ParameterError("customer", "a pseudonym or tombstone", self.customer)


@runtime_checkable
class AuditLog(Protocol):
    """Where audit records go. Implementations must be safe to call from several threads."""

    def append(self, records: Iterable[AuditRecord]) -> int:
        """Append records atomically (all or none); returns how many."""
        ...

    def for_customer(self, customer: str) -> tuple[AuditRecord, ...]:
        """Every record about ``customer`` (pseudonym or tombstone), oldest first."""
        ...

    def rekey(self, customer: str, tombstone: str) -> int:
        """Replace ``customer`` by ``tombstone`` in every record; returns how many records changed."""
        ...

    def __len__(self) -> int:
        ...

    def compact(self) -> bool:
        """Make replaced identifiers unrecoverable from storage; returns whether that fully succeeded."""
        ...

    def close(self) -> None:
        ...


class InMemoryAuditLog:
    """An `AuditLog` in a Python list, for tests and notebooks."""

    def __init__(self) -> None:
        self._records: list[AuditRecord] = []
        self._lock = threading.Lock()

    def append(self, records: Iterable[AuditRecord]) -> int:
        batch = list(records)
        for record in batch:
            if not isinstance(record, AuditRecord):
                raise ParameterError("records", "AuditRecord objects", type(record).__name__)
        with self._lock:
            self._records.extend(batch)
        return len(batch)

    def for_customer(self, customer: str) -> tuple[AuditRecord, ...]:
        with self._lock:
            return tuple(r for r in self._records if r.customer == customer)

    def rekey(self, customer: str, tombstone: str) -> int:
        changed = 0
        with self._lock:
            for n, record in enumerate(self._records):
                if record.customer == customer:
                    self._records[n] = replace(record, customer=tombstone)
                    changed += 1
        return changed

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def compact(self) -> bool:
        return True

    def close(self) -> None:
        return None


def audited_fields(view: "ProfileView") -> tuple[str, ...]:
    """The fields of a view as the audit names them: each address handed out by its channel
    (``addresses.email``), so that the trail says which addresses went out, never what they are."""
    names: list[str] = []
    for name in view.fields:
        if name == "addresses":
            names.extend(f"addresses.{channel}" for channel in sorted(view.addresses))
        else:
            names.append(name)
    return tuple(names)
