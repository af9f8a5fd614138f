"""`ProfileGateway`: the only way into customer profiles.

Every read names a purpose. The gateway pseudonymizes the id it is given, checks the customer's consent for
that purpose (and channel), drops usage history past the retention horizon, hands out a `ProfileView` with
only the fields the purpose allows, and appends an audit record of which fields went to whom, before the
view leaves. Writes, consent changes, access reports and erasure go through it too.

This module holds construction, single reads and writes; the bulk access (scans, columnar scans, reads by
pseudonym) is in `kbrank.privacy._gateway_bulk`, and access reports, erasure and housekeeping are in
`kbrank.privacy._gateway_rights`, both on the shared `kbrank.privacy._gateway_base`.

>>> from kbrank.datasets import generate_helpcentre
>>> hc = generate_helpcentre(n_customers=5)
>>> with ProfileGateway.from_helpcentre(hc, key="a deployer secret of 32 bytes...") as gateway:
...     view = gateway.read("cust-0001", "personalization")
...     "addresses" in view.fields
False
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Callable, Iterable, Mapping

from .._params import check_int
from ..errors import ConsentError, ParameterError, ProfileStoreError, UnknownCustomerError, suggestion
from ..errors import short_pseudonym as _short
from ._cache import ProfileCache
from ._gateway_base import log
from ._gateway_bulk import GatewayBulk
from ._gateway_rights import GatewayRights
from .audit import AuditLog, AuditRecord, InMemoryAuditLog
from .loaders import profiles_from_dataframe, profiles_from_records, read_profiles_jsonl
from .profiles import CHANNELS, DATA_SCOPES, ConsentRecord, CustomerProfile, UsageEvent, channel_scope
from .pseudonyms import Pseudonymizer
from .purposes import PURPOSES, Purpose, check_channel
from .reports import ErasureHook
from .store import InMemoryProfileStore, ProfileStore, SQLiteProfileStore
from .view import ProfileView, build_view, non_personalized_view, with_origin

__all__ = ["ProfileGateway", "DEFAULT_RETENTION"]

#: How long usage history is kept by default.
DEFAULT_RETENTION = dt.timedelta(days=365)
_KEY_FINGERPRINT = "key_fingerprint"
_RETENTION = "retention_seconds"
#: The default of ``retention``: the horizon the store remembers (`DEFAULT_RETENTION` for a new store).
STORED: object = type("Stored", (), {"__repr__": lambda self: "STORED"})()


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ProfileGateway(GatewayBulk, GatewayRights):
    """Purpose-bound, consented, minimized, audited access to customer profiles.

    Parameters (keyword-only): ``store`` and ``audit`` (see `open` and `in_memory` for ready-made ones);
    ``key``, the deployer's pseudonymization secret (bytes or str, at least 16 bytes; a store written with
    another key is refused); ``retention``, how long usage events are kept (``None``: forever), remembered
    by the store so that a gateway opened without it (the CLI's) applies the deployer's horizon, a new store
    starting at `DEFAULT_RETENTION`; ``now``, the clock (a callable returning an aware datetime: inject one
    for deterministic tests); ``requester``, the name audited when a call names none; ``cache_size``, how many
    profiles the read cache holds (0 disables it); ``purposes``, extra or replacement `Purpose` definitions.
    """

    def __init__(self, *, store: ProfileStore, audit: AuditLog, key: bytes | str,
                 retention: dt.timedelta | None | object = STORED, now: Callable[[], dt.datetime] | None = None,
                 requester: str = "kbrank", cache_size: int = 1024, purposes: Mapping[str, Purpose] | None = None,
                 owns_storage: bool = False) -> None:
        self._pseudonymize = Pseudonymizer(key)
        if retention is not STORED and retention is not None and (
                not isinstance(retention, dt.timedelta) or retention <= dt.timedelta(0)):
            raise ParameterError("retention", "a positive datetime.timedelta or None", retention)
        check_int("cache_size", cache_size, 0)
        if now is not None and not callable(now):
            raise ParameterError("now", "a callable returning a timezone-aware datetime", now)
        self.requester = self._check_requester(requester)
        self._store = store
        self._audit = audit
        self._now = now or _utc_now
        self._cache = ProfileCache(cache_size)
        self._purposes = dict(PURPOSES)
        for name, purpose in (purposes or {}).items():
            if not isinstance(purpose, Purpose) or purpose.name != name:
                raise ParameterError("purposes", "a mapping of name -> Purpose with that name", name)
            self._purposes[name] = purpose
        self._hooks: dict[str, ErasureHook] = {}
        self._owns = owns_storage
        self._check_key()
        self.retention: dt.timedelta | None = self._retention(retention)

    # -- construction --------------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], *, key: bytes | str, create: bool = True,
             **options: Any) -> "ProfileGateway":
        """A gateway over the SQLite store (profiles and audit trail) at ``path``; closed by `close`."""
        store = SQLiteProfileStore(path, create=create)
        try:
            return cls(store=store, audit=store.audit_log(), key=key, owns_storage=True, **options)
        except BaseException:
            store.close()
            raise

    @classmethod
    def in_memory(cls, *, key: bytes | str, **options: Any) -> "ProfileGateway":
        """A gateway over in-memory storage, for tests and notebooks."""
        return cls(store=InMemoryProfileStore(), audit=InMemoryAuditLog(), key=key, owns_storage=True, **options)

    @classmethod
    def from_helpcentre(cls, helpcentre: Any, *, key: bytes | str, path: str | os.PathLike[str] | None = None,
                        **options: Any) -> "ProfileGateway":
        """A gateway holding the demo help centre's customers (in memory, or in SQLite at ``path``).

        The clock defaults to the help centre's fixed "today" (``helpcentre.as_of``), so retention does not
        depend on when the demo runs.
        """
        as_of = dt.datetime.combine(helpcentre.as_of, dt.time(), tzinfo=dt.timezone.utc)
        options.setdefault("now", lambda: as_of)
        gateway = cls.open(path, key=key, **options) if path is not None else cls.in_memory(key=key, **options)
        try:
            gateway.load_records(helpcentre.customers, source="helpcentre.customers", requester="kbrank.datasets")
        except BaseException:
            gateway.close()
            raise
        return gateway

    def _check_key(self) -> None:
        fingerprint = self._pseudonymize.fingerprint
        stored = self._store.get_meta(_KEY_FINGERPRINT)
        if stored is None:
            self._store.set_meta(_KEY_FINGERPRINT, fingerprint)
        elif stored != fingerprint:
            raise ProfileStoreError(
                f"this store was written with another pseudonymization key (fingerprint {stored}, the key given "
                f"has {fingerprint})", path=getattr(self._store, "path", None),
                fix="pass the key the store was created with; every customer's pseudonym depends on it")

    def _retention(self, wanted: object) -> dt.timedelta | None:
        """The retention horizon: ``wanted``, remembered by the store, or the store's remembered one."""
        stored = self._store.get_meta(_RETENTION)
        if wanted is STORED:
            if stored is None:
                wanted = DEFAULT_RETENTION
            else:
                return None if stored == "none" else dt.timedelta(seconds=float(stored))
        horizon = wanted if isinstance(wanted, dt.timedelta) else None  # the constructor checked: timedelta or None
        text = "none" if horizon is None else repr(horizon.total_seconds())
        if text != stored:
            self._store.set_meta(_RETENTION, text)
        return horizon

    def __repr__(self) -> str:
        return (f"ProfileGateway(store={self._store!r}, purposes={list(self._purposes)}, "
                f"retention={self.retention}, key=<secret {self._pseudonymize.fingerprint}>)")

    def __enter__(self) -> "ProfileGateway":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the cache and close the storage this gateway opened (idempotent)."""
        self._cache.clear()
        if self._owns:
            self._audit.close()
            self._store.close()

    # -- reads ---------------------------------------------------------------------------------------------
    def read(self, customer_id: str, purpose: str | Purpose, *, requester: str | None = None,
             channel: str | None = None, degrade: bool = False) -> ProfileView:
        """The customer's profile, minimized for ``purpose``.

        Without consent for the purpose (or for ``channel``, or any channel, for contact) this raises
        `ConsentError`, or with ``degrade=True`` returns the non-personalized view (``personalized=False``,
        no fields); ``degrade=True`` also covers a customer with no profile (else `UnknownCustomerError`).
        """
        spec = self._purpose(purpose)
        if channel is not None:
            check_channel(spec, channel)
        who = self._who(requester)
        pseudonym = self._pseudonymize(customer_id)
        profile = self._load(pseudonym, with_addresses=spec.contact)
        if profile is None:
            log.debug("read %s for %s by %s: no profile", _short(pseudonym), spec.name, who)
            if degrade:
                return non_personalized_view(spec, "no profile")
            raise UnknownCustomerError(pseudonym, fix="add the customer's profile, or read with degrade=True")
        decision = spec.decide(profile, channel)
        if not decision.granted:
            missing = decision.missing or spec.consent
            view = non_personalized_view(spec, f"no consent for {missing!r}")
            self._audit.append([AuditRecord(self.now(), pseudonym, who, "read",
                                            "degraded" if degrade else "denied", spec.name)])
            log.debug("read %s for %s by %s: no consent %r", _short(pseudonym), spec.name, who, missing)
            if degrade:
                return view
            raise ConsentError(pseudonym, spec.name, scope=missing, channel=channel)
        view = with_origin(build_view(spec, profile, decision, usage_since=self.usage_since()), self)
        self._audit_views([pseudonym], [view], "read", who)
        log.debug("read %s for %s by %s: %s", _short(pseudonym), spec.name, who, ",".join(view.fields))
        return view

    # -- writes --------------------------------------------------------------------------------------------
    def add(self, profiles: Iterable[CustomerProfile], *, requester: str | None = None) -> int:
        """Insert or replace profiles (all or none); returns how many customers were written."""
        who = self._who(requester)
        at = self.now()
        batch = list(profiles)
        written = self._store.upsert_many(batch)
        self._audit.append(AuditRecord(at, p.id, who, "write", "done", None, p.held_fields) for p in batch)
        log.debug("wrote %d profiles for %s", written, who)
        return written

    def load_records(self, records: Iterable[Any], *, source: str = "records", requester: str | None = None,
                     strict_versions: bool = False) -> int:
        """Validate and add profile records (dicts in the demo help centre's schema); all or none.

        Owned versions are compared leniently (``FW_2.3.1`` as ``2.3.1``, see `kbrank.applicability`);
        ``strict_versions=True`` refuses anything but PEP 440."""
        return self.add(profiles_from_records(records, pseudonymize=self._pseudonymize, source=source,
                                              strict_versions=strict_versions), requester=requester)

    def load_jsonl(self, path: str | os.PathLike[str], *, requester: str | None = None,
                   strict_versions: bool = False) -> int:
        """Validate and add one profile record per line of a JSONL file; all or none (see `load_records`)."""
        return self.add(read_profiles_jsonl(path, pseudonymize=self._pseudonymize, strict_versions=strict_versions),
                        requester=requester)

    def load_dataframe(self, frame: Any, *, source: str = "DataFrame", requester: str | None = None,
                       strict_versions: bool = False) -> int:
        """Validate and add a pandas DataFrame of profile records, one per row; all or none (see `load_records`)."""
        return self.add(profiles_from_dataframe(frame, pseudonymize=self._pseudonymize, source=source,
                                                strict_versions=strict_versions), requester=requester)

    def record_usage(self, customer_id: str, events: Iterable[UsageEvent], *, requester: str | None = None) -> int:
        """Append usage events to a customer's history; returns how many."""
        who = self._who(requester)
        pseudonym = self._pseudonymize(customer_id)
        at = self.now()
        added = self._store.append_events(pseudonym, list(events))
        self._audit.append([AuditRecord(at, pseudonym, who, "write", "done", None, ("usage",))])
        return added

    def set_consent(self, customer_id: str, scope: str, granted: bool, *,
                    requester: str | None = None) -> ConsentRecord:
        """Record the customer's answer for ``scope``: a purpose name, ``"usage"``, or ``"channel:<name>"``.

        It takes effect for the very next read (the cache is invalidated by the write).
        """
        scopes = (*self._purposes, *DATA_SCOPES, *(channel_scope(c) for c in CHANNELS))
        if scope not in scopes:
            raise ParameterError("scope", f"one of {', '.join(scopes)}", scope, hint=suggestion(scope, scopes, cutoff=0.5))
        if not isinstance(granted, bool):
            raise ParameterError("granted", "True or False", granted)
        who = self._who(requester)
        pseudonym = self._pseudonymize(customer_id)
        now = self.now()
        record = ConsentRecord(scope, granted, now)
        self._store.set_consent(pseudonym, record)
        self._cache.discard(pseudonym)
        self._audit.append([AuditRecord(now, pseudonym, who, "consent", "done", None, (scope,))])
        log.debug("consent %s for %s set to %s by %s", scope, _short(pseudonym), granted, who)
        return record
