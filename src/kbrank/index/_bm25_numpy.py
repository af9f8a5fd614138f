"""BM25 top-k search and the loaded postings' checks in plain numpy, for a process that answers a few queries.

The compiled kernels (`kbrank.index._bm25_kernels`) are the default and the fast path. Importing numba and
loading those kernels from numba's cache costs about a second in a new process (numba itself, its LLVM
binding and the numpy registries it loads, which import scipy.linalg), far more than one query takes. A
one-shot ``kbrank search`` therefore loads its index with ``kernels="numpy"`` and uses these functions.

They give the compiled kernels' answers bit for bit, because they perform the same float64 operations in the
same order:

- each entry's weight is the kernels' `weight`: ``idf * table[(tf - 1) * n + class]`` where the factor table
  covers the count, else rank_bm25's expression (see `kbrank.index.bm25_weights`);
- the terms of a query are added one after another in query order, starting from 0.0. Under BM25+, an article
  without the term receives the term's base, as rank_bm25's dense loop gives it;
- the best ``k`` are ordered by score (descending), then row (ascending).

`tests/index/test_bm25_numpy.py` checks both functions against the compiled ones and against rank_bm25.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_postings", "search_top_k"]

#: Postings checked per step, which bounds the temporaries (a few bytes each) at any corpus size.
_CHUNK = 1 << 22


def _weights(variant: int, idf_t: float, tf: np.ndarray, lid: np.ndarray, table: np.ndarray, n_lengths: int,
             norm: np.ndarray, k1: float, k1p1: float, delta: float) -> np.ndarray:
    """The weights of one term's entries (counts ``tf``, length classes ``lid``), as `_bm25_kernels.weight`."""
    out = np.empty(tf.shape[0])
    tabled = tf * n_lengths <= table.shape[0] if variant != 1 else np.zeros(tf.shape[0], np.bool_)
    if tabled.any():
        out[tabled] = idf_t * table[(tf[tabled] - 1) * n_lengths + lid[tabled]]
    rest = ~tabled
    if rest.any():
        f = tf[rest].astype(np.float64)
        norm_d = norm[lid[rest]]
        if variant == 0:  # Okapi
            out[rest] = idf_t * (f * k1p1 / (f + norm_d))
        elif variant == 1:  # BM25L
            ctd = f / norm_d
            out[rest] = idf_t * f * k1p1 * (ctd + delta) / (k1 + ctd + delta)
        else:  # BM25+
            out[rest] = idf_t * (delta + f * k1p1 / (norm_d + f))
    return out


def search_top_k(kernel_args: tuple[Any, ...], terms: np.ndarray, mask: np.ndarray | None,
                 k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, scores) of the best ``k`` articles that contain a query term (``terms``: term ids in query order)
    and pass ``mask``, best first. ``kernel_args`` are the kernels' leading arguments (`BM25Index._kernel_args`)."""
    (col_ptr, rows, counts, idf, base, length_id, table, n_lengths, _, norm, variant, k1, k1p1, delta,
     has_base) = kernel_args
    n_docs = length_id.shape[0]
    scores = np.zeros(n_docs)
    touched = np.zeros(n_docs, np.bool_)
    for t in terms.tolist():
        lo, hi = int(col_ptr[t]), int(col_ptr[t + 1])
        term_rows = rows[lo:hi]
        w = _weights(variant, idf[t], counts[lo:hi].astype(np.int64), length_id[term_rows], table, n_lengths, norm,
                     k1, k1p1, delta)
        if has_base:  # every article without the term receives its base, in query order
            add = np.full(n_docs, base[t])
            add[term_rows] = w
            scores += add
        else:
            scores[term_rows] += w  # a term's rows are distinct (checked on load)
        touched[term_rows] = True
    if mask is not None:
        touched &= mask
    found = np.flatnonzero(touched)
    found_scores = scores[found]
    if found.shape[0] > k:  # keep the k largest scores, with every tie of the k-th, before the exact order
        kth = np.partition(found_scores, found.shape[0] - k)[found.shape[0] - k]
        keep = found_scores >= kth
        found, found_scores = found[keep], found_scores[keep]
    order = np.lexsort((found, -found_scores))[:k]
    return found[order].astype(np.int64), found_scores[order]


def check_postings(col_ptr: np.ndarray, rows: np.ndarray, counts: np.ndarray, n_docs: int,
                   doc_len: np.ndarray) -> int:
    """The checks of `_bm25_postings.check_postings`, as its problem code (0: none; 1 a term without entries,
    2 rows outside [0, n_docs) or not increasing within a term, 3 a count of 0, 4 ``doc_len`` not the sum of
    each article's counts; with several problems, another one may be named first). Postings are checked in
    chunks, so no temporary grows with the corpus. ``col_ptr`` must already be a monotonic pointer array from
    0 to ``rows.shape[0]``."""
    if col_ptr.shape[0] > 1 and bool(np.any(col_ptr[1:] <= col_ptr[:-1])):
        return 1
    starts = np.asarray(col_ptr[:-1], np.int64)  # the first entry of each term
    sums = np.zeros(n_docs, np.int64)
    for lo in range(0, rows.shape[0], _CHUNK):
        hi = min(lo + _CHUNK, rows.shape[0])
        own = np.asarray(rows[lo:hi], np.int64)
        if int(own.min()) < 0 or int(own.max()) >= n_docs:
            return 2
        previous = np.empty_like(own)  # each entry's predecessor, across the chunk's start
        previous[1:] = own[:-1]
        previous[0] = rows[lo - 1] if lo else -1
        first = np.zeros(hi - lo, np.bool_)  # entries that start a term: not ordered after their predecessor
        first[starts[(starts >= lo) & (starts < hi)] - lo] = True
        if not bool(((own > previous) | first).all()):
            return 2
        chunk_counts = counts[lo:hi]
        if int(chunk_counts.min()) == 0:
            return 3
        sums += np.bincount(own, weights=chunk_counts, minlength=n_docs).astype(np.int64)
    return 0 if bool(np.array_equal(sums, doc_len)) else 4
