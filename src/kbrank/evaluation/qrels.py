"""Relevance judgments: the `Qrels` type, TREC and BEIR files, ranx and pandas conversions.

A grade is an integer. Grades of ``relevance_level`` (1 by default) and above count as relevant for the binary
measures; nDCG uses the grade itself as the gain, and grades of 0 or below add nothing.

File formats::

    TREC qrels        qid 0 docid grade            (whitespace separated, the second field is ignored)
    BEIR qrels tsv    query-id<TAB>corpus-id<TAB>score   (this header first, then one judgment per line)
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._io import atomic_open, iter_lines
from ..errors import InputError, ParameterError
from ._common import add_once, check_field_count, check_writable_id, require, require_columns, split_fields
from ._nested import NestedMapping

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import ranx

__all__ = ["Qrels", "read_beir_qrels", "read_trec_qrels", "write_beir_qrels", "write_trec_qrels"]

BEIR_HEADER = ("query-id", "corpus-id", "score")


class Qrels(NestedMapping[int]):
    """Immutable relevance judgments: ``query_id -> doc_id -> grade`` (an int, possibly 0 or negative).

    >>> qrels = Qrels({"q1": {"d1": 2, "d2": 0}})
    >>> qrels["q1"]["d1"]
    2
    >>> len(qrels), qrels.num_pairs
    (1, 2)
    """

    __slots__ = ()
    _what = "qrels"

    @staticmethod
    def _coerce(value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ParameterError(where, "an integer grade", value, hint="round or map grades to integers")
        return int(value)

    def to_ranx(self) -> ranx.Qrels:
        """This judgment set as a ``ranx.Qrels`` (needs ranx: ``pip install 'kbrank[eval]'``)."""
        ranx = require("ranx")
        return ranx.Qrels(self.to_dict())

    @classmethod
    def from_ranx(cls, qrels: ranx.Qrels) -> Qrels:
        """Copy a ``ranx.Qrels``."""
        return cls(qrels.to_dict())

    def to_dataframe(self) -> pandas.DataFrame:
        """One row per judgment, columns ``q_id``, ``doc_id``, ``grade`` (needs pandas)."""
        pandas = require("pandas")
        rows = [(q, d, g) for q, docs in self.items() for d, g in docs.items()]
        frame = pandas.DataFrame(rows, columns=["q_id", "doc_id", "grade"])
        return frame.astype({"q_id": str, "doc_id": str, "grade": "int64"})

    @classmethod
    def from_dataframe(cls, frame: pandas.DataFrame) -> Qrels:
        """Build from a DataFrame with columns ``q_id``, ``doc_id``, ``grade``; no pair twice."""
        columns = require_columns(frame, ("q_id", "doc_id", "grade"), "Qrels.from_dataframe")
        data: dict[str, dict[str, Any]] = {}
        for row, (query_id, doc_id, grade) in enumerate(zip(*columns)):
            docs = data.setdefault(query_id, {})
            if doc_id in docs:
                raise InputError(
                    "duplicate judgment for this (q_id, doc_id) pair",
                    source=f"DataFrame row {row}",
                    field="doc_id",
                    value=doc_id,
                    fix="keep one row per pair",
                )
            docs[doc_id] = grade
        return cls(data)


def read_trec_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read a TREC qrels file: ``qid iteration docid grade`` per line.

    Raises `InputError` naming the file, line and field for a line with the wrong number of fields, a grade
    that is not an integer, or a judgment given twice.
    """
    source = str(path)
    data: dict[str, dict[str, int]] = {}
    first_seen: dict[tuple[str, str], int] = {}
    for number, text in iter_lines(path):
        fields = split_fields(text)
        check_field_count(fields, "qid 0 docid grade", separated="whitespace", source=source, line=number, text=text,
                          fix="write one judgment per line as: qid 0 docid grade")
        query_id, _, doc_id, grade_text = fields
        grade = _parse_grade(grade_text, source, number, "grade")
        _add(data, first_seen, query_id, doc_id, grade, source, number)
    return Qrels(data)


def read_beir_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read a BEIR qrels tsv: the header ``query-id<TAB>corpus-id<TAB>score``, then one judgment per line."""
    source = str(path)
    data: dict[str, dict[str, int]] = {}
    first_seen: dict[tuple[str, str], int] = {}
    header_seen = False
    for number, text in iter_lines(path):
        fields = text.split("\t")
        if not header_seen:
            if tuple(field.strip() for field in fields) != BEIR_HEADER:
                raise InputError(
                    "expected the BEIR header 'query-id<TAB>corpus-id<TAB>score'",
                    source=source,
                    line=number,
                    value=text,
                    fix="add that header as the first line (for a TREC qrels file use read_trec_qrels)",
                )
            header_seen = True
            continue
        check_field_count(fields, "query-id corpus-id score", separated="tab", source=source, line=number,
                          text=text, fix="separate the fields with single tabs")
        query_id, doc_id, grade_text = fields
        for name, value in (("query-id", query_id), ("corpus-id", doc_id)):
            if not value:
                raise InputError(
                    "empty id", source=source, line=number, field=name, value=text, fix="fill it in"
                )
        grade = _parse_grade(grade_text, source, number, "score")
        _add(data, first_seen, query_id, doc_id, grade, source, number)
    return Qrels(data)


def _parse_grade(text: str, source: str, line: int, field: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(
            "the grade is not an integer",
            source=source,
            line=line,
            field=field,
            value=text,
            fix="write relevance grades as integers such as 0, 1, 2",
        ) from None


def _add(data: dict[str, dict[str, int]], first_seen: dict[tuple[str, str], int], query_id: str, doc_id: str,
         grade: int, source: str, line: int) -> None:
    add_once(data, first_seen, query_id, doc_id, grade, source=source, line=line, twice="duplicate judgment",
             fix="keep one judgment per (query, document) pair")


def write_trec_qrels(qrels: Mapping[str, Mapping[str, int]], path: str | os.PathLike[str]) -> None:
    """Write ``qid 0 docid grade`` lines, atomically (the old file stays whole if anything fails)."""
    qrels = Qrels(qrels)
    with atomic_open(path) as handle:
        for query_id, docs in qrels.items():
            check_writable_id("query id", query_id, file_format="TREC")
            for doc_id, grade in docs.items():
                check_writable_id("doc id", doc_id, file_format="TREC")
                handle.write(f"{query_id} 0 {doc_id} {grade}\n")


def write_beir_qrels(qrels: Mapping[str, Mapping[str, int]], path: str | os.PathLike[str]) -> None:
    """Write a BEIR qrels tsv with its header, atomically."""
    qrels = Qrels(qrels)
    with atomic_open(path) as handle:
        handle.write("\t".join(BEIR_HEADER) + "\n")
        for query_id, docs in qrels.items():
            check_writable_id("query id", query_id, file_format="BEIR tsv")
            for doc_id, grade in docs.items():
                check_writable_id("doc id", doc_id, file_format="BEIR tsv")
                handle.write(f"{query_id}\t{doc_id}\t{grade}\n")
