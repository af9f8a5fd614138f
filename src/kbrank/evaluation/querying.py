"""`run_queries`: search every query with a searcher and keep the rankings as a `Run`, in the searcher's order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._params import check_int
from ..errors import ParameterError
from .runs import Run

__all__ = ["run_queries"]


def run_queries(searcher: Any, queries: Mapping[str, str], k: int, *, views: Mapping[str, Any] | None = None,
                mode: str | None = None, name: str | None = None) -> Run:
    """``searcher.search(text, k, mode=mode, profile=view)`` for each query, as a `Run` (`Run.from_rankings`).

    ``queries`` maps query id -> text (for example ``load_beir(folder).queries``). ``views``, when given, maps
    *every* query id to the profile view that personalizes it (a `ProfileView` for purpose personalization, or
    None for an unpersonalized search), so one customer's view serves each of their queries:
    ``views={q.id: view_of[q.customer_id] for q in queries}``. ``mode`` overrides the searcher's mode. The run
    keeps each ranking's order exactly, ties included (kbrank breaks ties by row, trec_eval by doc id), and
    holds every query, an empty ranking for one that found nothing.

    >>> from kbrank import Article, Corpus
    >>> from kbrank.searcher import Searcher
    >>> searcher = Searcher(mode="bm25").build(Corpus([Article(id="a1", title="reset the router"),
    ...                                                Article(id="a2", title="pair the camera")]))
    >>> run = run_queries(searcher, {"q1": "router reset"}, 10)
    >>> dict(run["q1"])
    {'a1': 1.0}
    """
    if not isinstance(queries, Mapping):
        raise ParameterError("queries", "a mapping of query id -> query text", type(queries).__name__)
    check_int("k", k, 1)
    for query_id, text in queries.items():
        if not isinstance(text, str):
            raise ParameterError(f"queries[{query_id!r}]", "the query text (a string)", type(text).__name__)
    if views is not None:
        if not isinstance(views, Mapping):
            raise ParameterError("views", "a mapping of query id -> ProfileView (or None)", type(views).__name__)
        missing = [query_id for query_id in queries if query_id not in views]
        if missing:
            raise ParameterError("views", "a view (or None) for every query id", f"none for {missing[:3]}",
                                 hint=f"{len(missing)} of {len(queries)} queries have no view; key views by "
                                      "query id, e.g. {q: view_of[customer_of[q]] for q in queries}")
    rankings = {}
    for query_id, text in queries.items():
        profile = None if views is None else views[query_id]
        rankings[query_id] = searcher.search(text, k, mode=mode, profile=profile).ids
    return Run.from_rankings(rankings, name=name)
