"""`Where`: the structured predicate of a profile scan, which stores can answer from their indexes.

Conditions on owned products (``product``, ``version``, ``status``, ``platform``) must hold for the *same*
owned item; ``feature`` needs a usage event of that feature (on one of ``product`` when given); ``region``,
``locale`` and ``segment`` test the profile. Each condition takes one value or a collection of values
(any of them); conditions left at ``None`` are not tested. ``version`` is a PEP 440 range such as
``">=2.0.3,<2.4"``, checked by the one applicability model (`kbrank.applicability`): firmware-style stored
versions compare by their number, and an unknown version never matches a range.

>>> Where(product="router-x200", version=">=2.0.3,<2.4", status="active").uses
('owned',)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Collection

from ..applicability import VersionRange, parse_range
from ..errors import ParameterError
from .profiles import STATUSES, OwnedProduct, UsageEvent

__all__ = ["Where"]

_OWNED_KEYS = ("product", "status", "platform")
_PROFILE_KEYS = ("region", "locale", "segment")


def _values(name: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, (list, tuple, set,
                                                                                        frozenset)) else None
    if not items or not all(isinstance(v, str) and v for v in items):
        raise ParameterError(name, "a non-empty string or a non-empty collection of them", value)
    return tuple(sorted(set(items)))


@dataclass(frozen=True)
class Where:
    """Which profiles a scan wants; see the module docstring."""

    product: str | Collection[str] | None = None
    version: str | None = None
    status: str | Collection[str] | None = None
    platform: str | Collection[str] | None = None
    region: str | Collection[str] | None = None
    locale: str | Collection[str] | None = None
    segment: str | Collection[str] | None = None
    feature: str | Collection[str] | None = None
    _range: VersionRange | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in (*_OWNED_KEYS, *_PROFILE_KEYS, "feature"):
            object.__setattr__(self, name, _values(name, getattr(self, name)))
        bad = [s for s in self.status or () if s not in STATUSES]
        if bad:
            raise ParameterError("status", f"among {', '.join(STATUSES)}", bad)
        if self.version is not None:
            if not isinstance(self.version, str):
                raise ParameterError("version", "a PEP 440 range string such as '>=2.0,<2.4'", self.version)
            if self.product is None:
                raise ParameterError("version", "given together with product (a version range is per product)",
                                     self.version)
            object.__setattr__(self, "_range", parse_range(self.version, field="where.version"))

    @property
    def uses(self) -> tuple[str, ...]:
        """The profile fields this predicate reads (a scan's purpose must hand out all of them)."""
        used = []
        if self.product or self.version or self.status or self.platform:
            used.append("owned")
        if self.feature:
            used.append("usage")
        used.extend(name for name in _PROFILE_KEYS if getattr(self, name) is not None)
        return tuple(used)

    def version_matches(self, version: str | None) -> bool:
        """Whether ``version`` is in the ``version`` range (always true without one; never when unknown)."""
        return self._range is None or self._range.contains(version) is True

    def owned_matches(self, item: OwnedProduct) -> bool:
        """Whether one owned item satisfies every owned-product condition."""
        return ((self.product is None or item.product in self.product)
                and (self.status is None or item.status in self.status)
                and (self.platform is None or item.platform in self.platform)
                and self.version_matches(item.version))

    def event_matches(self, event: UsageEvent) -> bool:
        """Whether one usage event satisfies the ``feature`` condition."""
        return event.feature in (self.feature or ()) and (self.product is None or event.product in self.product)

    def matches(self, record: Any) -> bool:
        """Whether a `CustomerProfile` or a `ProfileView` satisfies every condition. A field the object does
        not hold (absent from a view) never matches a condition on it."""
        for name in _PROFILE_KEYS:
            wanted = getattr(self, name)
            if wanted is not None and getattr(record, name, None) not in wanted:
                return False
        if "owned" in self.uses:
            if not any(self.owned_matches(item) for item in getattr(record, "owned", ())):
                return False
        if self.feature is not None:
            if not any(self.event_matches(event) for event in getattr(record, "usage", ())):
                return False
        return True
