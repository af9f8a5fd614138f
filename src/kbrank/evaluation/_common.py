"""Helpers shared by the readers and writers: lazy imports, numbered lines, field counts, duplicates, id checks."""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Any, TypeVar

from ..errors import InputError, MissingDependencyError, ParameterError

__all__ = ["add_once", "check_field_count", "check_writable_id", "require", "require_columns", "split_fields"]

V = TypeVar("V")

# The pip package that provides each optional module, and the kbrank extra that installs it.
_PACKAGES = {"pandas": ("pandas", "eval"), "ranx": ("ranx", "eval"), "scipy.stats": ("scipy", "eval")}


def require(module: str) -> ModuleType:
    """Import an optional dependency when first needed; a missing one names the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package, extra = _PACKAGES.get(module, (module, "eval"))
        raise MissingDependencyError(package, extra) from None


def require_columns(frame: Any, names: tuple[str, ...], caller: str) -> list[list[Any]]:
    """The named columns of a DataFrame as lists, or a `ParameterError` that lists the missing ones."""
    present = [str(name) for name in getattr(frame, "columns", ())]
    missing = [name for name in names if name not in present]
    if missing:
        raise ParameterError(
            f"{caller}(frame)",
            f"a DataFrame with columns {list(names)}",
            f"columns {present}",
            hint=f"missing: {missing}; rename them with frame.rename(columns=...)",
        )
    return [frame[name].tolist() for name in names]


# Characters that end a field in each text format, and how to name them in an error message.
_SEPARATORS = {"TREC": (" \t\n\r\x0b\x0c", "whitespace"), "BEIR tsv": ("\t\n\r", "tabs and line breaks")}

_ASCII_WHITESPACE = re.compile(r"[ \t\x0b\x0c]+")


def split_fields(text: str) -> list[str]:
    """Split a TREC line on runs of ASCII whitespace, as trec_eval does (other Unicode spaces stay in ids)."""
    return _ASCII_WHITESPACE.split(text.strip(" \t\x0b\x0c"))


def check_field_count(fields: list[str], layout: str, *, separated: str, source: str, line: int, text: str,
                      fix: str) -> None:
    """Refuse a line that does not have one field per word of ``layout`` (such as ``'qid 0 docid grade'``)."""
    expected = len(layout.split())
    if len(fields) != expected:
        raise InputError(f"expected {expected} {separated}-separated fields '{layout}', found {len(fields)}",
                         source=source, line=line, value=text, fix=fix)


def add_once(data: dict[str, dict[str, V]], first_seen: dict[tuple[str, str], int], query_id: str, doc_id: str,
             value: V, *, source: str, line: int, twice: str, fix: str) -> None:
    """Record ``data[query_id][doc_id] = value``, refusing a pair seen before: "``twice`` for query 'q' (first on
    line n)"."""
    docs = data.setdefault(query_id, {})
    if doc_id in docs:
        raise InputError(f"{twice} for query {query_id!r} (first on line {first_seen[query_id, doc_id]})",
                         source=source, line=line, field="docid", value=doc_id, fix=fix)
    docs[doc_id] = value
    first_seen[query_id, doc_id] = line


def check_writable_id(kind: str, value: str, *, file_format: str) -> None:
    """Refuse an id that the target format cannot hold (whitespace in TREC files, tabs in BEIR tsv)."""
    forbidden, described = _SEPARATORS[file_format]
    if any(char in forbidden for char in value):
        raise ParameterError(
            kind,
            f"free of {described} to be written as {file_format}",
            value,
            hint="rename the id, or write another format",
        )
