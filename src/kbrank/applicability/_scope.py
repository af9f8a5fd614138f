"""One item's scope: who it applies to, judged dimension by dimension (`Scope.assess`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from ._versions import VersionRange, parse_range, version_in

__all__ = ["OUTCOMES", "Assessment", "Scope"]

#: The outcomes of one dimension of `Scope.assess`.
OUTCOMES = ("in", "out", "unknown", "open")


def _outcome(allowed: tuple[str, ...], value: str | None) -> str:
    if not allowed:
        return "open"
    if value is None:
        return "unknown"
    return "in" if value in allowed else "out"


@dataclass(frozen=True)
class Assessment:
    """How one owned item (and its owner) fares against a `Scope`: one outcome of `OUTCOMES` per dimension."""

    product: str
    version: str
    platform: str
    region: str
    locale: str
    audience: str

    @property
    def applies(self) -> bool:
        """No dimension fails."""
        return "out" not in (self.product, self.version, self.platform, self.region, self.locale, self.audience)

    @property
    def confirmed(self) -> bool:
        """It applies, and at least one narrowing restriction (not the product alone) was confirmed."""
        return self.applies and "in" in (self.version, self.platform, self.region, self.locale, self.audience)


@dataclass(frozen=True)
class Scope:
    """Who an item applies to; see the module docstring. Ranges are validated on construction."""

    products: tuple[str, ...] = ()
    versions: Mapping[str, str] = field(default_factory=dict)
    platforms: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    locales: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("products", "platforms", "regions", "locales", "audience"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "versions", MappingProxyType(dict(self.versions)))
        for product, spec in self.versions.items():
            parse_range(spec, field=f"versions.{product}")

    def range_for(self, product: str) -> VersionRange | None:
        """The version range for ``product``, or ``None`` when its versions are not restricted."""
        spec = self.versions.get(product)
        return None if spec is None else parse_range(spec)

    def version_outcome(self, product: str, version: str | None) -> str:
        """``"open"`` without a range for ``product``; else ``"in"``, ``"out"`` or ``"unknown"``."""
        spec = self.versions.get(product)
        if spec is None:
            return "open"
        verdict = version_in(spec, version)
        return "unknown" if verdict is None else ("in" if verdict else "out")

    def assess(self, product: str | None, version: str | None = None, *, platform: str | None = None,
               region: str | None = None, locale: str | None = None, segment: str | None = None) -> Assessment:
        """Judge one owned item (``product`` at ``version`` on ``platform``) of a customer in ``region``,
        ``locale`` and ``segment``. ``product=None`` judges the customer alone (a general item)."""
        if not self.products:
            product_outcome = "open"
        else:
            product_outcome = "unknown" if product is None else ("in" if product in self.products else "out")
        version_outcome = "open" if product is None or product_outcome == "out" else self.version_outcome(
            product, version)
        return Assessment(product_outcome, version_outcome, _outcome(self.platforms, platform),
                          _outcome(self.regions, region), _outcome(self.locales, locale),
                          _outcome(self.audience, segment))
