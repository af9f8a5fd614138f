"""The two reports the gateway gives a data subject's requests: `AccessReport` (what is held about me, and
who used it) and `ErasureReport` (what was removed when I asked to be forgotten)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from .audit import AuditRecord
from .profiles import CustomerProfile, format_timestamp
from .records import profile_to_record

__all__ = ["ErasureHook", "ErasureReport", "PurposeUse", "AccessReport"]

#: An erasure hook gets the customer's pseudonym (never the raw id), removes everything it holds about
#: them, and returns how many items it removed. It must be idempotent: erasure may be retried.
ErasureHook = Callable[[str], int]


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ErasureReport:
    """What ``erase`` removed. Names the customer only by ``tombstone`` (the id that replaced their
    pseudonym in the audit trail), so the report itself can be kept as evidence of the erasure.

    ``store`` counts removed rows per kind, ``audit_records`` the audit records re-keyed to the tombstone,
    ``cache_entries`` the cached profiles dropped, ``hooks`` the items each registered hook removed and
    ``failed_hooks`` the hooks that raised (with the error, the pseudonym masked). ``storage_compacted`` says
    whether the store's files were rewritten so that no deleted bytes remain (``False`` when another
    connection kept the SQLite WAL busy: call ``ProfileGateway.compact()`` later).
    """

    tombstone: str
    at: dt.datetime
    store: Mapping[str, int] = field(default_factory=dict, hash=False)
    audit_records: int = 0
    cache_entries: int = 0
    hooks: Mapping[str, int] = field(default_factory=dict, hash=False)
    failed_hooks: Mapping[str, str] = field(default_factory=dict, hash=False)
    storage_compacted: bool = True

    def __post_init__(self) -> None:
        for name in ("store", "hooks", "failed_hooks"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def complete(self) -> bool:
        """Whether every part of the erasure succeeded: every hook ran and no deleted byte is left on disk."""
        return not self.incomplete_reasons

    @property
    def incomplete_reasons(self) -> tuple[str, ...]:
        """What is still to do, in words (empty when `complete`)."""
        reasons = [f"the erasure hook {name!r} failed: {error}" for name, error in self.failed_hooks.items()]
        if not self.storage_compacted:
            reasons.append("deleted bytes remain in the store's files (another connection kept the SQLite WAL "
                           "busy); call ProfileGateway.compact() when it is free")
        return tuple(reasons)

    @property
    def found(self) -> bool:
        """Whether the store held a profile for the customer."""
        return self.store.get("profiles", 0) > 0

    @property
    def total(self) -> int:
        """Every item removed or re-keyed."""
        return sum(self.store.values()) + self.audit_records + self.cache_entries + sum(self.hooks.values())

    def to_dict(self) -> dict[str, Any]:
        return {"tombstone": self.tombstone, "at": format_timestamp(self.at), "store": dict(self.store),
                "audit_records": self.audit_records, "cache_entries": self.cache_entries, "hooks": dict(self.hooks),
                "failed_hooks": dict(self.failed_hooks), "storage_compacted": self.storage_compacted,
                "complete": self.complete, "incomplete_reasons": list(self.incomplete_reasons)}

    def __str__(self) -> str:
        rows = ", ".join(f"{n} {kind}" for kind, n in self.store.items() if n) or "no stored profile"
        hooks = ", ".join(f"{name}: {n}" for name, n in self.hooks.items()) or "none"
        text = (f"erased {self.tombstone}: {rows}; {self.audit_records} audit records re-keyed; "
                f"{self.cache_entries} cache entries; hooks {hooks}")
        if self.failed_hooks:
            text += f"; FAILED hooks: {', '.join(self.failed_hooks)}"
        return text


@dataclass(frozen=True)
class PurposeUse:
    """One purpose as it applies to this customer: whether they consented, and the fields a read for it
    would hand out now."""

    purpose: str
    description: str
    consent: str
    consented: bool
    fields: tuple[str, ...]


@dataclass(frozen=True)
class AccessReport:
    """A data-subject access report (GDPR art. 15): the data held, the purposes it serves, how long usage
    history is kept, and every audited use of the data. ``profile`` is everything stored (``None`` if
    nothing is), including usage events past retention that are not yet purged (``expired_events``)."""

    customer: str
    generated_at: dt.datetime
    profile: CustomerProfile | None
    purposes: tuple[PurposeUse, ...]
    retention: dt.timedelta | None
    expired_events: int
    history: tuple[AuditRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (also the portable copy of the data, GDPR art. 20)."""
        return {
            "customer": self.customer,
            "generated_at": format_timestamp(self.generated_at),
            "data": None if self.profile is None else profile_to_record(self.profile),
            "purposes": [{"purpose": p.purpose, "description": p.description, "consent": p.consent,
                          "consented": p.consented, "fields": list(p.fields)} for p in self.purposes],
            "retention_days": None if self.retention is None else self.retention.total_seconds() / 86400,
            "expired_events": self.expired_events,
            "history": [{"at": format_timestamp(r.at), "requester": r.requester, "action": r.action,
                         "purpose": r.purpose, "outcome": r.outcome, "fields": list(r.fields)}
                        for r in self.history],
        }
