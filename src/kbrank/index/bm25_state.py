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

from ..corpus import Corpus
from ..errors import IndexFormatError
from ._arrays import all_finite, row_sums
from .term_counts import TermCounts

__all__ = ["BM25State"]


@dataclass(frozen=True, eq=False)
class BM25State:
    counts: TermCounts
    corpus: Corpus | None  # None for an index built from tokens
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
    def assemble(cls, counts: TermCounts, corpus: Corpus | None, col_ptr: np.ndarray, row_idx: np.ndarray, data: np.ndarray,
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

    def validate(self, where: str, *, n_docs: int | None = None, n_terms: int | None = None) -> None:
        """Refuse arrays that would make the compiled kernels read out of bounds (a crafted or damaged index).

        One vectorized pass over each array: dtypes (native byte order), shapes, monotonic pointers, index
        ranges, finite weights, and the term counts against the weights (each term's postings, each article's
        length). ``n_docs`` and ``n_terms`` are the sizes the manifest records.
        """
        counts = self.counts
        problems: list[str] = []

        def check(ok: bool, what: str) -> bool:
            if not ok:
                problems.append(what)
            return ok

        def kind(array: Any, dtypes: tuple[str, ...], shape: tuple[int, ...] | None, name: str) -> bool:
            good = isinstance(array, np.ndarray) and array.dtype.isnative and (
                array.dtype.kind + str(array.dtype.itemsize) in dtypes) and (
                array.ndim == 1 if shape is None else array.shape == shape)
            return check(good, f"{name} has dtype {getattr(array, 'dtype', '?')} and shape "
                               f"{getattr(array, 'shape', '?')}")

        def pointers(array: np.ndarray, name: str, end: int) -> bool:
            return check(int(array[0]) == 0 and int(array[-1]) == end and bool(np.all(array[1:] >= array[:-1])),
                         f"{name} is not a monotonic pointer array from 0 to {end}")

        def in_range(array: np.ndarray, low: int, high: int, name: str) -> bool:
            return check(array.size == 0 or (int(array.min()) >= low and int(array.max()) < high),
                         f"{name} holds values outside [{low}, {high})")

        def finite(array: np.ndarray, name: str) -> None:
            check(all_finite(array), f"{name} holds non-finite values")

        if not kind(counts.doc_len, ("i8",), None, "counts.doc_len"):
            self._refuse(problems, where)
        docs, terms = counts.n_docs, counts.n_terms
        check(docs >= 1, "the index holds no article")
        check(n_docs is None or docs == n_docs, f"{docs} articles in the arrays, the manifest says {n_docs}")
        check(n_terms is None or terms == n_terms, f"{terms} terms in the vocabulary, the manifest says {n_terms}")
        if self.corpus is not None:
            check(len(self.corpus) == docs, f"{len(self.corpus)} articles in the corpus, {docs} in the arrays")
        ok = kind(counts.indptr, ("i8",), (docs + 1,), "counts.indptr")
        ok &= kind(counts.term_ids, ("i4", "i8"), None, "counts.term_ids")
        ok = kind(counts.counts, ("i4", "i8"), getattr(counts.term_ids, "shape", None), "counts.counts") and ok
        ok = kind(self.col_ptr, ("i8",), (terms + 1,), "col_ptr") and ok
        ok = kind(self.row_idx, ("i4",), None, "row_idx") and ok
        ok = kind(self.data, ("f8",), getattr(self.row_idx, "shape", None), "data") and ok
        ok = kind(self.idf, ("f8",), (terms,), "idf") and ok
        if self.base is not None:
            ok = kind(self.base, ("f8",), (terms,), "base") and ok
        if problems or not ok:
            self._refuse(problems, where)
        nnz = counts.term_ids.shape[0]
        if pointers(counts.indptr, "counts.indptr", nnz) and in_range(counts.term_ids, 0, terms, "counts.term_ids"):
            check(counts.counts.size == 0 or int(counts.counts.min()) >= 1, "counts.counts holds counts below 1")
            check(bool(np.array_equal(row_sums(counts.counts, counts.indptr), counts.doc_len)),
                  "counts.doc_len is not the sum of each article's counts")
            if pointers(self.col_ptr, "col_ptr", self.row_idx.shape[0]):
                check(bool(np.array_equal(np.diff(self.col_ptr), np.bincount(counts.term_ids, minlength=terms))),
                      "col_ptr disagrees with the term counts on how many articles hold each term")
        in_range(self.row_idx, 0, docs, "row_idx")
        finite(self.data, "data")
        finite(self.idf, "idf")
        if self.base is not None:
            finite(self.base, "base")
        if problems:
            self._refuse(problems, where)

    @staticmethod
    def _refuse(problems: list[str], where: str) -> None:
        raise IndexFormatError("the BM25 arrays are inconsistent: " + "; ".join(problems or ["bad dtypes"]),
                               path=where, fix="rebuild the index (the files were changed or crafted)")

