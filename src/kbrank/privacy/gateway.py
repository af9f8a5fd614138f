"""`ProfileGateway`: the only way into customer profiles.

Every read names a purpose. The gateway pseudonymizes the id it is given, checks the customer's consent for
that purpose (and channel), drops usage history past the retention horizon, hands out a `ProfileView` with
only the fields the purpose allows, and appends an audit record of which fields went to whom, before the
view leaves. Writes, consent changes, access reports and erasure go through it too.

>>> from kbrank.datasets import generate_helpcentre
>>> hc = generate_helpcentre(n_customers=5)
>>> with ProfileGateway.from_helpcentre(hc, key="a deployer secret of 32 bytes...") as gateway:
...     view = gateway.read("cust-0001", "personalization")
...     "addresses" in view.fields
False
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import weakref
from typing import Any, Callable, Iterable, Iterator, Mapping

from ..errors import ConsentError, ParameterError, ProfileStoreError, UnknownCustomerError, suggestion
from ..errors import short_pseudonym as _short
from ._cache import ProfileCache
from ._requests import access_report, erase_customer
from .audit import ALL_CUSTOMERS, AuditLog, AuditRecord, InMemoryAuditLog, audited_fields
from .columns import CustomerColumns, UsageQuery, columnar_scan
from .loaders import profiles_from_dataframe, profiles_from_records, read_profiles_jsonl
from .profiles import CHANNELS, DATA_SCOPES, ConsentRecord, CustomerProfile, UsageEvent, channel_scope, to_utc
from .pseudonyms import Pseudonymizer
from .purposes import PURPOSES, Purpose, check_channel, resolve_purpose
from .reports import AccessReport, ErasureHook, ErasureReport
from .store import InMemoryProfileStore, ProfileStore, SQLiteProfileStore
from .view import ProfileView, build_view, non_personalized_view, with_origin
from .where import Where

__all__ = ["ProfileGateway", "DEFAULT_RETENTION"]

#: How long usage history is kept by default.
DEFAULT_RETENTION = dt.timedelta(days=365)
_KEY_FINGERPRINT = "key_fingerprint"
_RETENTION = "retention_seconds"
#: The default of ``retention``: the horizon the store remembers (`DEFAULT_RETENTION` for a new store).
STORED: object = type("Stored", (), {"__repr__": lambda self: "STORED"})()
_AUDIT_BATCH = 256
log = logging.getLogger("kbrank.privacy")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ProfileGateway:
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
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ParameterError("cache_size", "an integer >= 0", cache_size)
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

    # -- helpers -------------------------------------------------------------------------------------------
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

    def read_pseudonyms(self, pseudonyms: Iterable[str], purpose: str | Purpose, *,
                        requester: str | None = None) -> dict[str, ProfileView]:
        """The views, for ``purpose``, of the consenting customers among ``pseudonyms``, keyed by pseudonym.

        For components that hold only pseudonyms (the proactive outbox re-checks consent and reads the
        address at send time). Customers without a profile or without consent are left out and not audited,
        as in `scan`; the views handed out are audited as one batch.
        """
        spec = self._purpose(purpose)
        who = self._who(requester)
        usage_since = self.usage_since()
        found: list[str] = []
        views: list[ProfileView] = []
        for pseudonym in dict.fromkeys(pseudonyms):
            profile = self._load(pseudonym, with_addresses=spec.contact) if isinstance(pseudonym, str) else None
            if profile is None:
                continue
            decision = spec.decide(profile)
            if decision.granted:
                found.append(pseudonym)
                views.append(build_view(spec, profile, decision, usage_since=usage_since))
        if views:
            self._audit_views(found, views, "read", who)
        return dict(zip(found, views))

    def record_contacts(self, contacts: Iterable[tuple[str, str, str]], *, requester: str | None = None) -> int:
        """Audit proactive contacts: one ``(pseudonym, issue id, channel)`` per customer told about an issue.

        The trail says who was contacted about what and how, by pseudonym, never by address. Returns how many
        records were written.
        """
        who = self._who(requester)
        at = self.now()
        records = [AuditRecord(at, pseudonym, who, "contact", "done", "proactive-contact",
                               (f"issue:{issue}", f"channel:{channel}")) for pseudonym, issue, channel in contacts]
        return self._audit.append(records)

    def scan(self, purpose: str | Purpose, where: Where | Callable[[ProfileView], bool] | None = None, *,
             requester: str | None = None, channel: str | None = None) -> Iterator[ProfileView]:
        """The views, for ``purpose``, of every consenting customer that ``where`` selects, in pseudonym order.

        ``where`` is a `Where` (answered from the store's indexes; it may only test fields the purpose hands
        out) or a callable given each minimized view. Customers without consent are skipped; they are not
        audited, since nothing of theirs is handed out. Each view is audited before it is yielded.
        """
        spec = self._purpose(purpose)
        if channel is not None:
            check_channel(spec, channel)
        who = self._who(requester)
        check: Callable[[ProfileView], bool] | None
        if isinstance(where, Where):
            outside = [f for f in where.uses if f not in spec.allowance]
            if outside:
                raise ParameterError("where", f"conditions on fields that {spec.name!r} hands out "
                                     f"({', '.join(spec.allowance)})", outside,
                                     hint="A scan may select customers only by data its purpose may use.")
            store_where, check = where, where.matches
        elif where is None or callable(where):
            store_where, check = None, where
        else:
            raise ParameterError("where", "a Where, a callable taking a ProfileView, or None", where)
        return self._scan(spec, store_where, check, who, channel)

    def _scan(self, spec: Purpose, store_where: Where | None, check: Callable[[ProfileView], bool] | None,
              who: str, channel: str | None) -> Iterator[ProfileView]:
        usage_since = self.usage_since()
        pseudonyms: list[str] = []
        views: list[ProfileView] = []
        for profile in self._store.scan(store_where, with_addresses=spec.contact):
            decision = spec.decide(profile, channel)
            if not decision.granted:
                continue
            view = with_origin(build_view(spec, profile, decision, usage_since=usage_since), self)
            if check is not None and not check(view):
                continue
            pseudonyms.append(profile.id)
            views.append(view)
            if len(views) >= _AUDIT_BATCH:
                self._audit_views(pseudonyms, views, "scan", who)
                yield from views
                pseudonyms, views = [], []
        if views:
            self._audit_views(pseudonyms, views, "scan", who)
            yield from views

    def scan_columns(self, purpose: str | Purpose, *, products: Iterable[str] | None = None,
                     usage: UsageQuery | None = None, include_unconsented: bool = False,
                     requester: str | None = None) -> CustomerColumns:
        """The customers owning any of ``products`` (everyone when ``None``) as arrays of codes, minimized
        for ``purpose`` (see `CustomerColumns`): the columnar scan for audience selection over large bases.

        Only consenting customers are handed out, unless ``include_unconsented``: then the others come too,
        anonymously (no pseudonym, no channels), to be counted. ``usage`` sums usage events per customer
        who consented to usage analysis, within retention. The whole scan is audited as ONE record (customer
        ``"*"``, `ALL_CUSTOMERS`) naming the fields handed out and the counts: ``#customers=``, ``#unconsented=``,
        ``#rows=``; every customer's access report lists it.
        """
        spec = self._purpose(purpose)
        columns, fields = columnar_scan(self._store, spec, products=products, usage=usage,
                                        include_unconsented=include_unconsented, usage_since=self.usage_since())
        self._audit.append([AuditRecord(self.now(), ALL_CUSTOMERS, self._who(requester), "scan", "granted", spec.name,
                                        tuple(fields))])
        log.debug("columnar scan for %s: %s", spec.name, ", ".join(fields[-3:]))
        return columns

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

    # -- data-subject rights and housekeeping ---------------------------------------------------------------
    def access_report(self, customer_id: str, *, requester: str | None = None) -> AccessReport:
        """Everything held about the customer, what each purpose may use, and every audited use of it."""
        pseudonym = self._pseudonymize(customer_id)
        return access_report(self._store, self._audit, pseudonym, purposes=self._purposes, who=self._who(requester),
                             at=self.now(), retention=self.retention, usage_since=self.usage_since())

    def register_erasure_hook(self, name: str, hook: ErasureHook) -> None:
        """Have ``erase`` call ``hook(pseudonym) -> items removed`` (for the outbox, chat logs, ...)."""
        if not isinstance(name, str) or not name:
            raise ParameterError("name", "a non-empty string", name)
        if not callable(hook):
            raise ParameterError("hook", "a callable taking a pseudonym and returning a count", hook)
        if name in self._hooks:
            raise ParameterError("name", "a name not registered yet", name,
                                 hint="Unregister the old hook first with unregister_erasure_hook().")
        self._hooks[name] = hook

    def unregister_erasure_hook(self, name: str) -> None:
        """Stop calling the hook registered as ``name``."""
        if self._hooks.pop(name, None) is None:
            raise ParameterError("name", f"a registered hook ({', '.join(self._hooks) or 'none registered'})", name)

    def register_cache(self, name: str, clear: Callable[[], int]) -> bool:
        """Have `erase` empty an in-process cache (``clear()`` returns the entries dropped); idempotent per
        ``name``. The gateway holds ``clear`` weakly when it is a bound method, so a cache that is gone stops
        being called. Components call this through `kbrank.privacy.register_cache`, with a view."""
        if name in self._hooks:
            return True
        target = weakref.WeakMethod(clear) if hasattr(clear, "__self__") else (lambda: clear)

        def hook(_pseudonym: str) -> int:
            method = target()
            return 0 if method is None else int(method())

        self._hooks[name] = hook
        if hasattr(clear, "__self__"):
            weakref.finalize(clear.__self__, self._hooks.pop, name, None)
        return True

    @property
    def erasure_hooks(self) -> tuple[str, ...]:
        """The names of the registered erasure hooks."""
        return tuple(self._hooks)

    def erase(self, customer_id: str, *, requester: str | None = None) -> ErasureReport:
        """Forget the customer everywhere: the store, the cache, every registered hook, and their pseudonym
        in the audit trail (replaced by a random tombstone). Then the storage is compacted so that no deleted
        bytes remain. Idempotent. Raises `ErasureError` (carrying the report) if a hook failed."""
        pseudonym = self._pseudonymize(customer_id)
        return erase_customer(self._store, self._audit, self._cache, self._hooks, pseudonym,
                              who=self._who(requester), at=self.now())

    def purge_expired(self) -> int:
        """Delete usage events older than the retention horizon from the store; returns how many."""
        since = self.usage_since()
        if since is None:
            return 0
        removed = self._store.purge_events_before(since)
        if removed:
            self._store.compact()
        log.debug("purged %d usage events older than %s", removed, since.isoformat())
        return removed

    def compact(self) -> bool:
        """Rewrite storage so that deleted data is unrecoverable; ``False`` if another reader blocked it."""
        return bool(self._store.compact() and self._audit.compact())
