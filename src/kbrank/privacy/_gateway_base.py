"""The state and helpers every part of `ProfileGateway` shares: the clock, the requester, purposes, the
cached profile load and batch auditing. The gateway is assembled from this base, `_gateway_bulk` (scans and
other bulk access) and `_gateway_rights` (data-subject rights, erasure hooks, housekeeping)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Callable, Mapping

from ..errors import ParameterError
from ._cache import ProfileCache
from .audit import AuditLog, AuditRecord, audited_fields
from .profiles import CustomerProfile, to_utc
from .pseudonyms import Pseudonymizer
from .purposes import Purpose, resolve_purpose
from .reports import ErasureHook
from .store import ProfileStore
from .view import ProfileView

__all__ = ["GatewayBase", "log"]

log = logging.getLogger("kbrank.privacy")


class GatewayBase:
    """What `ProfileGateway.__init__` sets up, and the helpers its parts share."""

    requester: str
    retention: dt.timedelta | None
    _pseudonymize: Pseudonymizer
    _store: ProfileStore
    _audit: AuditLog
    _now: Callable[[], dt.datetime]
    _cache: ProfileCache
    _purposes: dict[str, Purpose]
    _hooks: dict[str, ErasureHook]
    _owns: bool

    @property
    def purposes(self) -> Mapping[str, Purpose]:
        """The purposes this gateway knows, by name."""
        return dict(self._purposes)

    def pseudonymize(self, customer_id: str) -> str:
        """The customer's pseudonym: what other components (outbox, chat logs) may store to refer to them."""
        return self._pseudonymize(customer_id)

    def now(self) -> dt.datetime:
        """The gateway's clock, in UTC."""
        return to_utc(self._now(), name="now()")

    def usage_since(self) -> dt.datetime | None:
        """The oldest usage timestamp still kept (``None`` without a retention horizon)."""
        return None if self.retention is None else self.now() - self.retention

    @staticmethod
    def _check_requester(requester: object) -> str:
        if not isinstance(requester, str) or not requester.strip():
            raise ParameterError("requester", "a non-empty name of who asks (e.g. 'kbrank.personalize')", requester)
        return requester

    def _who(self, requester: str | None) -> str:
        return self.requester if requester is None else self._check_requester(requester)

    def _purpose(self, purpose: str | Purpose) -> Purpose:
        return resolve_purpose(purpose, self._purposes)

    def _load(self, pseudonym: str, *, with_addresses: bool) -> CustomerProfile | None:
        if with_addresses:  # addresses are never cached
            return self._store.get(pseudonym, with_addresses=True)
        generation = self._store.generation()
        profile = self._cache.get(pseudonym, generation)
        if profile is None:
            profile = self._store.get(pseudonym, with_addresses=False)
            if profile is not None:
                self._cache.put(profile, generation)
        return profile

    def _audit_views(self, pseudonyms: list[str], views: list[ProfileView], action: str, requester: str) -> None:
        at = self.now()
        self._audit.append(AuditRecord(at, who, requester, action, "granted" if v.personalized else "degraded",
                                       v.purpose, audited_fields(v)) for who, v in zip(pseudonyms, views))
