"""Ranking one `DenseState` for a query: the article mask becomes a mask over the stored vectors (a faiss
selector, applied before the top-k), passages are ranked by cosine (`dense_faiss.ranked_passages`), and an
article scores as its best passage. Ties are broken by row (passage row for passages)."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..candidates import Candidates, check_mask
from . import dense_faiss
from .dense_state import DenseState
from .passages import PassageHits

__all__ = ["top_articles", "top_passages"]

#: Encodes (or checks) the query on demand: nothing is encoded when the mask allows no article.
QueryMatrix = Callable[[], np.ndarray]


def _first_of_each(values: np.ndarray) -> np.ndarray:
    """Positions of the first occurrence of each distinct value (a dict beats `np.unique` on short lists)."""
    if values.shape[0] > 512:
        return np.sort(np.unique(values, return_index=True)[1])
    first: dict[int, int] = {}
    for position, value in enumerate(values.tolist()):
        first.setdefault(value, position)
    return np.fromiter(first.values(), dtype=np.int64, count=len(first))


def _allowed(state: DenseState, mask: np.ndarray | None) -> tuple[np.ndarray | None, int, int, int]:
    """(vector mask or None, allowed articles, allowed passages, allowed vectors)."""
    n = len(state.corpus)
    if mask is None:
        return None, n, len(state.passages), state.n_vectors
    mask = check_mask(mask, n)
    passages = mask[state.passages.article_rows]
    n_passages = int(passages.sum())
    if n_passages == passages.shape[0]:
        return None, n, n_passages, state.n_vectors  # nothing excluded: no selector needed
    if not state.shared:
        return passages, int(mask.sum()), n_passages, n_passages
    vectors = np.zeros(state.n_vectors, bool)
    vectors[state.vector_rows[passages]] = True
    return vectors, int(mask.sum()), n_passages, int(vectors.sum())


def _ranked(state: DenseState, query: QueryMatrix, mask: np.ndarray | None, depth: int,
            satisfied: dense_faiss.Satisfied, *, index_type: str,
            ef_search: int) -> tuple[np.ndarray, np.ndarray, float | None, int, int]:
    """Ranked allowed passages (see `dense_faiss.ranked_passages`), plus the allowed article and passage
    counts."""
    allowed, n_articles, n_passages, n_vectors = _allowed(state, mask)
    expand = None
    if state.shared:
        keep = None if mask is None else np.asarray(mask)[state.passages.article_rows]

        def expand(scores: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            scores, ids = state.expand(scores, vectors)
            return (scores, ids) if keep is None else (scores[keep[ids]], ids[keep[ids]])

    if min(n_articles, n_passages) == 0:
        return np.empty(0), np.empty(0, np.int64), None, n_articles, n_passages
    scores, ids, cutoff = dense_faiss.ranked_passages(state.faiss_index, index_type, query(), allowed, n_vectors,
                                                      depth=depth, ef_search=ef_search, satisfied=satisfied,
                                                      expand=expand)
    return scores, ids, cutoff, n_articles, n_passages


def _first_depth(state: DenseState, k: int) -> int:
    """Passages to ask for first, to find ``k`` articles: as many per article as the corpus has on average
    (at most 4), plus 16; a search that finds too few asks again, 4 times deeper. The depth bounds an HNSW
    search's breadth (``efSearch``), so asking no deeper than needed matters there: at 1M one-passage
    articles, depth 2,016 for k = 500 took 9.9 ms p50 and depth 516 3.2 ms (40 demo queries, HNSW)."""
    per_article = len(state.passages) / max(len(state.corpus), 1)
    return min(4 * k, math.ceil(k * max(per_article, 1.0))) + 16


def top_articles(state: DenseState, query: QueryMatrix, k: int, mask: np.ndarray | None, *, index_type: str,
                 ef_search: int) -> Candidates:
    """The best ``k`` (>= 1) articles, each scored by its best passage; ``k`` rows whenever ``k`` are allowed."""
    article_of = state.passages.article_rows
    one_each = state.one_passage_each  # then each passage hit is another article's

    def satisfied(scores: np.ndarray, ids: np.ndarray, cutoff: float | None) -> bool:
        trusted = ids[scores > cutoff]
        return (trusted.size if one_each else _first_of_each(article_of[trusted]).size) >= k

    scores, ids, cutoff, _, _ = _ranked(state, query, mask, _first_depth(state, k), satisfied,
                                        index_type=index_type, ef_search=ef_search)
    order = np.lexsort((ids, -scores))
    rows, values = article_of[ids[order]], scores[order]
    if not one_each:
        best = _first_of_each(rows)  # the first occurrence is each article's best passage
        rows, values = rows[best], values[best]
    if cutoff is not None:
        trusted = values > cutoff
        rows, values = rows[trusted], values[trusted]
    if one_each:  # rows are the passage ids, so the list is already by score, then row
        return Candidates(rows=rows[:k], scores=values[:k])
    pick = np.lexsort((rows, -values))[:k]
    return Candidates(rows=rows[pick], scores=values[pick])


def top_passages(state: DenseState, query: QueryMatrix, k: int, mask: np.ndarray | None, *, index_type: str,
                 ef_search: int) -> PassageHits:
    """The best ``k`` (>= 1) passages, several possibly of one article."""

    def satisfied(scores: np.ndarray, ids: np.ndarray, cutoff: float | None) -> bool:
        return int(np.count_nonzero(scores > cutoff)) >= k

    scores, ids, cutoff, _, _ = _ranked(state, query, mask, k + 16, satisfied, index_type=index_type,
                                        ef_search=ef_search)
    if cutoff is not None:
        trusted = scores > cutoff
        scores, ids = scores[trusted], ids[trusted]
    pick = np.lexsort((ids, -scores))[:k]
    ids, scores = ids[pick], scores[pick]
    p = state.passages
    return PassageHits(passage_rows=ids, article_rows=p.article_rows[ids], scores=scores,
                       starts=p.starts[ids], ends=p.ends[ids])
