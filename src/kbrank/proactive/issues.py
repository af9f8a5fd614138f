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

Load issues with `read_known_issues` (JSONL or YAML, by extension) or `known_issues_from_records`. A record
uses the article field names for its scope::

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
import difflib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from ..applicability import Scope, parse_range, parse_version
from ..errors import KnownIssueError, VersionSpecError

__all__ = ["IMPACTS", "ISSUE_STATUSES", "TRANSITIONS", "FIELDS", "KnownIssue", "StatusChange", "UsageCondition",
           "known_issue_from_record", "known_issues_from_records", "read_known_issues"]

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
_SCOPE_LISTS = ("products", "platforms", "regions", "locales", "audience")
#: Every field a known-issue record may carry.
FIELDS = ("id", "title", "summary", *_SCOPE_LISTS, "versions", "usage", "impact", "status", "eta",
          "workaround_article", "fix_article", "fixed_in", "history")
_USAGE_FIELDS = ("feature", "product", "within_days", "min_events")
_HISTORY_FIELDS = ("status", "at", "eta", "note")


def _fail(problem: str, where: Mapping[str, Any], field: str | None = None, fix: str | None = None,
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


def _check_transition(old: str, new: str, *, same_ok: bool, where: Mapping[str, Any], field: str) -> None:
    if new == old and same_ok:
        return
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(TRANSITIONS[old]) or "nothing (it is final)"
        raise _fail(f"a known issue cannot move from {old!r} to {new!r}", where, field,
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
            raise _fail("missing known-issue id", where, "id", "give every known issue a non-empty 'id'")
        if not isinstance(self.scope, Scope):
            raise _fail("expected a kbrank.applicability.Scope", where, "scope", "build one with Scope(...)",
                        value=type(self.scope).__name__)
        if not self.scope.products:
            raise _fail("a known issue names the products it affects", where, "products",
                        "list the affected products, e.g. [\"cam-c10\"]")
        if self.impact not in IMPACTS:
            close = difflib.get_close_matches(str(self.impact), IMPACTS, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise _fail("unknown impact", where, "impact", f"{hint}use one of {', '.join(IMPACTS)}",
                        value=self.impact)
        if self.status not in ISSUE_STATUSES:
            raise _fail("unknown status", where, "status", f"use one of {', '.join(ISSUE_STATUSES)}",
                        value=self.status)
        if self.usage is not None and not isinstance(self.usage, UsageCondition):
            raise _fail("expected a UsageCondition", where, "usage", "build one with UsageCondition(...)",
                        value=type(self.usage).__name__)
        fixed_in = dict(self.fixed_in)
        for product, version in fixed_in.items():
            if product not in self.scope.products:
                raise _fail("'fixed_in' names a product the issue does not affect", where,
                            f"fixed_in.{product}", f"add {product!r} to 'products' or remove it")
            if parse_version(version) is None:
                raise _fail("expected a version", where, f"fixed_in.{product}", "write e.g. \"4.3.2\"",
                            value=version)
        object.__setattr__(self, "fixed_in", MappingProxyType(fixed_in))
        history = tuple(self.history) or (StatusChange(self.status, eta=self.eta),)
        for step in history:
            if not isinstance(step, StatusChange):
                raise _fail("expected StatusChange entries", where, "history", "build them with StatusChange()",
                            value=type(step).__name__)
        for n, (old, new) in enumerate(zip(history, history[1:]), start=1):
            _check_transition(old.status, new.status, same_ok=new.eta != old.eta, where=where,
                              field=f"history[{n}].status")
        if history[-1].status != self.status:
            raise _fail("the status is not the last status of the history", where, "status",
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

    def with_status(self, status: str, *, at: dt.datetime | None = None, eta: dt.date | None | object = ...,
                    note: str = "") -> "KnownIssue":
        """A new issue moved to ``status`` (validated against `TRANSITIONS`), the change added to its history.

        ``eta`` defaults to the current ETA while the fix is pending and to ``None`` once fixed or closed.
        """
        if eta is ...:
            eta = None if status in ("fixed", "closed") else self.eta
        step = StatusChange(status, at=at, eta=eta, note=note)  # type: ignore[arg-type]
        _check_transition(self.status, status, same_ok=step.eta != self.eta, where={}, field="status")
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
            raise _fail("not a known-issue article", where, "kind", "pass an article whose kind is 'known-issue'",
                        value=getattr(article, "kind", None))
        metadata = getattr(article, "metadata", {}) or {}
        impact = impact or metadata.get("impact")
        if impact is None:
            raise _fail("the article does not say the issue's impact", where, "metadata.impact",
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
            raise _fail(exc.problem, where, exc.field, exc.fix, **({"value": exc.value} if exc.value else {})) from None

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record; `known_issue_from_record` reads it back to an equal issue."""
        record: dict[str, Any] = {"id": self.id, "title": self.title}
        if self.summary:
            record["summary"] = self.summary
        for name in _SCOPE_LISTS:
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


# -- records -----------------------------------------------------------------------------------------------
def _names(value: Any, where: Mapping[str, Any], name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise _fail("expected a string or a list of strings", where, name,
                f"write {name!r} as a list of names, for example [\"a\", \"b\"]", value=value)


def _date(value: Any, where: Mapping[str, Any], name: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None  # type: ignore[return-value]
    except ValueError:
        pass
    raise _fail("expected an ISO date", where, name, "write dates as 'YYYY-MM-DD'", value=value)


def _moment(value: Any, where: Mapping[str, Any], name: str) -> dt.datetime | None:
    if value is None:
        return None
    moment = value
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if not isinstance(moment, dt.datetime) or moment.utcoffset() is None:
        raise _fail("expected an ISO 8601 timestamp with a time zone", where, name,
                    "write e.g. '2026-10-01T09:00:00Z'", value=value)
    return moment


def _mapping(value: Any, where: Mapping[str, Any], name: str, example: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail("expected an object", where, name, f"write e.g. {example}", value=value)
    return value


def _check_keys(record: Mapping[str, Any], allowed: tuple[str, ...], where: Mapping[str, Any], prefix: str) -> None:
    for key in record:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            fix = f"did you mean {close[0]!r}?" if close else f"use only {', '.join(allowed)}"
            raise _fail("unknown field", where, f"{prefix}{key}", fix)


def _usage(value: Any, where: Mapping[str, Any]) -> UsageCondition | None:
    if value is None:
        return None
    data = _mapping(value, where, "usage", '{"feature": "night-vision", "within_days": 30}')
    _check_keys(data, _USAGE_FIELDS, where, "usage.")
    if "feature" not in data:
        raise _fail("missing feature", where, "usage.feature", "name the feature, e.g. \"night-vision\"")
    try:
        return UsageCondition(feature=data["feature"], product=data.get("product") or (),
                              within_days=data.get("within_days"), min_events=data.get("min_events", 1))
    except KnownIssueError as exc:
        raise _fail(exc.problem, where, exc.field, exc.fix, value=exc.value) from None


def _history(value: Any, where: Mapping[str, Any]) -> tuple[StatusChange, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail("expected a list of status changes", where, "history",
                    "write [{\"status\": \"investigating\", \"at\": \"2026-10-01T09:00:00Z\"}, ...]", value=value)
    steps = []
    for n, item in enumerate(value):
        at = f"history[{n}]"
        data = _mapping(item, where, at, '{"status": "workaround", "at": "2026-10-01T09:00:00Z"}')
        _check_keys(data, _HISTORY_FIELDS, where, at + ".")
        status = data.get("status")
        if status not in ISSUE_STATUSES:
            raise _fail("unknown status", where, f"{at}.status", f"use one of {', '.join(ISSUE_STATUSES)}",
                        value=status)
        note = data.get("note") or ""
        if not isinstance(note, str):
            raise _fail("expected a string", where, f"{at}.note", "write the note as text", value=note)
        steps.append(StatusChange(status, _moment(data.get("at"), where, f"{at}.at"),
                                  _date(data.get("eta"), where, f"{at}.eta"), note))
    return tuple(steps)


def known_issue_from_record(record: Any, *, source: str | None = None, line: int | None = None) -> KnownIssue:
    """Build a validated `KnownIssue` from a mapping (fields as in the module docstring)."""
    where = {"source": source, "line": line}
    if not isinstance(record, Mapping):
        raise _fail("expected an object per known issue", where, None, "write one {...} object per issue",
                    value=record)
    _check_keys(record, FIELDS, where, "")
    issue_id = record.get("id")
    if not isinstance(issue_id, str) or not issue_id.strip():
        raise _fail("missing known-issue id", where, "id", "give every known issue a non-empty string 'id'",
                    **({"value": issue_id} if issue_id is not None else {}))
    texts = {}
    for name in ("title", "summary", "workaround_article", "fix_article", "impact", "status"):
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise _fail("expected a string", where, name, f"write {name!r} as text", value=value)
        texts[name] = value
    if texts["impact"] is None:
        raise _fail("missing impact", where, "impact", f"say how bad it is: one of {', '.join(IMPACTS)}")
    lists = {name: _names(record.get(name), where, name) for name in _SCOPE_LISTS}
    versions = _mapping(record.get("versions"), where, "versions", '{"cam-c10": ">=4.2,<4.3.2"}')
    for product, spec in versions.items():
        try:
            parse_range(spec, source=source, line=line, field=f"versions.{product}")
        except VersionSpecError as exc:
            raise _fail(exc.problem, where, exc.field, exc.fix, value=exc.value) from None
        if product not in lists["products"]:
            raise _fail("a version range names a product the issue does not list", where, f"versions.{product}",
                        f"add {product!r} to 'products' or remove the range")
    fixed_in = _mapping(record.get("fixed_in"), where, "fixed_in", '{"cam-c10": "4.3.2"}')
    history = _history(record.get("history"), where)
    status = texts["status"] or (history[-1].status if history else "investigating")
    try:
        return KnownIssue(
            id=issue_id, title=texts["title"] or "", summary=texts["summary"] or "",
            scope=Scope(versions=dict(versions), **lists), impact=texts["impact"], status=status,
            usage=_usage(record.get("usage"), where), eta=_date(record.get("eta"), where, "eta"),
            workaround_article=texts["workaround_article"], fix_article=texts["fix_article"],
            fixed_in=dict(fixed_in), history=history)
    except KnownIssueError as exc:
        if exc.source is not None:
            raise
        raise _fail(exc.problem, where, exc.field, exc.fix, **({"value": exc.value} if exc.value else {})) from None


def _unique(issues: Iterable[tuple[KnownIssue, int | None]], source: str) -> tuple[KnownIssue, ...]:
    seen: dict[str, int | None] = {}
    out = []
    for issue, line in issues:
        if issue.id in seen:
            raise KnownIssueError("duplicate known-issue id", source=source, line=line, field="id", value=issue.id,
                                  fix=f"ids must be unique; the first one is on line {seen[issue.id]}")
        seen[issue.id] = line
        out.append(issue)
    return tuple(out)


def known_issues_from_records(records: Iterable[Any], *, source: str = "records") -> tuple[KnownIssue, ...]:
    """Validate many records (all or none); "line" in errors is the 1-based position."""
    return _unique(((known_issue_from_record(r, source=source, line=n), n) for n, r in enumerate(records, 1)),
                   source)


def _yaml_items(path: Path) -> list[tuple[int, Any]]:
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml ships with the proactive extra
        from ..errors import MissingDependencyError

        raise MissingDependencyError("pyyaml", "proactive") from None
    source = str(path)
    try:
        loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
        try:
            root = loader.get_single_node()
            if root is None:
                return []
            nodes = root.value if isinstance(root, yaml.SequenceNode) else None
            if isinstance(root, yaml.MappingNode):
                nodes = next((v.value for k, v in root.value if k.value == "issues"
                              and isinstance(v, yaml.SequenceNode)), None)
            if nodes is None:
                raise KnownIssueError("expected a list of known issues (or a mapping with an 'issues' list)",
                                      source=source, line=root.start_mark.line + 1,
                                      fix="write '- id: ...' entries, one per issue")
            return [(node.start_mark.line + 1, loader.construct_object(node, deep=True)) for node in nodes]
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise KnownIssueError(f"malformed YAML ({getattr(exc, 'problem', None) or exc})", source=source,
                              line=None if mark is None else mark.line + 1, fix="check the indentation and quoting") \
            from None
    except UnicodeDecodeError as exc:
        raise KnownIssueError(f"not valid UTF-8 ({exc.reason})", source=source, fix="re-save the file as UTF-8") \
            from None


def read_known_issues(path: str | os.PathLike[str]) -> tuple[KnownIssue, ...]:
    """Read known issues from a ``.jsonl`` file (one per line) or a ``.yaml``/``.yml`` file (a list)."""
    target, source = Path(path), str(path)
    suffix = target.suffix.lower()
    if suffix not in (".jsonl", ".yaml", ".yml"):
        raise KnownIssueError("unknown file type", source=source, value=target.suffix,
                              fix="use a .jsonl file (one issue per line) or a .yaml file (a list of issues)")
    if not target.is_file():
        raise KnownIssueError("file not found", source=source, fix="check the path")
    if suffix == ".jsonl":
        from .._io import iter_jsonl

        items = list(iter_jsonl(target, error=KnownIssueError))
    else:
        items = _yaml_items(target)
    return _unique(((known_issue_from_record(obj, source=source, line=n), n) for n, obj in items), source)
