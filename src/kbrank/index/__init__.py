"""Indexes: the third stage of the flow (articles -> analysis -> indexes -> candidates).

- `BM25Index` (lexical, rank_bm25-exact), in `bm25.py` with its weights, kernels and persistence beside it.
- `storage` writes and reads index directories (manifest + checksummed files, atomic saves, no pickle).
"""

from .bm25 import BM25Index

__all__ = ["BM25Index"]
