"""Known issues from records, JSONL files and YAML files, validated with the corpus error style: every problem
is a `KnownIssueError` naming the file, line, field, value and fix. The record fields are those of
`kbrank.proactive.issues.FIELDS` (see its module docstring for an example)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from .._io import iter_jsonl
from ..applicability import Scope, parse_range
from ..errors import KnownIssueError, VersionSpecError, did_you_mean
from .issues import FIELDS, IMPACTS, ISSUE_STATUSES, SCOPE_LISTS, KnownIssue, StatusChange, UsageCondition, fail

__all__ = ["known_issue_from_record", "known_issues_from_records", "read_known_issues"]

_USAGE_FIELDS = ("feature", "product", "within_days", "min_events")
_HISTORY_FIELDS = ("status", "at", "eta", "note")


def _names(value: Any, where: Mapping[str, Any], name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise fail("expected a string or a list of strings", where, name,
                f"write {name!r} as a list of names, for example [\"a\", \"b\"]", value=value)


def _date(value: Any, where: Mapping[str, Any], name: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        pass
    raise fail("expected an ISO date", where, name, "write dates as 'YYYY-MM-DD'", value=value)


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
        raise fail("expected an ISO 8601 timestamp with a time zone", where, name,
                    "write e.g. '2026-10-01T09:00:00Z'", value=value)
    return moment


def _mapping(value: Any, where: Mapping[str, Any], name: str, example: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fail("expected an object", where, name, f"write e.g. {example}", value=value)
    return value


def _check_keys(record: Mapping[str, Any], allowed: tuple[str, ...], where: Mapping[str, Any], prefix: str) -> None:
    for key in record:
        if key not in allowed:
            close = did_you_mean(key, allowed, cutoff=0.6)
            fix = f"did you mean {close!r}?" if close else f"use only {', '.join(allowed)}"
            raise fail("unknown field", where, f"{prefix}{key}", fix)


def _usage(value: Any, where: Mapping[str, Any]) -> UsageCondition | None:
    if value is None:
        return None
    data = _mapping(value, where, "usage", '{"feature": "night-vision", "within_days": 30}')
    _check_keys(data, _USAGE_FIELDS, where, "usage.")
    if "feature" not in data:
        raise fail("missing feature", where, "usage.feature", "name the feature, e.g. \"night-vision\"")
    try:
        return UsageCondition(feature=data["feature"], product=data.get("product") or (),
                              within_days=data.get("within_days"), min_events=data.get("min_events", 1))
    except KnownIssueError as exc:
        raise fail(exc.problem, where, exc.field, exc.fix, value=exc.value) from None


def _history(value: Any, where: Mapping[str, Any]) -> tuple[StatusChange, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise fail("expected a list of status changes", where, "history",
                    "write [{\"status\": \"investigating\", \"at\": \"2026-10-01T09:00:00Z\"}, ...]", value=value)
    steps = []
    for n, item in enumerate(value):
        at = f"history[{n}]"
        data = _mapping(item, where, at, '{"status": "workaround", "at": "2026-10-01T09:00:00Z"}')
        _check_keys(data, _HISTORY_FIELDS, where, at + ".")
        status = data.get("status")
        if status not in ISSUE_STATUSES:
            raise fail("unknown status", where, f"{at}.status", f"use one of {', '.join(ISSUE_STATUSES)}",
                        value=status)
        note = data.get("note") or ""
        if not isinstance(note, str):
            raise fail("expected a string", where, f"{at}.note", "write the note as text", value=note)
        steps.append(StatusChange(status, _moment(data.get("at"), where, f"{at}.at"),
                                  _date(data.get("eta"), where, f"{at}.eta"), note))
    return tuple(steps)


def known_issue_from_record(record: Any, *, source: str | None = None, line: int | None = None) -> KnownIssue:
    """Build a validated `KnownIssue` from a mapping (fields as in the module docstring)."""
    where = {"source": source, "line": line}
    if not isinstance(record, Mapping):
        raise fail("expected an object per known issue", where, None, "write one {...} object per issue",
                    value=record)
    _check_keys(record, FIELDS, where, "")
    issue_id = record.get("id")
    if not isinstance(issue_id, str) or not issue_id.strip():
        raise fail("missing known-issue id", where, "id", "give every known issue a non-empty string 'id'",
                    **({"value": issue_id} if issue_id is not None else {}))
    texts = {}
    for name in ("title", "summary", "workaround_article", "fix_article", "impact", "status"):
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise fail("expected a string", where, name, f"write {name!r} as text", value=value)
        texts[name] = value
    if texts["impact"] is None:
        raise fail("missing impact", where, "impact", f"say how bad it is: one of {', '.join(IMPACTS)}")
    lists = {name: _names(record.get(name), where, name) for name in SCOPE_LISTS}
    versions = _mapping(record.get("versions"), where, "versions", '{"cam-c10": ">=4.2,<4.3.2"}')
    for product, spec in versions.items():
        try:
            parse_range(spec, source=source, line=line, field=f"versions.{product}")
        except VersionSpecError as exc:
            raise fail(exc.problem, where, exc.field, exc.fix, value=exc.value) from None
        if product not in lists["products"]:
            raise fail("a version range names a product the issue does not list", where, f"versions.{product}",
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
        raise fail(exc.problem, where, exc.field, exc.fix, **({"value": exc.value} if exc.value else {})) from None


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
        items = list(iter_jsonl(target, error=KnownIssueError, what="JSONL file of known issues"))
    else:
        items = _yaml_items(target)
    return _unique(((known_issue_from_record(obj, source=source, line=n), n) for n, obj in items), source)
