"""Retrieval runs: the `Run` type, trec_eval's ranking order, TREC run files, ranx and pandas conversions.

A TREC run file holds one retrieved document per line::

    qid Q0 docid rank score tag

trec_eval ignores the ``Q0``, ``rank`` and ``tag`` fields: it ranks each query's documents by score. kbrank
does the same, so a file's ranks never change a metric; `trec_order` gives the exact order.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from .._io import atomic_open, iter_lines
from ..errors import InputError, ParameterError
from ._common import add_once, check_field_count, check_writable_id, require, require_columns, split_fields
from ._nested import NestedMapping

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import ranx

__all__ = ["Rankings", "Run", "as_rankings", "read_trec_run", "trec_order", "write_trec_run"]

#: query id -> doc ids best first (each once), or a `Run` (query id -> doc id -> score, read in `trec_order`).
Rankings = Mapping[str, Union[Iterable[str], Mapping[str, float]]]
#: Rankings longer than this cannot be stored by `Run.from_rankings` (float32 holds integers exactly up to 2**24).
MAX_RANKING = 2**24


class Run(NestedMapping[float]):
    """An immutable retrieval run: ``query_id -> doc_id -> score`` (a float; higher ranks first).

    ``name`` labels the run in reports and comparisons. Two runs are equal when their scores are, whatever
    their names.

    >>> run = Run({"q1": {"d1": 0.5, "d2": 0.9}}, name="bm25")
    >>> trec_order(run["q1"])
    ['d2', 'd1']
    """

    __slots__ = ("_name",)
    _what = "run"

    def __init__(self, data: Mapping[str, Mapping[str, Any]], *, name: str | None = None) -> None:
        super().__init__(data)
        if name is None and isinstance(data, Run):
            name = data.name
        if name is not None and not isinstance(name, str):
            raise ParameterError("name", "a string or None", name)
        self._name = name

    @property
    def name(self) -> str | None:
        """The run's label in reports (for example the system's name), or None."""
        return self._name

    @staticmethod
    def _coerce(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ParameterError(where, "a real-valued score", value)
        score = float(value)
        if math.isnan(score):
            raise ParameterError(
                where, "a score that is not NaN", value, hint="drop or re-score that document"
            )
        return score

    def __repr__(self) -> str:
        return f"Run(name={self.name!r}, queries={len(self)}, pairs={self.num_pairs})"

    def to_ranx(self) -> ranx.Run:
        """This run as a ``ranx.Run`` (needs ranx: ``pip install 'kbrank[eval]'``)."""
        ranx = require("ranx")
        return ranx.Run(self.to_dict(), name=self.name)

    @classmethod
    def from_rankings(cls, rankings: Rankings, *, name: str | None = None) -> Run:
        """A run whose `trec_order` is exactly the given order: ``query id -> doc ids``, best first, each once.

        The document at 0-based position ``i`` of an ``n``-long ranking scores ``n - i`` (``n, n-1, ..., 1``):
        integers that trec_eval's 32-bit float scores hold exactly, so no two documents tie and trec_eval's
        doc-id tie-break never re-sorts them. Use it when the order is what counts (kbrank breaks ties by row,
        trec_eval by doc id; NFCorpus, for one, has duplicate documents with equal scores). An empty ranking
        stays (the query is present and scores 0).

        >>> run = Run.from_rankings({"q1": ["d2", "d10", "d1"]})
        >>> dict(run["q1"]), trec_order(run["q1"])
        ({'d2': 3.0, 'd10': 2.0, 'd1': 1.0}, ['d2', 'd10', 'd1'])
        """
        data = {}
        for query_id, ranking in as_rankings(rankings, "rankings").items():
            if len(ranking) > MAX_RANKING:
                raise ParameterError(f"rankings[{query_id!r}]", f"at most {MAX_RANKING:,} documents",
                                     f"{len(ranking):,} documents", hint="cut the ranking to its top k first")
            data[query_id] = {doc_id: float(len(ranking) - i) for i, doc_id in enumerate(ranking)}
        return cls(data, name=name)

    @classmethod
    def from_ranx(cls, run: ranx.Run) -> Run:
        """Copy a ``ranx.Run``, keeping its name."""
        return cls(run.to_dict(), name=run.name)

    def to_dataframe(self) -> pandas.DataFrame:
        """One row per retrieved document, columns ``q_id``, ``doc_id``, ``score`` (needs pandas)."""
        pandas = require("pandas")
        rows = [(q, d, s) for q, docs in self.items() for d, s in docs.items()]
        frame = pandas.DataFrame(rows, columns=["q_id", "doc_id", "score"])
        return frame.astype({"q_id": str, "doc_id": str, "score": "float64"})

    @classmethod
    def from_dataframe(cls, frame: pandas.DataFrame, *, name: str | None = None) -> Run:
        """Build from a DataFrame with columns ``q_id``, ``doc_id``, ``score``; no pair twice."""
        columns = require_columns(frame, ("q_id", "doc_id", "score"), "Run.from_dataframe")
        data: dict[str, dict[str, Any]] = {}
        for row, (query_id, doc_id, score) in enumerate(zip(*columns)):
            docs = data.setdefault(query_id, {})
            if doc_id in docs:
                raise InputError(
                    f"document retrieved twice for query {query_id!r}",
                    source=f"DataFrame row {row}",
                    field="doc_id",
                    value=doc_id,
                    fix="keep one row per (q_id, doc_id) pair",
                )
            docs[doc_id] = score
        return cls(data, name=name)


def as_ranking(value: Any, where: str) -> list[str]:
    """One query's doc ids best first: a sequence of distinct ids as given, or a `Run`'s inner mapping in
    `trec_order`; ``where`` names the argument in errors."""
    if isinstance(value, Mapping):
        return trec_order(value)
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ParameterError(where, "a sequence of doc ids, best first (or a Run's doc id -> score mapping)",
                             type(value).__name__, hint="wrap a single id in a list: [doc_id]")
    ranking = list(value)
    seen: set[str] = set()
    for doc_id in ranking:
        if not isinstance(doc_id, str) or not doc_id:
            raise ParameterError(where, "doc ids as non-empty strings", doc_id, hint="convert ids with str() first")
        if doc_id in seen:
            raise ParameterError(where, "each doc id once", doc_id, hint="a ranking lists every document once")
        seen.add(doc_id)
    return ranking


def as_rankings(rankings: Rankings, what: str = "rankings") -> dict[str, list[str]]:
    """Every query's ranking (see `as_ranking`), in the given query order; ``what`` names the argument."""
    if not isinstance(rankings, Mapping):
        raise ParameterError(what, "a mapping of query id -> doc ids best first (or a Run)", type(rankings).__name__)
    out = {}
    for query_id, ranking in rankings.items():
        if not isinstance(query_id, str) or not query_id:
            raise ParameterError(f"{what} query id", "a non-empty string", query_id, hint="convert ids with str() first")
        out[query_id] = as_ranking(ranking, f"{what}[{query_id!r}]")
    return out


