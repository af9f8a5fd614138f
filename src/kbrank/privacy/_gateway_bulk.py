"""`ProfileGateway`'s bulk access, for components that work on many customers: views of pseudonyms they hold,
scans (per view, or columnar for audience selection over large bases) and the audit of proactive contacts."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from ..errors import ParameterError
from ._gateway_base import GatewayBase, log
from .audit import ALL_CUSTOMERS, AuditRecord
from .columns import CustomerColumns, UsageQuery, columnar_scan
from .purposes import Purpose, check_channel
from .view import ProfileView, build_view, with_origin
from .where import Where

__all__ = ["GatewayBulk"]

_AUDIT_BATCH = 256


class GatewayBulk(GatewayBase):
    """`read_pseudonyms`, `record_contacts`, `scan` and `scan_columns` (see `ProfileGateway`)."""

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
