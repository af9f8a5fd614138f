"""Audience selection: from a `KnownIssue` to the customers it will hit, vectorised over the whole base.

`select_affected(issue, gateway)` reads the base through the privacy gate with the ``proactive-contact``
purpose, as one columnar scan (`ProfileGateway.scan_columns`, audited as one record), and selects with numpy:

1. an owned item is a candidate when it is one of the issue's products and still ``active`` (returned and
   retired items are not affected);
2. each distinct (product, version) pair is judged once with `kbrank.applicability` (`Scope.version_outcome`,
   lenient firmware strings, pre-releases included) and the verdict broadcast to every item;
3. platforms (per item), regions, locales and segments (per customer) are checked as code look-ups;
4. the usage condition, if any, compares each customer's summed usage with ``min_events``;
5. a customer is affected when one item passes every dimension, in the sense of `Assessment.applies`: no
   dimension fails, and an unknown value (an unparsable version, no platform, no region) never fails one.
   The clause that matched is that of the customer's first such item (profile order).

Affected customers who did not consent to contact (or to any channel) are only counted
(`Audience.n_unconsented`): the scan hands them out without pseudonym or channels. The impact policy
(`kbrank.proactive.impact`) decides per (segment, usage outcome) whether contact is warranted, and the
`AudienceGuard` says when a send must be confirmed (a large audience) or must not notify at all (fewer than
``min_affected`` affected customers: the issue is recorded only, as ServiceNow does below 2).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from .._frames import require_pandas
from .._params import check_int
from ..errors import ParameterError
from ..privacy import CHANNELS, CustomerColumns, ProfileGateway, UsageQuery
from .impact import DEFAULT_POLICY, USAGE_OUTCOMES, ImpactDecision, ImpactPolicy
from .issues import KnownIssue

__all__ = ["PURPOSE", "AffectedCustomer", "Audience", "AudienceGuard", "clause", "select_affected",
           "select_from_columns"]

#: The only purpose audience selection reads with.
PURPOSE = "proactive-contact"
_ACTIVE = 0  # index of "active" in kbrank.privacy.STATUSES


@dataclass(frozen=True)
class AudienceGuard:
    """``confirm_above``: a send to more customers than this must be confirmed; ``min_affected``: with fewer
    affected customers than this (consented or not) the issue is recorded without notifying anyone."""

    confirm_above: int = 10_000
    min_affected: int = 2

    def __post_init__(self) -> None:
        for name in ("confirm_above", "min_affected"):
            value = getattr(self, name)
            check_int(name, value, 0)


@dataclass(frozen=True)
class AffectedCustomer:
    """One customer of an audience: ``customer`` is the pseudonym; ``product``/``version``/``platform`` the
    item that matched; ``clause`` why they are affected; ``decision`` whether the impact warrants contact;
    ``channel`` the preferred consented channel."""

    customer: str
    product: str
    version: str | None
    platform: str | None
    region: str | None
    locale: str | None
    segment: str | None
    clause: str
    decision: ImpactDecision
    channel: str


def clause(issue: KnownIssue, product: str, version: str | None, outcomes: dict[str, str], *,
           platform: str | None, region: str | None, locale: str | None, segment: str | None) -> str:
    """The matched clause in plain words: ``owns cam-c10 4.2.1, within >=4.2,<4.3.2, EU``.

    ``outcomes`` maps ``version``, ``platform``, ``region``, ``locale``, ``audience`` and ``usage`` to the
    outcome of that dimension (``in``, ``unknown`` or ``open``); open dimensions are not mentioned.
    """
    parts = [f"owns {product} {version}" if version else f"owns {product} (version unknown)"]
    spec = issue.scope.versions.get(product)
    if outcomes["version"] == "in":
        parts.append(f"within {spec}")
    elif outcomes["version"] == "unknown":
        parts.append(f"version not known to be outside {spec}")
    for name, shown in (("platform", f"on {platform}"), ("region", (region or "").upper()), ("locale", locale),
                        ("audience", f"{segment} customer")):
        if outcomes[name] == "in":
            parts.append(shown or "")
        elif outcomes[name] == "unknown":
            parts.append(f"{'segment' if name == 'audience' else name} unknown")
    if issue.usage is not None:
        parts.append(issue.usage.describe() if outcomes["usage"] == "in" else "usage not known")
    return ", ".join(parts)


def _allowed(vocab: tuple[str, ...], wanted: tuple[str, ...]) -> np.ndarray:
    """Outcome lookup for codes (index -1 = unknown): 0 in, 1 out, 2 unknown, 3 open; last slot is -1."""
    if not wanted:
        return np.full(len(vocab) + 1, 3, np.int8)
    out = np.array([0 if v in wanted else 1 for v in vocab] + [2], np.int8)
    return out


_CODES = ("in", "out", "unknown", "open")


@dataclass(frozen=True, eq=False)
class Audience:
    """The customers a known issue affects; see the module docstring. Columns are numpy arrays aligned with
    ``customers`` (the pseudonyms of the affected, consented customers, in the order of the scan)."""

    issue: KnownIssue
    policy: ImpactPolicy
    guard: AudienceGuard
    selected_at: dt.datetime
    n_scanned: int
    n_affected: int
    n_unconsented: int
    customers: np.ndarray  # bytes pseudonyms
    product: np.ndarray
    version: np.ndarray
    platform: np.ndarray
    region: np.ndarray
    locale: np.ndarray
    segment: np.ndarray
    clauses: np.ndarray  # str per customer (shared objects: one per distinct clause)
    rule: np.ndarray  # int index into policy.rules
    contact: np.ndarray  # bool
    channel: np.ndarray  # str per customer

    def __len__(self) -> int:
        return int(self.customers.shape[0])

    def __iter__(self) -> Iterator[AffectedCustomer]:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, i: int) -> AffectedCustomer:
        rule = self.policy.rules[int(self.rule[i])]
        return AffectedCustomer(self.customers[i].decode("ascii"), self.product[i], self.version[i],
                                self.platform[i], self.region[i], self.locale[i], self.segment[i],
                                self.clauses[i], rule.decision, self.channel[i])

    def __repr__(self) -> str:
        return (f"Audience({self.issue.id!r}: {self.n_affected} affected of {self.n_scanned} scanned, "
                f"{self.n_to_contact} to contact, {self.n_unconsented} without consent)")

    @property
    def n_to_contact(self) -> int:
        """Affected, consented, and the impact warrants contact."""
        return int(self.contact.sum())

    @property
    def notify(self) -> bool:
        """Whether anyone is notified: ``n_affected`` reaches ``guard.min_affected`` and the issue is open."""
        return self.n_affected >= self.guard.min_affected and self.issue.open

    @property
    def requires_confirmation(self) -> bool:
        """A send to more than ``guard.confirm_above`` customers must be confirmed first."""
        return self.n_to_contact > self.guard.confirm_above

    def explain(self, customer: str) -> AffectedCustomer:
        """The entry of one pseudonym; `ParameterError` if they are not in the audience."""
        key = customer.encode("ascii") if isinstance(customer, str) and customer.isascii() else None
        rows = np.flatnonzero(self.customers == key) if key else np.zeros(0, np.intp)
        if not len(rows):
            raise ParameterError("customer", "the pseudonym of a customer in this audience", str(customer)[:12] + "...")
        return self[int(rows[0])]

    def to_pandas(self) -> Any:
        """One row per affected, consented customer: pseudonym, matched item, clause, decision, channel."""
        pd = require_pandas()

        reasons = np.asarray([r.reason for r in self.policy.rules], dtype=object)
        return pd.DataFrame({
            "customer": np.char.decode(self.customers, "ascii").astype(object), "product": self.product,
            "version": self.version, "platform": self.platform, "region": self.region, "locale": self.locale,
            "segment": self.segment, "clause": self.clauses, "contact": self.contact,
            "decision": reasons[self.rule], "channel": self.channel})

    def summary(self) -> Any:
        """Counts per segment, channel and decision (a pandas DataFrame), the unconsented as one more row."""
        pd = require_pandas()

        frame = self.to_pandas()[["segment", "channel", "contact", "decision"]].fillna({"segment": "unknown"})
        counts = frame.groupby(["segment", "channel", "contact", "decision"], dropna=False).size()
        table = counts.rename("customers").reset_index()
        if self.n_unconsented:
            extra = pd.DataFrame([{"segment": "(any)", "channel": "none", "contact": False,
                                   "decision": "no consent to contact: counted, not contacted",
                                   "customers": self.n_unconsented}])
            table = pd.concat([table, extra], ignore_index=True)
        return table


def _version_outcomes(issue: KnownIssue, columns: CustomerColumns, rows: np.ndarray) -> np.ndarray:
    """Outcome code per candidate row, deciding each distinct (product, version) pair once."""
    width = len(columns.versions) + 1
    pairs = columns.product[rows].astype(np.int64) * width + (columns.version[rows].astype(np.int64) + 1)
    unique, inverse = np.unique(pairs, return_inverse=True)
    verdicts = np.empty(unique.size, np.int8)
    for i, key in enumerate(unique.tolist()):
        code = key % width - 1
        version = columns.versions[code] if code >= 0 else None
        verdicts[i] = _CODES.index(issue.scope.version_outcome(columns.products[key // width], version))
    return verdicts[inverse.ravel()]


def select_from_columns(issue: KnownIssue, columns: CustomerColumns, *, policy: ImpactPolicy = DEFAULT_POLICY,
                        guard: AudienceGuard = AudienceGuard(), now: dt.datetime | None = None) -> Audience:
    """Select the audience of ``issue`` from a columnar scan (read for ``proactive-contact``)."""
    if not isinstance(issue, KnownIssue):
        raise ParameterError("issue", "a KnownIssue", type(issue).__name__)
    if not isinstance(columns, CustomerColumns) or columns.purpose != PURPOSE:
        raise ParameterError("columns", f"CustomerColumns scanned for {PURPOSE!r}",
                             getattr(columns, "purpose", type(columns).__name__),
                             hint="Read them with ProfileGateway.scan_columns('proactive-contact', ...).")
    if not isinstance(policy, ImpactPolicy):
        raise ParameterError("policy", "an ImpactPolicy", type(policy).__name__)
    if not isinstance(guard, AudienceGuard):
        raise ParameterError("guard", "an AudienceGuard", type(guard).__name__)
    scope = issue.scope
    wanted = np.array([p in scope.products for p in columns.products] + [False], bool)
    rows = np.flatnonzero(wanted[columns.product] & (columns.status == _ACTIVE))
    outcome = {"version": _version_outcomes(issue, columns, rows),
               "platform": _allowed(columns.platforms, scope.platforms)[columns.platform[rows]]}
    owner = columns.owner[rows]
    for name, vocab, codes, allowed in (("region", columns.regions, columns.region, scope.regions),
                                        ("locale", columns.locales, columns.locale, scope.locales),
                                        ("audience", columns.segments, columns.segment, scope.audience)):
        outcome[name] = _allowed(vocab, allowed)[codes][owner]
    usage = np.full(columns.n_customers, 2 if issue.usage is not None else 3, np.int8)  # unknown / open
    if issue.usage is not None:
        known = columns.usage >= 0
        usage[known] = np.where(columns.usage[known] >= issue.usage.min_events, 0, 1)
    outcome["usage"] = usage[owner]
    passes = np.logical_and.reduce([codes != 1 for codes in outcome.values()]) if rows.size else np.zeros(0, bool)
    hit_owner, first = np.unique(owner[passes], return_index=True)
    matched = np.flatnonzero(passes)[first]  # index into rows of each affected customer's first passing item
    consented = columns.consented[hit_owner]
    keep, item = hit_owner[consented], rows[matched[consented]]
    picked = {name: codes[matched[consented]] for name, codes in outcome.items()}
    # impact decision per (segment, usage outcome), broadcast
    table = np.asarray(policy.decision_table(issue.impact, columns.segments), np.int64)
    usage_col = np.asarray([USAGE_OUTCOMES.index(c) if c in USAGE_OUTCOMES else 0 for c in _CODES])
    rule = table[columns.segment[keep], usage_col[picked["usage"]]]
    contact = np.asarray([r.contact for r in policy.rules], bool)[rule]
    # the clause: rendered once per distinct combination of the values it mentions
    fields = np.stack([columns.product[item], columns.version[item], columns.platform[item], columns.region[keep],
                       columns.locale[keep], columns.segment[keep], *picked.values()]).astype(np.int64)
    combos, which = _distinct_columns(fields)
    texts = np.empty(combos.shape[1], dtype=object)
    for j, combo in enumerate(combos.T.tolist()):
        texts[j] = clause(issue, columns.products[combo[0]], _names(columns.versions, combo[1]),
                          dict(zip(outcome, (_CODES[c] for c in combo[6:]))),
                          platform=_names(columns.platforms, combo[2]), region=_names(columns.regions, combo[3]),
                          locale=_names(columns.locales, combo[4]), segment=_names(columns.segments, combo[5]))
    channel_names = np.asarray([*CHANNELS, "none"], dtype=object)
    bits = columns.channels[keep]
    fallback = np.where(bits & 1, 0, np.where(bits & 2, 1, np.where(bits & 4, 2, len(CHANNELS))))
    preferred = columns.preferred[keep]
    return Audience(
        issue=issue, policy=policy, guard=guard, selected_at=now or dt.datetime.now(dt.timezone.utc),
        n_scanned=columns.n_customers, n_affected=int(hit_owner.size), n_unconsented=int((~consented).sum()),
        customers=columns.customer[keep], product=_lookup(columns.products, columns.product[item]),
        version=_lookup(columns.versions, columns.version[item]),
        platform=_lookup(columns.platforms, columns.platform[item]), region=_lookup(columns.regions, columns.region[keep]),
        locale=_lookup(columns.locales, columns.locale[keep]), segment=_lookup(columns.segments, columns.segment[keep]),
        clauses=texts[which.ravel()], rule=rule, contact=contact,
        channel=channel_names[np.where(preferred >= 0, preferred, fallback)])


def _distinct_columns(fields: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct columns, inverse) of a small-valued int matrix, through one mixed-radix int64 key."""
    if fields.shape[1] == 0:
        return np.zeros((fields.shape[0], 0), np.int64), np.zeros(0, np.int64)
    shifted = fields + 1  # -1 (unknown) becomes 0
    radix = shifted.max(axis=1) + 1
    if float(np.prod(radix.astype(np.float64))) >= 2.0 ** 62:
        return np.unique(fields, axis=1, return_inverse=True)
    key = np.zeros(fields.shape[1], np.int64)
    for row, size in zip(shifted, radix.tolist()):
        key = key * size + row
    unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return fields[:, first], inverse.ravel()


