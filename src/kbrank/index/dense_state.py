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
from functools import cached_property
from typing import Any, Sequence

import numpy as np

from ..corpus import Corpus
from ..errors import IndexFormatError
from ._arrays import all_finite
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
    corpus: Corpus
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
    def assemble(cls, corpus: Corpus, passages: Passages, faiss_index: Any, embeddings: np.ndarray | None,
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

    @cached_property
    def one_passage_each(self) -> bool:
        """Whether every article is one passage, in article order (passage ``i`` is article ``i``): then
        distinct passage hits are distinct articles, and nothing needs collapsing."""
        rows = self.passages.article_rows
        return rows.shape[0] == len(self.corpus) and bool(np.array_equal(rows, np.arange(rows.shape[0])))

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

    @staticmethod
    def validate_arrays(where: str, corpus: Corpus, passages: Passages, vector_rows: np.ndarray, digests: np.ndarray,
                        embeddings: np.ndarray | None, *, dim: int) -> None:
        """Refuse arrays that do not fit together (a crafted or damaged index), before faiss or a search sees them.

        The passage map must cover every article of ``corpus`` in order, with spans inside each article's text;
        every passage must point at a stored vector and every vector serve a passage; digests are 16-byte
        strings; kept embeddings are finite float32 of ``dim`` dimensions. (The faiss file is checked by
        `kbrank.index.dense_faiss.read_faiss`.)
        """
        problems = []
        p, n_articles, n_vectors = passages, len(corpus), int(digests.shape[0]) if digests.ndim else -1
        rows = p.article_rows
        if len(p) == 0 or rows[0] != 0 or rows[-1] != n_articles - 1 or np.any(np.diff(rows) > 1):
            problems.append(f"the passage map does not cover the corpus's {n_articles} articles in order")
        else:
            lengths = np.fromiter((len(a.text) for a in corpus), dtype=np.int64, count=n_articles)
            if np.any(p.starts < 0) or np.any(p.ends < p.starts) or np.any(p.ends > lengths[rows]):
                problems.append("passage offsets are negative, reversed or beyond their article's text")
        if digests.dtype != np.dtype(f"S{DIGEST_BYTES}") or digests.ndim != 1:
            problems.append(f"digests have dtype {digests.dtype} and shape {digests.shape}")
        elif vector_rows.shape != (len(p),) or (vector_rows.size and (vector_rows.min() < 0
                                                                       or vector_rows.max() >= n_vectors)):
            problems.append(f"passage_vector does not map {len(p)} passages into {n_vectors} vectors")
        elif n_vectors and np.bincount(vector_rows, minlength=n_vectors).min() == 0:
            problems.append("some stored vectors belong to no passage")
        if embeddings is not None and (embeddings.shape != (n_vectors, dim) or embeddings.dtype != np.float32
                                       or not embeddings.dtype.isnative or not all_finite(embeddings)):
            problems.append(f"embeddings have dtype {embeddings.dtype} and shape {embeddings.shape}, or non-finite "
                            "values")
        if problems:
            raise IndexFormatError("the dense index files do not fit together: " + "; ".join(problems), path=where,
                                   fix="rebuild the index (the files were changed or crafted)")

    def validate(self, where: str, *, dim: int) -> None:
        """`validate_arrays` on this state, and the faiss index's structure (`dense_faiss.structure_problems`)."""
        from .dense_faiss import describe, structure_problems

        self.validate_arrays(where, self.corpus, self.passages, self.vector_rows, self.digests, self.embeddings, dim=dim)
        problems = structure_problems(self.faiss_index, describe(self.faiss_index), n_vectors=self.n_vectors, dim=dim)
        if problems:
            raise IndexFormatError("the dense index files do not fit together: " + "; ".join(problems), path=where,
                                   fix="rebuild the index (the files were changed or crafted)")
