"""Indexes: the third stage of the flow (articles -> analysis -> indexes -> candidates).

- `BM25Index` (lexical, rank_bm25-exact), in `bm25.py` with its weights, kernels and persistence beside it.
- `DenseIndex` (faiss over passage vectors; an article scores as its best passage), in `dense.py`, with
  `dense_faiss` (index types, filtered search), `passages` (word windows with character offsets),
  `embedding_cache` (vectors on disk, keyed by encoder fingerprint and passage content) and
  `dense_persistence` beside it.
- `Encoder` (the protocol) and `SentenceTransformerEncoder` in `encoders.py`.
- `storage` writes and reads index directories (manifest + checksummed files, atomic saves, no pickle).

Importing this package loads none of torch, sentence-transformers or faiss: they load on first use.
"""

from .bm25 import BM25Index
from .dense import DenseIndex
from .embedding_cache import EmbeddingCache
from .encoders import Encoder, SentenceTransformerEncoder
from .passages import PassageHits, Passages, PassageSplitter

__all__ = [
    "BM25Index",
    "DenseIndex",
    "EmbeddingCache",
    "Encoder",
    "PassageHits",
    "PassageSplitter",
    "Passages",
    "SentenceTransformerEncoder",
]