def _names(vocab: tuple[str, ...], code: int) -> str | None:
    return vocab[code] if code >= 0 else None


def _lookup(vocab: tuple[str, ...], codes: np.ndarray) -> np.ndarray:
    """Strings for codes (``None`` for -1), as an object array sharing one str object per value."""
    strings: np.ndarray = np.asarray([*vocab, None], dtype=object)[codes]
    return strings


def select_affected(issue: KnownIssue, gateway: ProfileGateway, *, policy: ImpactPolicy = DEFAULT_POLICY,
                    guard: AudienceGuard = AudienceGuard(), now: dt.datetime | None = None,
                    requester: str = "kbrank.proactive") -> Audience:
    """The audience of ``issue`` among the gateway's customers, read with one audited columnar scan for
    ``proactive-contact``. ``now`` (aware; default the gateway's clock) anchors the usage window."""
    if not isinstance(gateway, ProfileGateway):
        raise ParameterError("gateway", "a kbrank.privacy.ProfileGateway", type(gateway).__name__)
    if not isinstance(issue, KnownIssue):
        raise ParameterError("issue", "a KnownIssue", type(issue).__name__)
    now = gateway.now() if now is None else now
    usage = None
    if issue.usage is not None:
        usage = UsageQuery(issue.usage.feature, issue.usage.product, issue.usage.since(now))
    columns = gateway.scan_columns(PURPOSE, products=issue.scope.products, usage=usage, include_unconsented=True,
                                   requester=requester)
    return select_from_columns(issue, columns, policy=policy, guard=guard, now=now)
