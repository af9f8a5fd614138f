"""`Article`: one knowledge-base article and the applicability that says who it is for.

An article applies to the products it names (empty means "any product"), and per product to a PEP 440
version range (``{"router-x200": ">=2.0,<2.4"}``). Platforms, regions, locales and audience work the same
way: an empty tuple means "not restricted". `kind`, `status` and the validity window say what sort of
article it is and whether it should be shown at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ..applicability import Scope

__all__ = ["Article", "STATUSES", "KINDS"]

#: Allowed values of `Article.status`.
STATUSES = ("active", "deprecated", "archived")
#: Usual values of `Article.kind`; other non-empty strings are accepted as well.
KINDS = ("how-to", "troubleshooting", "known-issue", "reference", "faq", "release-notes", "general")


@dataclass(frozen=True, eq=True)
class Article:
    """An immutable knowledge-base article.

    >>> a = Article(id="kb-1", title="Reset your router", body="Hold the reset button for 10 s.",
    ...             products=("router-x200",), versions={"router-x200": ">=2.0,<2.4"})
    >>> a.versions["router-x200"]
    '>=2.0,<2.4'
    """

    id: str
    title: str = ""
    body: str = ""
    url: str = ""
    products: tuple[str, ...] = ()
    versions: Mapping[str, str] = field(default_factory=dict)
    platforms: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    locales: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    kind: str = "general"
    status: str = "active"
    updated_at: dt.date | None = None
    valid_until: dt.date | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Freeze the mappings so that an Article really cannot change after construction.
        object.__setattr__(self, "versions", MappingProxyType(dict(self.versions)))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def scope(self) -> Scope:
        """Who the article applies to, in the one applicability model (`kbrank.applicability.Scope`)."""
        return Scope(self.products, self.versions, self.platforms, self.regions, self.locales, self.audience)

    @property
    def text(self) -> str:
        """Title and body joined by a space (the BEIR convention for lexical and dense indexing)."""
        if self.title and self.body:
            return f"{self.title} {self.body}"
        return self.title or self.body

    def content_key(self) -> str:
        """A stable digest of everything that is indexed (title and body): unchanged key, unchanged vectors."""
        import hashlib

        return hashlib.sha256(f"{self.title}\x1f{self.body}".encode()).hexdigest()
