"""`HybridRetriever`: BM25 and dense retrieval side by side, fused into one ranking (plain composition)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import ParameterError
from .candidates import Candidates
from .fusion import FUSION, fuse

__all__ = ["HybridRetriever"]


class HybridRetriever:
    """Retrieve ``depth`` candidates from each index, fuse them, keep the best ``k``.

    ``sparse`` is a `BM25Index`, ``dense`` a `DenseIndex` built on the same corpus (same rows). The result
    keeps each source's rank and score (``Candidates.sources["bm25"]``, ``["dense"]``) for explanation.
    A mask is passed to both indexes, so it applies before either top-k.
    """

    def __init__(self, sparse: Any, dense: Any, *, fusion: str = "rrf", depth: int = 100,
                 fusion_params: Mapping[str, Any] | None = None) -> None:
        self.sparse = sparse
        self.dense = dense
        self.fusion = fusion
        self.depth = depth
        self.fusion_params = dict(fusion_params or {})
        if fusion not in FUSION:
            raise ParameterError("fusion", f"one of {sorted(FUSION)}", fusion)
        if not isinstance(depth, int) or depth < 1:
            raise ParameterError("depth", "an integer >= 1", depth)
        if sparse.n_docs != dense.n_docs:
            raise ParameterError("dense", f"an index over the same {sparse.n_docs} articles as the BM25 index",
                                 f"an index over {dense.n_docs} articles")

    def runs(self, query: str, k: int, *, mask: np.ndarray | None = None,
             query_vector: np.ndarray | None = None) -> dict[str, Candidates]:
        depth = max(self.depth, k)
        dense_query = query if query_vector is None else query_vector
        return {"bm25": self.sparse.search(query, depth, mask=mask),
                "dense": self.dense.search(dense_query, depth, mask=mask)}

    def search(self, query: str, k: int = 10, *, mask: np.ndarray | None = None,
               query_vector: np.ndarray | None = None) -> Candidates:
        return fuse(self.runs(query, k, mask=mask, query_vector=query_vector), k, method=self.fusion,
                    **self.fusion_params)
