"""`ProfileView`: the read-only, minimized slice of a profile that a read hands out.

A view holds only the fields its purpose allows and the customer consented to. The other fields are
*absent*, not ``None``: reading one raises `FieldNotAllowedError` (an `AttributeError`, so ``hasattr`` and
``getattr(view, name, default)`` work), and ``view.fields`` lists what is present. Everything in a view is
immutable: tuples of frozen dataclasses, and a read-only mapping for ``addresses``.
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from ..errors import FieldNotAllowedError, ParameterError
from .profiles import CustomerProfile, OwnedProduct, UsageEvent
from .purposes import DATA_FIELDS, PURPOSES, Decision, Purpose

__all__ = ["ProfileView", "build_view", "non_personalized_view", "register_cache", "with_origin"]

_META = ("purpose", "personalized", "reason")


@dataclass(frozen=True, slots=True, init=False, eq=False, repr=False)
class ProfileView:
    """The minimized, read-only profile handed out for one purpose.

    ``purpose`` is the purpose of the read; ``personalized`` is ``False`` for the non-personalized view
    (graceful degradation: no profile fields at all, ``reason`` says why). The data fields below exist only
    when the purpose allows them; see `kbrank.privacy.purposes` for the table.

    * ``customer``: the pseudonym (proactive contact only, to key the outbox)
    * ``owned``: owned products; ``usage``: usage events within the retention horizon
    * ``region``, ``locale``, ``segment``
    * ``preferred_channel``: the customer's preference if it is among the consented ``channels``, else "none"
    * ``channels``: consented contact channels; ``addresses``: their addresses (channel -> address)
    """

    purpose: str
    personalized: bool
    reason: str | None
    customer: str
    owned: tuple[OwnedProduct, ...]
    usage: tuple[UsageEvent, ...]
    region: str | None
    locale: str | None
    segment: str | None
    preferred_channel: str
    channels: tuple[str, ...]
    addresses: Mapping[str, str]
    _fields: tuple[str, ...]  # the data fields present, in display order (set once, by _make)
    _origin: Any  # a weak reference to the gateway that handed the view out (not data; never shown)

    def __getattr__(self, name: str) -> Any:  # only reached when a slot is unset, i.e. the field is absent
        if name in DATA_FIELDS:
            raise FieldNotAllowedError(name, object.__getattribute__(self, "purpose"), self.fields)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def of(cls, purpose: "str | Purpose", *, personalized: bool = True, reason: str | None = None,
           **fields: Any) -> "ProfileView":
        """A view built by hand, for tests and notebooks (no store is read, nothing is audited).

        The fields must be among those the purpose may ever hand out:

        >>> view = ProfileView.of("personalization", region="eu", owned=())
        >>> view.fields, hasattr(view, "addresses")
        (('owned', 'region'), False)
        """
        spec = purpose if isinstance(purpose, Purpose) else PURPOSES.get(purpose)
        if spec is None:
            raise ParameterError("purpose", f"one of {', '.join(PURPOSES)} or a Purpose", purpose)
        extra = sorted(set(fields) - set(spec.allowance))
        if extra:
            raise ParameterError("fields", f"among {', '.join(spec.allowance)} for purpose {spec.name!r}", extra)
        if not personalized and fields:
            raise ParameterError("fields", "empty for a non-personalized view", sorted(fields))
        return _make(spec.name, personalized, reason, fields)

    @property
    def fields(self) -> tuple[str, ...]:
        """The data fields this view holds, in display order."""
        fields: tuple[str, ...] = object.__getattribute__(self, "_fields")
        return fields

    def to_dict(self) -> dict[str, Any]:
        """The present data fields as plain values (``addresses`` as a dict)."""
        out: dict[str, Any] = {}
        for name in self.fields:
            value = object.__getattribute__(self, name)
            out[name] = dict(value) if name == "addresses" else value
        return out

    def _key(self) -> tuple[str, bool, str | None, tuple[tuple[str, object], ...]]:
        items = tuple((k, tuple(sorted(v.items())) if k == "addresses" else v) for k, v in self.to_dict().items())
        return (self.purpose, self.personalized, self.reason, items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProfileView):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        if not self.personalized:
            return f"ProfileView(purpose={self.purpose!r}, personalized=False, reason={self.reason!r})"
        return f"ProfileView(purpose={self.purpose!r}, {shown})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython and hypothesis: show only what it holds
        printer.text(repr(self))

    def __reduce__(self) -> Any:
        raise TypeError("a ProfileView holds personal data and is never pickled; read it again through the "
                        "gateway where it is needed (each read is audited)")


def _make(purpose: str, personalized: bool, reason: str | None, fields: Mapping[str, Any]) -> ProfileView:
    view = object.__new__(ProfileView)
    object.__setattr__(view, "purpose", purpose)
    object.__setattr__(view, "personalized", personalized)
    object.__setattr__(view, "reason", reason)
    for name, value in fields.items():
        if name == "addresses":
            value = MappingProxyType(dict(value))
        elif name in ("owned", "usage", "channels"):
            value = tuple(value)
        object.__setattr__(view, name, value)
    object.__setattr__(view, "_fields", tuple(name for name in DATA_FIELDS if name in fields))
    return view


def build_view(purpose: Purpose, profile: CustomerProfile, decision: Decision, *,
               usage_since: dt.datetime | None) -> ProfileView:
    """The view of ``profile`` for a granted ``decision``: only its fields, usage within retention."""
    if not decision.granted:
        raise ValueError("build_view needs a granted decision")  # internal misuse, not user input
    values: dict[str, Any] = {}
    for name in decision.fields:
        if name == "customer":
            values[name] = profile.id
        elif name == "usage":
            values[name] = tuple(e for e in profile.usage if usage_since is None or e.timestamp >= usage_since)
        elif name == "channels":
            values[name] = decision.channels
        elif name == "addresses":
            values[name] = {c: profile.addresses[c] for c in decision.channels if c in profile.addresses}
        elif name == "preferred_channel":
            preferred = profile.preferred_channel
            values[name] = preferred if preferred in decision.channels else "none"
        else:
            values[name] = getattr(profile, name)
    return _make(purpose.name, True, None, values)


def non_personalized_view(purpose: Purpose, reason: str) -> ProfileView:
    """The view for graceful degradation: no profile fields at all."""
    return _make(purpose.name, False, reason, {})


def with_origin(view: ProfileView, gateway: Any) -> ProfileView:
    """Mark ``view`` as handed out by ``gateway`` (weakly), so caches built from it can be erased through it."""
    object.__setattr__(view, "_origin", weakref.ref(gateway))
    return view


def register_cache(view: Any, name: str, clear: Callable[[], int]) -> bool:
    """Have the gateway that handed out ``view`` call ``clear()`` on every erasure (once per ``name``).

    A cache that holds anything derived from a customer's view (a personalization plan, say) cannot find that
    customer's entries by pseudonym, because views for ranking carry none; erasure therefore empties it whole.
    Views built by hand (`ProfileView.of`) have no gateway, and nothing is registered. Returns whether a
    gateway now knows the cache.
    """
    try:
        origin = object.__getattribute__(view, "_origin")
    except AttributeError:
        return False
    gateway = origin()
    return gateway is not None and gateway.register_cache(name, clear)
