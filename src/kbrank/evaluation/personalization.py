"""What personalization costs and what it saves, measured against an unpersonalized baseline.

- `harm_at_k`: the share of queries where personalization cost a relevant result its top-k place;
- `inapplicable_at_k`: the share of top-k slots given to articles that cannot apply to the customer, by an
  applicability oracle (for example the ground truth of a generated data set).

Both read rankings: ``query id -> doc ids best first`` (as `Run.from_rankings` takes them), or a `Run` (read
in `trec_order`). Neither knows anything about profiles: who the customer is lives in the oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Union

from .._params import check_int
from ..errors import ParameterError
from .runs import Rankings, as_rankings

__all__ = ["Oracle", "harm_at_k", "inapplicable_at_k"]

#: Which articles cannot apply to a query's customer: ``oracle(query_id, doc_id) -> True`` when the article
#: cannot apply, or ``{query_id: doc ids that cannot apply}`` (every query listed; an empty set when all apply).
Oracle = Union[Callable[[str, str], bool], Mapping[str, Collection[str]]]


def _check_k(k: int) -> None:
    check_int("k", k, 1)


def _query_ids(queries: Iterable[str] | None, default: Iterable[str],
               *required: tuple[str, Mapping[str, list[str]]]) -> list[str]:
    if isinstance(queries, str):
        raise ParameterError("queries", "a collection of query ids", queries, hint="wrap one id in a list")
    ids = list(dict.fromkeys(default if queries is None else queries))
    if not ids:
        raise ParameterError("queries", "at least one query", "none", hint="a share over no queries is undefined")
    for what, rankings in required:
        missing = [query_id for query_id in ids if query_id not in rankings]
        if missing:
            raise ParameterError(what, "a ranking for every query measured", f"none for {missing[:3]}",
                                 hint=f"{len(missing)} of {len(ids)} queries are missing; rank every query "
                                      "(an empty ranking for one that found nothing)")
    return ids


def harm_at_k(qrels: Mapping[str, Mapping[str, int]], baseline: Rankings, personalized: Rankings, k: int = 10, *,
              queries: Iterable[str] | None = None, relevance_level: int = 1) -> float:
    """The share of queries where personalization cost a relevant result its top-k place.

    A query is *harmed* when some article with grade ``>= relevance_level`` in ``baseline``'s top ``k`` (the
    unpersonalized ranking) is not in ``personalized``'s top ``k``: it was hidden, or pushed below rank
    ``k``. Moving a relevant article within the top ``k``, or bringing new ones in, is no harm. ``queries``
    (default: every query of ``baseline``) are the queries counted; each needs a ranking in both. A query
    without judgments in ``qrels`` cannot be harmed.

    >>> qrels = {"q1": {"a": 1}, "q2": {"c": 2}}
    >>> harm_at_k(qrels, {"q1": ["a", "b"], "q2": ["c"]}, {"q1": ["b", "x"], "q2": ["d", "c"]}, k=2)
    0.5
    """
    _check_k(k)
    if isinstance(relevance_level, bool) or not isinstance(relevance_level, int) or relevance_level < 1:
        raise ParameterError("relevance_level", "an integer of at least 1", relevance_level)
    plain = as_rankings(baseline, "baseline")
    shown = as_rankings(personalized, "personalized")
    ids = _query_ids(queries, plain, ("baseline", plain), ("personalized", shown))
    harmed = 0
    for query_id in ids:
        grades = qrels.get(query_id, {})
        kept = set(shown[query_id][:k])
        harmed += any(grades.get(doc_id, 0) >= relevance_level and doc_id not in kept
                      for doc_id in plain[query_id][:k])
    return harmed / len(ids)


def inapplicable_at_k(rankings: Rankings, inapplicable: Oracle, k: int = 3, *,
                      queries: Iterable[str] | None = None) -> float:
    """The share of top-``k`` slots, pooled over the queries, that hold an article which cannot apply.

    ``inapplicable`` is the oracle (see `Oracle`): a callable ``(query_id, doc_id) -> bool``, or a mapping of
    each query id to the doc ids that cannot apply to its customer. A slot is a position actually filled, so a
    query with 2 results adds 2 slots at ``k=3``; pooled over ``queries`` (default: every query of
    ``rankings``), it is 0.0 when no slot is filled. Any per-(query, article) flag works the same way, for
    example "not relevant" from qrels: ``lambda q, d: qrels[q].get(d, 0) == 0``.

    >>> inapplicable_at_k({"q1": ["a", "b", "c"], "q2": ["d"]}, {"q1": {"b"}, "q2": set()}, k=3)
    0.25
    """
    _check_k(k)
    ranked = as_rankings(rankings, "rankings")
    ids = _query_ids(queries, ranked, ("rankings", ranked))
    cannot_apply: Callable[[str, str], bool]
    if isinstance(inapplicable, Mapping):
        missing = [query_id for query_id in ids if query_id not in inapplicable]
        if missing:
            raise ParameterError("inapplicable", "a collection of inapplicable doc ids for every query measured",
                                 f"none for {missing[:3]}", hint="give an empty set for a query where every "
                                                                 "article applies, or pass a callable")
        excluded = inapplicable
        cannot_apply = lambda query_id, doc_id: doc_id in excluded[query_id]  # noqa: E731
    elif callable(inapplicable):
        cannot_apply = inapplicable
    else:
        raise ParameterError("inapplicable", "a callable (query_id, doc_id) -> bool or a mapping of query id -> "
                             "doc ids that cannot apply", type(inapplicable).__name__)
    slots = flagged = 0
    for query_id in ids:
        for doc_id in ranked[query_id][:k]:
            slots += 1
            flagged += bool(cannot_apply(query_id, doc_id))
    return flagged / slots if slots else 0.0
