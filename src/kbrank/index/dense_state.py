"""`DenseState`: one immutable snapshot of a built dense index, and how passages map to stored vectors.

Each distinct passage text is encoded once and stored once in faiss: passages with the same text share one
vector, so they get bit-identical scores on every CPU (faiss kernels may round a vector's score differently
depending on where it sits in the index, so identical vectors at two places are not enough). The mapping:

- ``passages``: every passage of the corpus (`Passages`: article row and character span), passage row = id;
- ``vector_rows`` (int64 per passage): the faiss id of the passage's vector;
- ``vector_indptr`` / ``vector_passages``: the reverse (CSR by vector), to expand a vector hit to its passages;
- ``digests`` (16-byte sha256 prefixes of the encoded text, one per vector), so edits reuse every vector whose
  text is unchanged, wherever it moved.

In the usual corpus without repeated passages ``vector_rows`` is the identity and no expansion happens.
A `DenseIndex` replaces its state in one assignment; a search reads it once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import IndexFormatError
from .passages import Passages, PassageSplitter

__all__ = ["DenseState", "text_digests"]

DIGEST_BYTES = 16


def text_digests(texts: Sequence[str]) -> np.ndarray:
    """The 16-byte sha256 prefix of each encoded passage text (dtype ``S16``)."""
    return np.array([hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest()[:DIGEST_BYTES] for t in texts],
                    dtype=f"S{DIGEST_BYTES}").reshape(-1)


def first_occurrences(digests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(keep, vector_rows)``: the positions of the first passage of each distinct digest (in passage order),
    and for every passage the index of its digest among those."""
    if digests.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    _, first, inverse = np.unique(digests, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return first[order].astype(np.int64), rank[inverse.reshape(-1)].astype(np.int64)


@dataclass(frozen=True, eq=False)
class DenseState:
    corpus: Any  # kbrank.Corpus
    passages: Passages
    faiss_index: Any
    embeddings: np.ndarray | None  # float32 per vector, kept for lossy index types
    splitter: PassageSplitter
    fingerprint: str
    vector_rows: np.ndarray
    digests: np.ndarray
    vector_indptr: np.ndarray
    vector_passages: np.ndarray

    @classmethod
    def assemble(cls, corpus: Any, passages: Passages, faiss_index: Any, embeddings: np.ndarray | None,
                 splitter: PassageSplitter, fingerprint: str, vector_rows: np.ndarray,
                 digests: np.ndarray) -> DenseState:
        vector_rows = np.asarray(vector_rows, np.int64)
        order = np.argsort(vector_rows, kind="stable")
        indptr = np.searchsorted(vector_rows[order], np.arange(digests.shape[0] + 1), side="left").astype(np.int64)
        return cls(corpus, passages, faiss_index, embeddings, splitter, fingerprint, vector_rows, digests, indptr,
                   order.astype(np.int64))

    @property
    def dim(self) -> int:
        return int(self.faiss_index.d)

    @property
    def n_vectors(self) -> int:
        return int(self.digests.shape[0])

    @property
    def shared(self) -> bool:
        """Whether some vectors serve several passages (else ``vector_rows`` is the identity)."""
        return self.n_vectors != len(self.passages)

    def expand(self, scores: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vector hits as passage hits: each vector's score for every passage that uses it."""
        if not self.shared:
            return scores, vectors
        starts, ends = self.vector_indptr[vectors], self.vector_indptr[vectors + 1]
        lengths = ends - starts
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return np.repeat(scores, lengths), self.vector_passages[offsets + np.arange(int(lengths.sum()))]

    def validate(self, where: str, *, n_articles: int, dim: int) -> None:
        """Refuse arrays that do not fit together (a crafted or damaged index), before any search uses them."""
        problems = []
        p, n_vectors = self.passages, self.n_vectors
        if len(p) and (p.article_rows[0] < 0 or p.article_rows[-1] >= n_articles or p.n_articles != n_articles):
            problems.append(f"the passage map covers {p.n_articles} articles, the corpus has {n_articles}")
        if len(p) and (np.any(p.starts < 0) or np.any(p.ends < p.starts)):
            problems.append("passage offsets are negative or reversed")
        rows = self.vector_rows
        if rows.shape != (len(p),) or (rows.size and (rows.min() < 0 or rows.max() >= n_vectors)):
            problems.append(f"passage_vector does not map {len(p)} passages into {n_vectors} vectors")
        elif n_vectors and np.bincount(rows, minlength=n_vectors).min() == 0:
            problems.append("some stored vectors belong to no passage")
        if self.digests.dtype != np.dtype(f"S{DIGEST_BYTES}") or self.digests.ndim != 1:
            problems.append(f"digests have dtype {self.digests.dtype} and shape {self.digests.shape}")
        if self.faiss_index.ntotal != n_vectors:
            problems.append(f"the faiss file holds {self.faiss_index.ntotal} vectors, the passage map {n_vectors}")
        if self.faiss_index.d != dim:
            problems.append(f"vectors have dim {self.faiss_index.d}, the manifest says {dim}")
        if self.embeddings is not None and (self.embeddings.shape != (n_vectors, dim)
                                            or self.embeddings.dtype != np.float32):
            problems.append(f"embeddings have dtype {self.embeddings.dtype} and shape {self.embeddings.shape}")
        if problems:
            raise IndexFormatError("the dense index files do not fit together: " + "; ".join(problems), path=where,
                                   fix="rebuild the index (the files were changed or crafted)")
