"""Retrieval stages above the indexes: rank fusion (one function per method, chosen by name) and the
`HybridRetriever` that fuses BM25 and dense candidates. `Candidates`, the currency between stages, lives in
`kbrank.candidates`."""

from .fusion import DEFAULT_FUSION, DEFAULT_FUSION_PARAMS, FUSION, fuse, rrf, weighted_sum
from .hybrid import DEFAULT_DEPTH, HybridRetriever

__all__ = ["DEFAULT_DEPTH", "DEFAULT_FUSION", "DEFAULT_FUSION_PARAMS", "FUSION", "HybridRetriever", "fuse", "rrf",
           "weighted_sum"]
