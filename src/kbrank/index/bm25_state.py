"""`BM25State`: one immutable snapshot of a built BM25 index.

A `BM25Index` holds exactly one state and replaces it in a single assignment when it is rebuilt or edited,
so a search that reads the state once at its start sees one consistent index from start to end, whatever
another thread does meanwhile. The state is also what persistence reads and writes
(`kbrank.index.bm25_persistence`), so the index class and its files never import each other.

Stored: ``counts`` (`TermCounts`: rows and compact counts by term, the only per-posting arrays; memory-mapped
read-only after a load). Derived on assembly, small: per term ``idf``, ``base`` (BM25+) and ``df``; per
article its length class ``length_id`` (uint8/uint16, an index into the distinct lengths); per length class
``norm``, the variant's length term; and ``table``, the factor after idf for small counts per length class
(`bm25_weights.factor_table`). The kernels compute each weight from these
(`kbrank.index._bm25_kernels.weight`). The kernels trust the arrays, so `validate` checks every bound of a
loaded state before it is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..corpus import Corpus
from ..errors import IndexFormatError
from .bm25_weights import VARIANT_CODES, VARIANTS, factor_table
from .term_counts import TermCounts, compact_uint

__all__ = ["BM25State"]

_UINTS = ("u1", "u2", "u4")
_POSTING_PROBLEMS = {
    1: "col_ptr gives a term no article",
    2: "rows holds values outside [0, {n_docs}) or not increasing within a term",
    3: "counts holds a count of 0",
    4: "doc_len is not the sum of each article's counts",
}


@dataclass(frozen=True, eq=False)
class BM25State:
    counts: TermCounts
    corpus: Corpus | None  # None for an index built from tokens
    variant: int  # `bm25_weights.VARIANT_CODES`
    k1: float
    k1p1: float  # k1 + 1, as rank_bm25 computes it
    delta: float  # BM25L/BM25+ (0 for Okapi)
    idf: np.ndarray
    base: np.ndarray | None
    length_id: np.ndarray
    norm: np.ndarray
    table: np.ndarray
    df: np.ndarray

    @property
    def n_docs(self) -> int:
        return self.counts.n_docs

    @property
    def has_base(self) -> bool:
        return self.base is not None

    @classmethod
    def assemble(cls, counts: TermCounts, corpus: Corpus | None, *, variant: str, k1: float, b: float,
                 extra: Mapping[str, float]) -> BM25State:
        """The state of these counts: per-term and per-article statistics for ``variant`` (see
        `kbrank.index.bm25_weights`). ``extra`` is ``{"epsilon": ...}`` or ``{"delta": ...}``."""
        n_docs = counts.n_docs
        df = counts.doc_freqs()
        lengths, length_id = np.unique(counts.doc_len, return_inverse=True)
        stats = VARIANTS[variant](df, lengths, n_docs, int(counts.doc_len.sum()) / n_docs, k1=k1, b=b, **extra)
        delta = float(extra.get("delta", 0.0))
        max_count = int(counts.counts.max()) if counts.nnz else 0
        table = factor_table(variant, stats.norm, k1 + 1, delta, max_count)
        return cls(counts, corpus, VARIANT_CODES[variant], float(k1), float(k1 + 1), delta, stats.idf, stats.base,
                   compact_uint(length_id.ravel()), stats.norm, table, df)

    def nbytes(self) -> int:
        """Bytes of every array the state holds (postings, per-term and per-article arrays)."""
        extra = (self.idf, self.length_id, self.norm, self.table, self.df) + (() if self.base is None else (self.base,))
        return self.counts.nbytes() + sum(a.nbytes for a in extra)

    @staticmethod
    def validate(counts: TermCounts, where: str, *, n_docs: int, n_terms: int, kernels: str = "compiled") -> None:
        """Refuse loaded counts that would make the compiled kernels read out of bounds (a crafted or damaged
        index) or score nonsense: dtypes (native byte order), shapes, the pointer array, and, in one compiled
        pass without temporaries, every row's range and order, counts >= 1 and each article's length.
        ``n_docs`` and ``n_terms`` are the sizes the manifest records; ``kernels="numpy"`` runs the same checks
        in numpy (`kbrank.index._bm25_numpy`), without loading numba."""
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

        ok = kind(counts.doc_len, ("i8",), None, "doc_len")
        ok = ok and check(counts.doc_len.shape[0] == n_docs,
                          f"{counts.doc_len.shape[0]} articles in the arrays, the manifest says {n_docs}")
        ok = kind(counts.col_ptr, ("i8",), (n_terms + 1,), "col_ptr") and ok
        ok = kind(counts.rows, ("i4",), None, "rows") and ok
        ok = kind(counts.counts, _UINTS, getattr(counts.rows, "shape", None), "counts") and ok
        ok = kind(counts.ranks, _UINTS, getattr(counts.rows, "shape", None), "ranks") and ok
        check(n_docs >= 1, "the index holds no article")
        check(counts.n_terms == n_terms, f"{counts.n_terms} terms in the vocabulary, the manifest says {n_terms}")
        if ok and not problems:
            ptr = counts.col_ptr
            if check(int(ptr[0]) == 0 and int(ptr[-1]) == counts.nnz and bool(np.all(ptr[1:] >= ptr[:-1])),
                     f"col_ptr is not a monotonic pointer array from 0 to {counts.nnz}"):
                if kernels == "numpy":
                    from ._bm25_numpy import check_postings
                else:
                    from ._bm25_postings import check_postings

                code = check_postings(ptr, counts.rows, counts.counts, n_docs, counts.doc_len)
                check(code == 0, _POSTING_PROBLEMS.get(code, "").format(n_docs=n_docs))
                check(code != 0 or counts.nnz >= 1, "no article has any term")
        if problems:
            raise IndexFormatError("the BM25 arrays are inconsistent: " + "; ".join(problems), path=where,
                                   fix="rebuild the index (the files were changed or crafted)")
