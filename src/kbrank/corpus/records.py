"""Convert between plain records (dicts from JSON, DataFrames, BEIR) and `Article`, validating every field.

Every problem is reported as a `CorpusError` (or `VersionSpecError`) that names the source, the line (or
row), the field, the bad value and the fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .._dates import parse_date
from .._io import unencodable_field
from ..applicability import parse_range
from ..errors import CorpusError, did_you_mean
from .article import STATUSES, Article

__all__ = ["article_from_record", "article_to_record", "FIELDS"]

_LIST_FIELDS = ("products", "platforms", "regions", "locales", "audience", "tags")
_TEXT_FIELDS = ("title", "body", "url", "kind", "status")
_DATE_FIELDS = ("updated_at", "valid_until")
#: Every field an article record may carry. ``_id`` and ``text`` are BEIR's names for ``id`` and ``body``.
FIELDS = ("id", *_TEXT_FIELDS, *_LIST_FIELDS, "versions", *_DATE_FIELDS, "metadata")
_ALIASES = {"_id": "id", "text": "body"}


def _string_list(value: Any, *, where: dict[str, Any], name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v)
    raise CorpusError(
        "expected a string or a list of strings",
        **where,
        field=name,
        value=value,
        fix=f"write {name!r} as a JSON list of strings, for example [\"a\", \"b\"]",
    )


def _date(value: Any, *, where: dict[str, Any], name: str) -> dt.date | None:
    try:
        return parse_date(value)
    except ValueError:
        raise CorpusError(
            "expected an ISO date", **where, field=name, value=value, fix="write dates as 'YYYY-MM-DD'"
        ) from None


def article_from_record(record: Any, *, source: str | None = None, line: int | None = None,
                        parsed_text: bool = False) -> Article:
    """Build a validated `Article` from a mapping. Unknown keys go to ``metadata`` unless they look like a typo.

    ``parsed_text=True`` says the record was parsed from a line of UTF-8 JSON by `kbrank._io.json_line`, which
    already refuses lone UTF-16 surrogates, so the walk over every string that looks for them is skipped.
    """
    where: dict[str, Any] = {"source": source, "line": line}
    if not isinstance(record, Mapping):
        raise CorpusError(
            "expected a JSON object per article", **where, value=record, fix="write one {...} object per line"
        )
    bad = None if parsed_text else unencodable_field(dict(record))
    if bad is not None:
        raise CorpusError("the text holds a lone UTF-16 surrogate (such as \\ud800), which UTF-8 cannot store",
                          **where, field=bad, fix="write the character itself, or a valid surrogate pair")
    data: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in record.items():
        name = _ALIASES.get(key, key)
        if name in FIELDS:
            data[name] = value
            continue
        close = did_you_mean(key, FIELDS, cutoff=0.8)
        if close:
            raise CorpusError(
                f"unknown field; did you mean {close!r}?",
                **where,
                field=str(key),
                fix=f"rename it to {close!r}, or put custom data under 'metadata'",
            )
        extra[str(key)] = value

    article_id = data.get("id")
    if isinstance(article_id, int) and not isinstance(article_id, bool):
        article_id = str(article_id)
    if article_id is None or (isinstance(article_id, str) and not article_id.strip()):
        raise CorpusError("missing article id", **where, field="id", fix="give every article a non-empty 'id'")
    if not isinstance(article_id, str):
        raise CorpusError("the id must be a string", **where, field="id", value=article_id, fix="quote the id")

    fields: dict[str, Any] = {"id": article_id}
    for name in _TEXT_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise CorpusError(
                "expected a string", **where, field=name, value=value, fix=f"write {name!r} as a JSON string"
            )
        fields[name] = value
    if fields.get("status", "active") not in STATUSES:
        raise CorpusError(
            "unknown status",
            **where,
            field="status",
            value=fields["status"],
            fix=f"use one of {', '.join(STATUSES)}",
        )
    if "kind" in fields and not fields["kind"].strip():
        raise CorpusError("the kind is empty", **where, field="kind", fix="omit it or name it, e.g. 'how-to'")
    for name in _LIST_FIELDS:
        fields[name] = _string_list(data.get(name), where=where, name=name)
    for name in _DATE_FIELDS:
        fields[name] = _date(data.get(name), where=where, name=name)

    versions = data.get("versions") or {}
    if not isinstance(versions, Mapping):
        raise CorpusError(
            "expected an object mapping product to version range",
            **where,
            field="versions",
            value=versions,
            fix='write {"router-x200": ">=2.0,<2.4"}',
        )
    for product, spec in versions.items():
        parse_range(spec, source=source, line=line, field=f"versions.{product}")
        if fields["products"] and product not in fields["products"]:
            raise CorpusError(
                "a version range names a product the article does not list",
                **where,
                field=f"versions.{product}",
                fix=f"add {product!r} to 'products' or remove the range",
            )
    fields["versions"] = dict(versions)

    metadata = data.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise CorpusError("expected an object", **where, field="metadata", value=metadata, fix="use a JSON object")
    fields["metadata"] = {**dict(metadata), **extra}
    return Article(**fields)


def article_to_record(article: Article) -> dict[str, Any]:
    """The JSON-ready record of an article; `article_from_record` reads it back unchanged."""
    record: dict[str, Any] = {"id": article.id, "title": article.title, "body": article.body}
    if article.url:
        record["url"] = article.url
    for name in _LIST_FIELDS:
        value = getattr(article, name)
        if value:
            record[name] = list(value)
    if article.versions:
        record["versions"] = dict(article.versions)
    record["kind"] = article.kind
    record["status"] = article.status
    for name in _DATE_FIELDS:
        value = getattr(article, name)
        if value is not None:
            record[name] = value.isoformat()
    if article.metadata:
        record["metadata"] = dict(article.metadata)
    return record
