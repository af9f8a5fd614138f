"""`KnownIssue`: a problem the company knows about, who it hits, how badly, and where its fix stands.

A known issue says whom it affects in the one applicability model (`kbrank.applicability.Scope`: products,
per-product PEP 440 version ranges, platforms, regions, locales, audience), optionally narrowed by a
`UsageCondition` ("used night-vision in the last 30 days", "at least 5 events"). Its ``impact`` is one of
`IMPACTS`, from least to most severe, and its status moves through a lifecycle:

====================  ==============================================  ==========================================
status                meaning                                         may move to
====================  ==============================================  ==========================================
``investigating``     known, cause being looked at                    workaround, fix-scheduled, fixed, closed
``workaround``        a workaround is published (``workaround_article``)  fix-scheduled, fixed, closed
``fix-scheduled``     a fix has an ETA (``eta``)                      fixed, closed
``fixed``             the fix is released (``fixed_in``, ``fix_article``)  closed, investigating (a regression)
``closed``            nothing more will be said                       (final)
====================  ==============================================  ==========================================

A change to the same status is allowed when it moves the ETA ("the fix slips to Friday"). Every change is
kept in ``history``; `KnownIssue.with_status` returns a new issue and never edits the old one.

Load issues with `read_known_issues` (JSONL or YAML, by extension) or `known_issues_from_records` (both in
`kbrank.proactive.issue_records`). A record uses the article field names for its scope::

    {"id": "ki-c10-night", "title": "Night vision stays off", "impact": "broken",
     "products": ["cam-c10"], "versions": {"cam-c10": ">=4.2,<4.3.2"}, "regions": ["eu"],
     "usage": {"feature": "night-vision", "within_days": 30, "min_events": 1},
     "status": "workaround", "eta": "2026-11-20", "workaround_article": "kb-0042",
     "fixed_in": {"cam-c10": "4.3.2"},
     "history": [{"status": "investigating", "at": "2026-10-02T09:00:00Z"}, ...]}

Every problem raises `KnownIssueError` naming the file, line, field, value and fix.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from types import EllipsisType, MappingProxyType
from typing import Any, Mapping

from ..applicability import Scope, parse_version
from ..errors import KnownIssueError, did_you_mean

__all__ = ["IMPACTS", "ISSUE_STATUSES", "TRANSITIONS", "FIELDS", "KnownIssue", "StatusChange", "UsageCondition"]

#: Impact levels, least severe first.
IMPACTS = ("cosmetic", "degraded", "broken", "outage", "data-loss")
#: The lifecycle of a known issue, in order.
ISSUE_STATUSES = ("investigating", "workaround", "fix-scheduled", "fixed", "closed")
#: status -> the statuses it may move to (besides itself, for an ETA change).
TRANSITIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "investigating": ("workaround", "fix-scheduled", "fixed", "closed"),
    "workaround": ("fix-scheduled", "fixed", "closed"),
    "fix-scheduled": ("fixed", "closed"),
    "fixed": ("closed", "investigating"),
    "closed": (),
})
SCOPE_LISTS = ("products", "platforms", "regions", "locales", "audience")
#: Every field a known-issue record may carry.
FIELDS = ("id", "title", "summary", *SCOPE_LISTS, "versions", "usage", "impact", "status", "eta",
          "workaround_article", "fix_article", "fixed_in", "history")


def fail(problem: str, where: Mapping[str, Any], field: str | None = None, fix: str | None = None,
          **value: Any) -> KnownIssueError:
    return KnownIssueError(problem, source=where.get("source"), line=where.get("line"), field=field, fix=fix,
                           **value)


@dataclass(frozen=True)
class UsageCondition:
    """Affected only if the customer used ``feature`` (any of them; on ``product`` when given, else on any
    product) at least ``min_events`` times (summing event counts) within the last ``within_days`` days
    (``None``: within the gateway's retention horizon)."""

    feature: tuple[str, ...]
    product: tuple[str, ...] = ()
    within_days: int | None = None
    min_events: int = 1

    def __post_init__(self) -> None:
        for name in ("feature", "product"):
            value = getattr(self, name)
            items = (value,) if isinstance(value, str) else tuple(value)
            if not all(isinstance(v, str) and v for v in items):
                raise KnownIssueError("expected a name or a list of names", field=f"usage.{name}", value=value,
                                      fix="write e.g. \"night-vision\" or [\"live-view\", \"night-vision\"]")
            object.__setattr__(self, name, items)
        if not self.feature:
            raise KnownIssueError("a usage condition names at least one feature", field="usage.feature",
                                  fix="name the feature, e.g. \"night-vision\", or drop the usage condition")
        if self.within_days is not None and (isinstance(self.within_days, bool) or not isinstance(
                self.within_days, int) or self.within_days < 1):
            raise KnownIssueError("expected a whole number of days >= 1", field="usage.within_days",
                                  value=self.within_days, fix="write e.g. 30, or leave it out")
        if isinstance(self.min_events, bool) or not isinstance(self.min_events, int) or self.min_events < 1:
            raise KnownIssueError("expected a whole number >= 1", field="usage.min_events", value=self.min_events,
                                  fix="write e.g. 1 (used at all) or 5")

    def since(self, now: dt.datetime) -> dt.datetime | None:
        """The oldest usage that counts, seen from ``now``."""
        return None if self.within_days is None else now - dt.timedelta(days=self.within_days)

    def describe(self) -> str:
        """Plain words: ``uses night-vision (at least 5 times, last 30 days)``."""
        parts = [f"at least {self.min_events} times"] if self.min_events > 1 else []
        if self.within_days is not None:
            parts.append(f"last {self.within_days} days")
        text = "uses " + " or ".join(self.feature)
        if self.product:
            text += " on " + " or ".join(self.product)
        return text + (f" ({', '.join(parts)})" if parts else "")


@dataclass(frozen=True)
class StatusChange:
    """One step of an issue's lifecycle: the new ``status``, when (``at``, aware; ``None`` when unknown),
    the ETA of the fix as then announced, and a free-text note."""

    status: str
    at: dt.datetime | None = None
    eta: dt.date | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.status not in ISSUE_STATUSES:
            raise KnownIssueError("unknown status", field="status", value=self.status,
                                  fix=f"use one of {', '.join(ISSUE_STATUSES)}")
        if self.at is not None:
            if not isinstance(self.at, dt.datetime) or self.at.utcoffset() is None:
                raise KnownIssueError("expected a timezone-aware datetime", field="at", value=self.at,
                                      fix="attach a time zone, e.g. datetime.now(timezone.utc)")
            object.__setattr__(self, "at", self.at.astimezone(dt.timezone.utc))
        if self.eta is not None and (not isinstance(self.eta, dt.date) or isinstance(self.eta, dt.datetime)):
            raise KnownIssueError("expected a date", field="eta", value=self.eta, fix="pass a datetime.date")


def check_transition(old: str, new: str, *, same_ok: bool, where: Mapping[str, Any], field: str) -> None:
    if new == old and same_ok:
        return
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(TRANSITIONS[old]) or "nothing (it is final)"
        raise fail(f"a known issue cannot move from {old!r} to {new!r}", where, field,
                    f"from {old!r} it may move to {allowed}", value=new)


@dataclass(frozen=True)
class KnownIssue:
    """A known issue; see the module docstring. Build it from records with `known_issue_from_record`, from
    a corpus article with `KnownIssue.from_article`, or directly (the history defaults to one entry)."""

    id: str
    title: str
    scope: Scope
    impact: str
    status: str = "investigating"
    usage: UsageCondition | None = None
    eta: dt.date | None = None
    summary: str = ""
    workaround_article: str | None = None
    fix_article: str | None = None
    fixed_in: Mapping[str, str] = field(default_factory=dict)
    history: tuple[StatusChange, ...] = ()

    def __post_init__(self) -> None:
        where: dict[str, Any] = {}
        if not isinstance(self.id, str) or not self.id.strip():
            raise fail("missing known-issue id", where, "id", "give every known issue a non-empty 'id'")
        if not isinstance(self.scope, Scope):
            raise fail("expected a kbrank.applicability.Scope", where, "scope", "build one with Scope(...)",
                        value=type(self.scope).__name__)
        if not self.scope.products:
            raise fail("a known issue names the products it affects", where, "products",
                        "list the affected products, e.g. [\"cam-c10\"]")
        if self.impact not in IMPACTS:
            close = did_you_mean(self.impact, IMPACTS, cutoff=0.5)
            hint = f"did you mean {close!r}? " if close else ""
            raise fail("unknown impact", where, "impact", f"{hint}use one of {', '.join(IMPACTS)}",
                        value=self.impact)
        if self.status not in ISSUE_STATUSES:
            raise fail("unknown status", where, "status", f"use one of {', '.join(ISSUE_STATUSES)}",
                        value=self.status)
        if self.usage is not None and not isinstance(self.usage, UsageCondition):
            raise fail("expected a UsageCondition", where, "usage", "build one with UsageCondition(...)",
                        value=type(self.usage).__name__)
        fixed_in = dict(self.fixed_in)
        for product, version in fixed_in.items():
            if product not in self.scope.products:
                raise fail("'fixed_in' names a product the issue does not affect", where,
                            f"fixed_in.{product}", f"add {product!r} to 'products' or remove it")
            if parse_version(version) is None:
                raise fail("expected a version", where, f"fixed_in.{product}", "write e.g. \"4.3.2\"",
                            value=version)
        object.__setattr__(self, "fixed_in", MappingProxyType(fixed_in))
        history = tuple(self.history) or (StatusChange(self.status, eta=self.eta),)
        for step in history:
            if not isinstance(step, StatusChange):
                raise fail("expected StatusChange entries", where, "history", "build them with StatusChange()",
                            value=type(step).__name__)
        for n, (old, new) in enumerate(zip(history, history[1:]), start=1):
            check_transition(old.status, new.status, same_ok=new.eta != old.eta, where=where,
                              field=f"history[{n}].status")
        if history[-1].status != self.status:
            raise fail("the status is not the last status of the history", where, "status",
                        f"write status {history[-1].status!r}, or add the change to the history",
                        value=self.status)
        object.__setattr__(self, "history", history)

    @property
    def open(self) -> bool:
        """Whether customers may still be told about it (not fixed, not closed)."""
        return self.status not in ("fixed", "closed")

    @property
    def severity(self) -> int:
        """The position of ``impact`` in `IMPACTS` (0 = cosmetic)."""
        return IMPACTS.index(self.impact)

    def with_status(self, status: str, *, at: dt.datetime | None = None, eta: dt.date | None | EllipsisType = ...,
                    note: str = "") -> "KnownIssue":
        """A new issue moved to ``status`` (validated against `TRANSITIONS`), the change added to its history.

        ``eta`` defaults to the current ETA while the fix is pending and to ``None`` once fixed or closed.
        """
        if isinstance(eta, EllipsisType):
            eta = None if status in ("fixed", "closed") else self.eta
        step = StatusChange(status, at=at, eta=eta, note=note)
        check_transition(self.status, status, same_ok=step.eta != self.eta, where={}, field="status")
        return replace(self, status=status, eta=step.eta, history=(*self.history, step))

    @classmethod
    def from_article(cls, article: Any, *, impact: str | None = None, status: str | None = None,
                     usage: UsageCondition | None = None) -> "KnownIssue":
        """The known issue an article of kind ``known-issue`` describes.

        Its scope is the article's; ``impact`` and ``status`` come from the arguments, else from the article's
        ``metadata`` (``impact``, ``issue_status``), else the status is derived: ``closed`` for an archived
        article, ``fixed`` when ``metadata["fixed_in"]`` names a fix for every product, else ``workaround``
        (the article itself is the workaround).
        """
        where = {"source": f"article {getattr(article, 'id', '?')}"}
        if getattr(article, "kind", None) != "known-issue":
            raise fail("not a known-issue article", where, "kind", "pass an article whose kind is 'known-issue'",
                        value=getattr(article, "kind", None))
        metadata = getattr(article, "metadata", {}) or {}
        impact = impact or metadata.get("impact")
        if impact is None:
            raise fail("the article does not say the issue's impact", where, "metadata.impact",
                        f"pass impact= or set metadata['impact'] to one of {', '.join(IMPACTS)}")
        fixed_in = {p: v for p, v in dict(metadata.get("fixed_in") or {}).items() if v}
        products = tuple(article.products)
        if status is None:
            status = metadata.get("issue_status")
        if status is None:
            if article.status == "archived":
                status = "closed"
            elif products and all(p in fixed_in for p in products):
                status = "fixed"
            else:
                status = "workaround"
        scope = getattr(article, "scope", None)
        if not isinstance(scope, Scope):
            scope = Scope(products=products, versions=dict(article.versions), platforms=article.platforms,
                          regions=article.regions, locales=article.locales, audience=article.audience)
        try:
            return cls(id=article.id, title=article.title, scope=scope, impact=impact, status=status, usage=usage,
                       workaround_article=article.id, fixed_in=fixed_in)
        except KnownIssueError as exc:
            raise fail(exc.problem, where, exc.field, exc.fix, **({"value": exc.value} if exc.value else {})) from None

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record; `known_issue_from_record` reads it back to an equal issue."""
        record: dict[str, Any] = {"id": self.id, "title": self.title}
        if self.summary:
            record["summary"] = self.summary
        for name in SCOPE_LISTS:
            if getattr(self.scope, name):
                record[name] = list(getattr(self.scope, name))
        if self.scope.versions:
            record["versions"] = dict(self.scope.versions)
        if self.usage is not None:
            usage: dict[str, Any] = {"feature": list(self.usage.feature), "min_events": self.usage.min_events}
            if self.usage.product:
                usage["product"] = list(self.usage.product)
            if self.usage.within_days is not None:
                usage["within_days"] = self.usage.within_days
            record["usage"] = usage
        record.update(impact=self.impact, status=self.status)
        if self.eta is not None:
            record["eta"] = self.eta.isoformat()
        for name in ("workaround_article", "fix_article"):
            if getattr(self, name):
                record[name] = getattr(self, name)
        if self.fixed_in:
            record["fixed_in"] = dict(self.fixed_in)
        record["history"] = [{"status": s.status, **({"at": s.at.isoformat().replace("+00:00", "Z")} if s.at else {}),
                              **({"eta": s.eta.isoformat()} if s.eta else {}), **({"note": s.note} if s.note else {})}
                             for s in self.history]
        return record
