"""`HybridRetriever`: BM25 and dense retrieval of one query, fused into one ranking (plain composition).

A filter (``mask``) never reorders what it keeps. Rank fusion depends on each list's ranks, so masking the
lists before fusing would shift the ranks of the kept articles and reorder them among themselves. Instead,
both lists are retrieved unmasked, fused, and the mask is applied to the fused ranking: the kept articles stay
in exactly the order they have without the filter. Only when fewer than ``k`` kept articles are left does a
second, masked retrieval of the remaining articles top the list up (below everything else), so a filtered
top-k still has ``k`` rows whenever ``k`` allowed articles match.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .._params import check_int
from ..candidates import Candidates, SourceScores, check_k, check_mask
from ..errors import ParameterError
from .fusion import DEFAULT_FUSION, FUSION, fuse

__all__ = ["HybridRetriever", "DEFAULT_DEPTH"]

#: Candidates taken from each source before fusion: with RRF's constant 30 (`kbrank.retrieval.fusion`), the
#: setting chosen on the BEIR dev splits (SciFact train, NFCorpus dev; see benchmarks/effectiveness.py), where
#: 500 deep had the best smallest gain over the better single mode. Every default in kbrank is this one.
DEFAULT_DEPTH = 500

class HybridRetriever:
    """Retrieve ``depth`` candidates from each index, fuse them, keep the best ``k``.

    ``sparse`` is a `BM25Index`, ``dense`` a `DenseIndex` built on the same corpus (same rows). The result
    keeps each source's rank and score (``Candidates.sources["bm25"]``, ``["dense"]``) for explanation.
    Parameters are stored unchanged and checked when searching.
    """

    def __init__(self, sparse: Any, dense: Any, *, fusion: str = DEFAULT_FUSION, depth: int = DEFAULT_DEPTH,
                 fusion_params: Mapping[str, Any] | None = None) -> None:
        self.sparse = sparse
        self.dense = dense
        self.fusion = fusion
        self.depth = depth
        self.fusion_params = fusion_params

    def _params(self) -> dict[str, Any]:
        if self.fusion not in FUSION:
            raise ParameterError("fusion", f"one of {sorted(FUSION)}", self.fusion)
        check_int("depth", self.depth, 1)
        if self.sparse.n_docs != self.dense.n_docs:
            raise ParameterError("dense", f"an index over the same {self.sparse.n_docs} articles as the BM25 index",
                                 f"an index over {self.dense.n_docs} articles")
        return dict(self.fusion_params or {})  # each method's own defaults (RRF: constant 30)

    def runs(self, query: str, k: int, *, mask: np.ndarray | None = None,
             query_vector: np.ndarray | None = None) -> dict[str, Candidates]:
        """Each source's best ``max(depth, k)`` candidates (``mask`` applied inside each index); the query is
        encoded first."""
        self._params()
        depth = max(self.depth, check_k(k))  # checked before any encoding
        return self._runs(query, depth, mask, query_vector)[0]

    def _runs(self, query: str, depth: int, mask: np.ndarray | None,
              vector: np.ndarray | None) -> tuple[dict[str, Candidates], np.ndarray]:
        """Both runs and the query vector.

        The query is encoded first, with nothing beside it: a lone query's encode may use every core
        (`kbrank.index.encoders`), and it is most of the query's time. The dense and BM25 searches then run
        one after the other in this thread, which was faster than side by side (`kbrank._threads`)."""
        query_vector = self.dense.encode_query(query) if vector is None else vector
        dense: Candidates = self.dense.search(query_vector, depth, mask=mask)
        bm25: Candidates = self.sparse.search(query, depth, mask=mask)
        return {"bm25": bm25, "dense": dense}, query_vector

    def search(self, query: str, k: int = 10, *, mask: np.ndarray | None = None,
               query_vector: np.ndarray | None = None) -> Candidates:
        """The best ``k`` fused candidates allowed by ``mask``, in their unfiltered order (module docstring).

        ``query_vector`` (from ``dense.encode_query``) saves encoding the query again; otherwise the query is
        encoded once, first.
        """
        return self.search_encoded(query, k, mask=mask, query_vector=query_vector)[0]

    def search_encoded(self, query: str, k: int = 10, *,
                       mask: np.ndarray | None = None,
                       query_vector: np.ndarray | None = None) -> tuple[Candidates, np.ndarray]:
        """`search`, and the query vector it searched with (to search the same query again unencoded)."""
        params = self._params()
        k = check_k(k)
        allowed = None if mask is None else check_mask(mask, self.sparse.n_docs)  # before any work
        runs, query_vector = self._runs(query, max(self.depth, k), None, query_vector)
        if allowed is None:
            return fuse(runs, k, method=self.fusion, **params), query_vector
        kept = fuse(runs, k, method=self.fusion, allowed=allowed, **params)
        if len(kept) >= k:
            return kept, query_vector
        rest = allowed.copy()
        for run in runs.values():  # every allowed row of these lists is kept already
            rest[run.rows] = False
        if not rest.any():
            return kept, query_vector
        more = fuse(self.runs(query, k - len(kept), mask=rest, query_vector=query_vector), k - len(kept),
                    method=self.fusion, **params)
        offset = {name: len(run) for name, run in runs.items()}  # ranks continue below the first lists
        sources = {}
        for name, s in kept.sources.items():
            extra = more.sources[name]
            sources[name] = SourceScores(np.concatenate([s.ranks, np.where(extra.ranks > 0, extra.ranks + offset[name], 0)]),
                                         np.concatenate([s.scores, extra.scores]))
        floor = kept.scores[-1] if len(kept) else np.inf
        below = np.minimum(more.scores, np.nextafter(floor, -np.inf)) if len(kept) else more.scores
        return (Candidates(np.concatenate([kept.rows, more.rows]), np.concatenate([kept.scores, below]), sources),
                query_vector)
