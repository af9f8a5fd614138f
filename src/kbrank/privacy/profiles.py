"""The customer profile: a pseudonymous id, owned products, usage events, where and how to reach the customer,
and the consents that govern every use of it.

All classes are frozen. Timestamps are timezone-aware and normalized to UTC; dates are `datetime.date`.
A profile never holds the raw customer id: ``CustomerProfile.id`` is the keyed pseudonym (see
`kbrank.privacy.Pseudonymizer`). Build profiles from records with `kbrank.privacy.profile_from_record`,
which validates every field; the constructors here only normalize and check invariants.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Iterable, Mapping

from .._params import check_int
from ..errors import ParameterError

__all__ = [
    "STATUSES",
    "CHANNELS",
    "PREFERRED_CHANNELS",
    "DATA_SCOPES",
    "OwnedProduct",
    "UsageEvent",
    "ConsentRecord",
    "CustomerProfile",
    "channel_scope",
    "to_utc",
    "format_timestamp",
]

#: The status of an owned product: still in use, sent back, or replaced/retired.
STATUSES = ("active", "returned", "retired")
#: Contact channels; each needs its own consent (scope ``"channel:<name>"``).
CHANNELS = ("email", "sms", "push")
#: A preferred channel is a contact channel or ``"none"``.
PREFERRED_CHANNELS = (*CHANNELS, "none")
#: Consent scopes that unlock a category of data rather than a purpose.
DATA_SCOPES = ("usage",)


def channel_scope(channel: str) -> str:
    """The consent scope of a contact channel: ``"email"`` -> ``"channel:email"``."""
    return f"channel:{channel}"


def to_utc(moment: dt.datetime, *, name: str = "timestamp") -> dt.datetime:
    """``moment`` in UTC; a naive datetime is refused (its time zone would be a guess)."""
    if not isinstance(moment, dt.datetime):
        raise ParameterError(name, "a timezone-aware datetime", moment)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ParameterError(name, "a timezone-aware datetime", moment,
                             hint="Attach a time zone, e.g. datetime.now(timezone.utc).")
    return moment.astimezone(dt.timezone.utc)


def format_timestamp(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: ``2026-10-01T12:00:00Z`` (microseconds only when present)."""
    text = moment.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat()
    return text + "Z"


@dataclass(frozen=True)
class OwnedProduct:
    """A product (model) the customer owns. ``version`` is the version string as the inventory records it
    (``"2.3.1"``, ``"FW_2.3.1"``; compared leniently, see `kbrank.applicability.parse_version`), ``None``
    when unknown: an unknown version never matches a version range and is never a near miss.
    ``registered_at`` is the purchase or registration date, ``platform`` the phone or OS it is managed from
    (``None`` when unknown)."""

    product: str
    version: str | None = None
    status: str = "active"
    line: str | None = None
    platform: str | None = None
    registered_at: dt.date | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.product, str) or not self.product:
            raise ParameterError("product", "a non-empty string", self.product)
        if self.version is not None and (not isinstance(self.version, str) or not self.version.strip()):
            raise ParameterError("version", "a non-empty version string, or None when unknown", self.version)
        if self.status not in STATUSES:
            raise ParameterError("status", f"one of {', '.join(STATUSES)}", self.status)

    @property
    def active(self) -> bool:
        """Whether the customer still uses it."""
        return self.status == "active"


@dataclass(frozen=True)
class UsageEvent:
    """``count`` uses of ``feature`` on ``product`` at ``timestamp`` (UTC), seen in ``region``."""

    product: str
    feature: str
    timestamp: dt.datetime
    region: str | None = None
    count: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamp", to_utc(self.timestamp, name="timestamp"))
        if not isinstance(self.product, str) or not self.product:
            raise ParameterError("product", "a non-empty string", self.product)
        if not isinstance(self.feature, str) or not self.feature:
            raise ParameterError("feature", "a non-empty string", self.feature)
        check_int("count", self.count, 0)


