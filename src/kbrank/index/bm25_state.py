"""`BM25State`: one immutable snapshot of a built BM25 index.

A `BM25Index` holds exactly one state and replaces it in a single assignment when it is rebuilt or edited,
so a search that reads the state once at its start sees one consistent index from start to end, whatever
another thread does meanwhile. The state is also what persistence reads and writes
(`kbrank.index.bm25_persistence`), so the index class and its files never import each other.

Arrays (the compiled kernels trust them, so `validate` checks every bound before a loaded state is used):

- ``counts``: the raw term counts (`TermCounts`, CSR by article), kept for edits;
- ``col_ptr`` (int64, terms + 1), ``row_idx`` (int32), ``data`` (float64): per-(term, article) weights, CSC;
- ``idf`` (float64 per term) and ``base`` (float64 per term for BM25+, whose absent terms still score);
- derived on assembly: ``df`` (postings per term), and for the broad-query path the columns of very common
  terms as dense rows (``dense``; ``dense_slot[t]`` is term ``t``'s row or -1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import IndexFormatError
from .term_counts import TermCounts

__all__ = ["BM25State"]


@dataclass(frozen=True, eq=False)
class BM25State:
    counts: TermCounts
    corpus: Any  # kbrank.Corpus, or None for an index built from tokens
    col_ptr: np.ndarray
    row_idx: np.ndarray
    data: np.ndarray
    idf: np.ndarray
    base: np.ndarray | None
    df: np.ndarray
    dense_slot: np.ndarray
    dense: np.ndarray
    broad_ok: bool

    @property
    def n_docs(self) -> int:
        return self.counts.n_docs

    @classmethod
    def assemble(cls, counts: TermCounts, corpus: Any, col_ptr: np.ndarray, row_idx: np.ndarray, data: np.ndarray,
                 idf: np.ndarray, base: np.ndarray | None, *, dense_share: int) -> BM25State:
        """The state for these arrays, with the dense rows of terms in more than 1/``dense_share`` articles.

        Dense rows exist only without a base (Okapi, BM25L) and for terms with idf > 0, whose weights are all
        > 0, so that "the weight is 0" means "the article lacks the term".
        """
        n_docs = counts.n_docs
        df = np.diff(col_ptr)
        dense_slot = np.full(len(idf), -1, dtype=np.int64)
        broad_ok = base is None
        common = np.flatnonzero((df * dense_share >= n_docs) & (np.asarray(idf) > 0)) if broad_ok else np.empty(0, int)
        dense = np.zeros((common.size, n_docs))
        for slot, t in enumerate(common.tolist()):
            lo, hi = col_ptr[t], col_ptr[t + 1]
            dense[slot, row_idx[lo:hi]] = data[lo:hi]
        dense_slot[common] = np.arange(common.size)
        return cls(counts, corpus, col_ptr, row_idx, data, idf, base, df, dense_slot, dense, broad_ok)

    def validate(self, where: str) -> None:
        """Refuse arrays that would make the compiled kernels read out of bounds (a crafted or damaged index).

        One vectorized pass over each array: dtypes, shapes, monotonic pointers and index ranges.
        """
        counts, n_docs, n_terms = self.counts, self.counts.n_docs, self.counts.n_terms
        problems = []

        def check(ok: bool, what: str) -> None:
            if not ok:
                problems.append(what)

        def kind(array: Any, dtypes: tuple[str, ...], shape: tuple[int, ...] | None, name: str) -> bool:
            good = isinstance(array, np.ndarray) and array.dtype.kind + str(array.dtype.itemsize) in dtypes and (
                shape is None and array.ndim == 1 or array.shape == shape)
            check(good, f"{name} has dtype {getattr(array, 'dtype', '?')} and shape {getattr(array, 'shape', '?')}")
            return good

        def pointers(array: np.ndarray, name: str, end: int) -> None:
            check(array[0] == 0 and array[-1] == end and bool(np.all(np.diff(array) >= 0)),
                  f"{name} is not a monotonic pointer array from 0 to {end}")

        if kind(counts.indptr, ("i8",), (n_docs + 1,), "counts.indptr") and n_docs >= 1:
            pointers(counts.indptr, "counts.indptr", counts.term_ids.shape[0])
        if kind(counts.term_ids, ("i4", "i8"), None, "counts.term_ids") and counts.term_ids.size:
            check(0 <= counts.term_ids.min() and counts.term_ids.max() < n_terms, "counts.term_ids out of range")
        if kind(counts.counts, ("i4", "i8"), counts.term_ids.shape, "counts.counts") and counts.counts.size:
            check(counts.counts.min() >= 1, "counts.counts holds counts below 1")
        kind(counts.doc_len, ("i8",), (n_docs,), "counts.doc_len")
        if kind(self.col_ptr, ("i8",), (n_terms + 1,), "col_ptr"):
            pointers(self.col_ptr, "col_ptr", self.row_idx.shape[0])
        if kind(self.row_idx, ("i4",), None, "row_idx") and self.row_idx.size:
            check(0 <= self.row_idx.min() and self.row_idx.max() < n_docs, "row_idx out of range")
        if kind(self.data, ("f8",), self.row_idx.shape, "data"):
            check(bool(np.all(np.isfinite(self.data))), "data holds non-finite weights")
        if kind(self.idf, ("f8",), (n_terms,), "idf"):
            check(bool(np.all(np.isfinite(self.idf))), "idf holds non-finite values")
        if self.base is not None and kind(self.base, ("f8",), (n_terms,), "base"):
            check(bool(np.all(np.isfinite(self.base))), "base holds non-finite values")
        if self.corpus is not None:
            check(len(self.corpus) == n_docs, f"{len(self.corpus)} articles in the corpus, {n_docs} in the arrays")
        if problems:
            raise IndexFormatError("the BM25 arrays are inconsistent: " + "; ".join(problems), path=where,
                                   fix="rebuild the index (the files were changed or crafted)")
