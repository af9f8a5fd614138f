"""The data subject's two requests, carried out for `ProfileGateway`: access (a report of everything held
and every use of it) and erasure (remove it everywhere, then prove what was removed)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Mapping

from ..errors import ErasureError, UnknownCustomerError
from ._cache import ProfileCache
from .audit import ALL_CUSTOMERS, AuditLog, AuditRecord
from .pseudonyms import new_tombstone
from .purposes import Decision, Purpose
from .reports import AccessReport, ErasureHook, ErasureReport, PurposeUse
from .store import ProfileStore

__all__ = ["access_report", "erase_customer"]

log = logging.getLogger("kbrank.privacy")


def access_report(store: ProfileStore, audit: AuditLog, pseudonym: str, *, purposes: Mapping[str, Purpose],
                  who: str, at: dt.datetime, retention: dt.timedelta | None,
                  usage_since: dt.datetime | None) -> AccessReport:
    """Build the report; the request itself is audited (and appears in the report's history)."""
    profile = store.get(pseudonym, with_addresses=True)
    if profile is None and not audit.for_customer(pseudonym):
        raise UnknownCustomerError(pseudonym, fix="check the id: kbrank holds no data and no history for it")
    uses = []
    for purpose in purposes.values():
        decision = purpose.decide(profile) if profile is not None else Decision(False, missing=purpose.consent)
        uses.append(PurposeUse(purpose.name, purpose.description, purpose.consent, decision.granted,
                               decision.fields))
    expired = 0 if profile is None or usage_since is None else sum(e.timestamp < usage_since for e in profile.usage)
    fields = () if profile is None else profile.held_fields
    audit.append([AuditRecord(at, pseudonym, who, "report", "granted", "data-subject-access", fields)])
    log.debug("access report for %s by %s", pseudonym[:12], who)
    return AccessReport(customer=pseudonym, generated_at=at, profile=profile, purposes=tuple(uses),
                        retention=retention, expired_events=expired, history=_history(audit, pseudonym, profile))


def _history(audit: AuditLog, pseudonym: str, profile: object) -> tuple[AuditRecord, ...]:
    """The customer's own records, plus the columnar scans (audited once for everyone, as ``ALL_CUSTOMERS``)
    that may have read them, in time order."""
    bulk = audit.for_customer(ALL_CUSTOMERS) if profile is not None else ()
    own = audit.for_customer(pseudonym)
    return tuple(sorted((*own, *bulk), key=lambda r: r.at)) if bulk else own


def erase_customer(store: ProfileStore, audit: AuditLog, cache: ProfileCache, hooks: Mapping[str, ErasureHook],
                   pseudonym: str, *, who: str, at: dt.datetime) -> ErasureReport:
    """Remove the customer from the store, the cache and every hook; re-key their audit records to a fresh
    tombstone; record the erasure under the tombstone; compact the storage."""
    tombstone = new_tombstone()
    removed = dict(store.delete(pseudonym))
    cached = cache.discard(pseudonym)
    rekeyed = audit.rekey(pseudonym, tombstone)
    done: dict[str, int] = {}
    failed: dict[str, str] = {}
    for name, hook in list(hooks.items()):
        try:
            count = hook(pseudonym)
            done[name] = 0 if count is None else int(count)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {str(exc).replace(pseudonym, '<pseudonym>')}"
    outcome = "incomplete" if failed else "done"
    audit.append([AuditRecord(at, tombstone, who, "erase", outcome, None, tuple(k for k, n in removed.items() if n))])
    compacted = bool(store.compact()) & bool(audit.compact())
    report = ErasureReport(tombstone=tombstone, at=at, store=removed, audit_records=rekeyed, cache_entries=cached,
                           hooks=done, failed_hooks=failed, storage_compacted=compacted)
    log.info("erasure %s by %s: %s", tombstone, who, "complete" if report.complete else
             "INCOMPLETE: " + "; ".join(report.incomplete_reasons))
    if failed:
        raise ErasureError(f"erasure incomplete: the hooks {', '.join(sorted(failed))} failed", report=report)
    return report