def trec_order(scores: Mapping[str, float]) -> list[str]:
    """The doc ids of one query in trec_eval's ranking order.

    trec_eval stores each score as a C ``float`` (32 bits) and sorts by that score, highest first; equal
    scores are ordered by doc id in *descending* byte order (``strcmp``). Scores closer than float32 precision
    therefore tie (``1.0`` and ``1.0 + 1e-9`` do). kbrank replicates this so that its metrics equal
    trec_eval's; Python compares ``str`` by code point, which is the byte order of UTF-8.
    """
    if not scores:
        return []
    doc_ids = list(scores)
    with np.errstate(over="ignore"):  # a double beyond float32 range becomes +-inf, as the C cast does
        as_float32 = np.fromiter(scores.values(), dtype=np.float64, count=len(doc_ids)).astype(np.float32)
    keyed = sorted(zip(as_float32.tolist(), doc_ids), reverse=True)
    return [doc_id for _, doc_id in keyed]


def read_trec_run(path: str | os.PathLike[str], *, name: str | None = None) -> Run:
    """Read a TREC run file (``qid Q0 docid rank score tag`` per line).

    The run is named ``name``, else the tag when every line carries the same one, else the file's stem.
    Raises `InputError` naming the file, line and field for a line with the wrong number of fields, a rank
    that is not an integer, a score that is not a number (or is NaN), or a document listed twice for a query.
    """
    source = str(path)
    data: dict[str, dict[str, float]] = {}
    first_seen: dict[tuple[str, str], int] = {}
    tags: set[str] = set()
    for number, text in iter_lines(path):
        fields = split_fields(text)
        check_field_count(fields, "qid Q0 docid rank score tag", separated="whitespace", source=source, line=number,
                          text=text, fix="write one retrieved document per line as: qid Q0 docid rank score tag")
        query_id, _, doc_id, rank_text, score_text, tag = fields
        try:
            int(rank_text)
        except ValueError:
            raise InputError(
                "the rank is not an integer",
                source=source,
                line=number,
                field="rank",
                value=rank_text,
                fix="write ranks as integers 1, 2, 3, ... (check that the fields are in the order above)",
            ) from None
        score = _parse_score(score_text, source, number)
        add_once(data, first_seen, query_id, doc_id, score, source=source, line=number,
                 twice="document retrieved twice", fix="keep one line per (query, document) pair")
        tags.add(tag)
    if name is None:
        name = tags.pop() if len(tags) == 1 else os.path.splitext(os.path.basename(source))[0]
    return Run(data, name=name)


def _parse_score(text: str, source: str, line: int) -> float:
    try:
        score = float(text)
    except ValueError:
        score = math.nan
        problem = "the score is not a number"
    else:
        problem = "the score is NaN"
    if math.isnan(score):
        raise InputError(
            problem,
            source=source,
            line=line,
            field="score",
            value=text,
            fix="write a decimal score such as 12.5 (check that the fields are in the order above)",
        )
    return score


def write_trec_run(
    run: Mapping[str, Mapping[str, float]], path: str | os.PathLike[str], *, tag: str | None = None
) -> None:
    """Write a TREC run file atomically, each query's documents in `trec_order` with ranks 1, 2, 3, ...

    Scores are written with ``repr`` so that reading the file back gives the same floats. ``tag`` defaults to
    the run's name, else ``"kbrank"``.
    """
    run = Run(run)
    if tag is None:
        tag = run.name or "kbrank"
    check_writable_id("tag", tag, file_format="TREC")
    if not tag:
        raise ParameterError("tag", "a non-empty string", tag)
    with atomic_open(path) as handle:
        for query_id, docs in run.items():
            check_writable_id("query id", query_id, file_format="TREC")
            for rank, doc_id in enumerate(trec_order(docs), start=1):
                check_writable_id("doc id", doc_id, file_format="TREC")
                handle.write(f"{query_id} Q0 {doc_id} {rank} {docs[doc_id]!r} {tag}\n")