@dataclass(frozen=True)
class ConsentRecord:
    """The customer's answer for one consent scope: a purpose name (``"chat"``), a data scope
    (``"usage"``) or a contact channel (``"channel:email"``). ``recorded_at`` is when it was given or
    withdrawn, when known."""

    scope: str
    granted: bool
    recorded_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.scope, str) or not self.scope:
            raise ParameterError("scope", "a non-empty consent scope", self.scope)
        if not isinstance(self.granted, bool):
            raise ParameterError("granted", "True or False", self.granted)
        if self.recorded_at is not None:
            object.__setattr__(self, "recorded_at", to_utc(self.recorded_at, name="recorded_at"))


def _consents(records: Iterable[ConsentRecord]) -> tuple[ConsentRecord, ...]:
    """One record per scope (the last one given wins), sorted by scope."""
    latest: dict[str, ConsentRecord] = {}
    for record in records:
        if not isinstance(record, ConsentRecord):
            raise ParameterError("consents", "ConsentRecord objects", record)
        latest[record.scope] = record
    return tuple(latest[scope] for scope in sorted(latest))


@dataclass(frozen=True)
class CustomerProfile:
    """Everything kbrank may know about one customer, keyed by pseudonym.

    ``owned`` keeps its order; ``usage`` is in the order recorded; ``addresses`` maps a contact channel to
    the address for it (read-only); ``consents`` holds one `ConsentRecord` per scope. A scope without a
    record is *not* granted: kbrank asks for consent, it never assumes it.
    """

    id: str
    region: str | None = None
    locale: str | None = None
    segment: str | None = None
    owned: tuple[OwnedProduct, ...] = ()
    usage: tuple[UsageEvent, ...] = ()
    preferred_channel: str = "none"
    addresses: Mapping[str, str] = field(default_factory=dict, hash=False)
    consents: tuple[ConsentRecord, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ParameterError("id", "a non-empty pseudonym", self.id)
        object.__setattr__(self, "owned", tuple(self.owned))
        object.__setattr__(self, "usage", tuple(self.usage))
        for item in self.owned:
            if not isinstance(item, OwnedProduct):
                raise ParameterError("owned", "OwnedProduct objects", item)
        for event in self.usage:
            if not isinstance(event, UsageEvent):
                raise ParameterError("usage", "UsageEvent objects", event)
        if self.preferred_channel not in PREFERRED_CHANNELS:
            raise ParameterError("preferred_channel", f"one of {', '.join(PREFERRED_CHANNELS)}",
                                 self.preferred_channel)
        addresses = dict(self.addresses)
        for channel in addresses:
            if channel not in CHANNELS:
                raise ParameterError("addresses", f"keys among {', '.join(CHANNELS)}", channel)
        object.__setattr__(self, "addresses", MappingProxyType(dict(sorted(addresses.items()))))
        object.__setattr__(self, "consents", _consents(self.consents))

    def __repr__(self) -> str:  # never print addresses or events wholesale
        return (f"CustomerProfile(id={self.id[:12]!r}…, {len(self.owned)} owned, {len(self.usage)} usage events, "
                f"{len(self.consents)} consents)")

    @property
    def held_fields(self) -> tuple[str, ...]:
        """The names of the fields that hold data (what a write stores, what an access report shows)."""
        names = [name for name in ("owned", "usage", "region", "locale", "segment") if getattr(self, name)]
        if self.preferred_channel != "none":
            names.append("preferred_channel")
        return tuple(names + [name for name in ("addresses", "consents") if getattr(self, name)])

    def consent(self, scope: str) -> ConsentRecord | None:
        """The record for ``scope``, or ``None`` when the customer was never asked."""
        for record in self.consents:
            if record.scope == scope:
                return record
        return None

    def consented(self, scope: str) -> bool:
        """Whether ``scope`` is granted (a missing record means no)."""
        record = self.consent(scope)
        return record is not None and record.granted

    def with_consent(self, record: ConsentRecord) -> "CustomerProfile":
        """A copy with ``record`` replacing the one for its scope."""
        return replace(self, consents=(*self.consents, record))

    def with_usage(self, events: Iterable[UsageEvent]) -> "CustomerProfile":
        """A copy with ``events`` appended to the usage history."""
        return replace(self, usage=(*self.usage, *events))
