"""Compiled inner loops of BM25 search (numba, ``nogil`` so that batch search runs in threads).

Imported only on the first search, never at ``import kbrank``. Compiled code is cached on disk by numba.

`score_top_k` does in one pass what rank_bm25's ``get_scores`` + a sort do, but touches only the articles
that contain a query term:

1. For each query term, in query order, add its precomputed weight to each article in its posting list.
   Adding in query order reproduces rank_bm25's float sums bit for bit. For BM25L/BM25+ (which add a
   base amount for absent terms) each touched article also receives the bases of the terms it lacks, in
   order, so those sums are exact too.
2. Keep the best ``k`` touched (and unmasked) articles in a heap ordered by (score desc, row asc).
3. Reset the scratch buffers it touched, so they can be reused without clearing ``n_docs`` entries.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _better(score_a, row_a, score_b, row_b):  # pragma: no cover - compiled
    return score_a > score_b or (score_a == score_b and row_a < row_b)


@njit(cache=True, nogil=True)
def _offer(out_scores, out_rows, size, k, s, d):  # pragma: no cover - compiled
    """Offer (score s, row d) to a heap of the best k kept in out_*; the worst sits at the root."""
    if size < k:
        j = size
        size += 1
        while j > 0:
            p = (j - 1) // 2
            if _better(out_scores[p], out_rows[p], s, d):
                out_scores[j] = out_scores[p]
                out_rows[j] = out_rows[p]
                j = p
            else:
                break
        out_scores[j] = s
        out_rows[j] = d
    elif _better(s, d, out_scores[0], out_rows[0]):
        j = 0
        while True:
            left = 2 * j + 1
            if left >= size:
                break
            c = left
            if left + 1 < size and _better(out_scores[left], out_rows[left], out_scores[left + 1], out_rows[left + 1]):
                c = left + 1
            if _better(s, d, out_scores[c], out_rows[c]):
                out_scores[j] = out_scores[c]
                out_rows[j] = out_rows[c]
                j = c
            else:
                break
        out_scores[j] = s
        out_rows[j] = d
    return size


@njit(cache=True, nogil=True)
def sort_best_first(out_scores, out_rows, size):  # pragma: no cover - compiled
    """Insertion-sort the first ``size`` heap entries by score descending, row ascending."""
    for i in range(1, size):
        s = out_scores[i]
        d = out_rows[i]
        j = i - 1
        while j >= 0 and _better(s, d, out_scores[j], out_rows[j]):
            out_scores[j + 1] = out_scores[j]
            out_rows[j + 1] = out_rows[j]
            j -= 1
        out_scores[j + 1] = s
        out_rows[j + 1] = d


@njit(cache=True, nogil=True)
def score_top_k(col_ptr, row_idx, data, base, has_base, terms, mask, use_mask, k,
                scores, mark, touched, out_rows, out_scores):  # pragma: no cover - compiled
    """Fill ``out_rows``/``out_scores`` with the best ``k`` rows, best first; return how many were found."""
    m = 0
    prefix = 0.0
    for qi in range(terms.shape[0]):
        t = terms[qi]
        stamp = qi + 1
        for j in range(col_ptr[t], col_ptr[t + 1]):
            d = row_idx[j]
            if mark[d] == 0:
                touched[m] = d
                m += 1
                scores[d] = prefix + data[j]
            else:
                scores[d] += data[j]
            mark[d] = stamp
        if has_base:
            b = base[t]
            for i in range(m):
                d = touched[i]
                if mark[d] != stamp:
                    scores[d] += b
            prefix += b

    size = 0
    for i in range(m):
        d = touched[i]
        if use_mask and not mask[d]:
            continue
        size = _offer(out_scores, out_rows, size, k, scores[d], d)

    for i in range(m):
        d = touched[i]
        scores[d] = 0.0
        mark[d] = 0
    sort_best_first(out_scores, out_rows, size)
    return size


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernel on a tiny input."""
    col_ptr = np.array([0, 1], np.int64)
    rows = np.array([0], np.int32)
    data = np.array([1.0])
    out_rows = np.empty(1, np.int64)
    out_scores = np.empty(1, np.float64)
    score_top_k(col_ptr, rows, data, np.zeros(1), False, np.array([0], np.int64), np.ones(1, np.bool_), False, 1,
                np.zeros(1), np.zeros(1, np.int32), np.zeros(1, np.int32), out_rows, out_scores)


@njit(cache=True, nogil=True)
def positive_top_k(col_ptr, row_idx, data, terms, mask, use_mask, k,
                   scores, touched, out_rows, out_scores):  # pragma: no cover - compiled
    """`score_top_k` for queries whose terms all have idf > 0 on indexes without a base (the usual case).

    Every weight is then > 0, so a score of exactly 0 means "not touched yet" and no marks are needed.
    """
    m = 0
    for qi in range(terms.shape[0]):
        t = terms[qi]
        for j in range(col_ptr[t], col_ptr[t + 1]):
            d = row_idx[j]
            s = scores[d]
            if s == 0.0:
                touched[m] = d
                m += 1
            scores[d] = s + data[j]
    size = 0
    for i in range(m):
        d = touched[i]
        s = scores[d]
        scores[d] = 0.0
        if use_mask and not mask[d]:
            continue
        if size < k or _better(s, d, out_scores[0], out_rows[0]):
            size = _offer(out_scores, out_rows, size, k, s, d)
    sort_best_first(out_scores, out_rows, size)
    return size


@njit(cache=True, nogil=True, fastmath=True)
def _block_max(scores, start, end):  # pragma: no cover - compiled
    """The largest score in a block. ``fastmath`` only lets the max vectorize; a max is exact in any order."""
    best = 0.0
    for d in range(start, end):
        best = max(best, scores[d])
    return best


@njit(cache=True, nogil=True)
def full_scan_top_k(col_ptr, row_idx, data, dense, dense_slot, terms, mask, use_mask, k,
                    scores, out_rows, out_scores):  # pragma: no cover - compiled
    """Top-k for broad queries whose terms all have idf > 0, on indexes without a base (Okapi, BM25L).

    Terms present in more than a set share of the articles are stored as dense rows (``dense_slot[t]``
    >= 0), whose addition vectorizes; the others are scattered from their columns. Additions happen in
    query order, so the sums equal rank_bm25's. Every weight is > 0, so "score > 0" means "contains a
    query term". The top-k then scans the articles in blocks of 1,024 and skips a block whose largest
    score cannot beat the current k-th (rows only grow, so a tie cannot win either), zeroing as it goes.
    """
    n = scores.shape[0]
    for qi in range(terms.shape[0]):
        t = terms[qi]
        slot = dense_slot[t]
        if slot >= 0:
            row = dense[slot]
            for d in range(n):
                scores[d] += row[d]
        else:
            for j in range(col_ptr[t], col_ptr[t + 1]):
                scores[row_idx[j]] += data[j]
    size = 0
    block = 1024
    for start in range(0, n, block):
        end = min(start + block, n)
        top = _block_max(scores, start, end)
        if top > 0.0 and (size < k or top > out_scores[0]):
            for d in range(start, end):
                s = scores[d]
                if s > 0.0 and (not use_mask or mask[d]):
                    if size < k or s > out_scores[0]:
                        size = _offer(out_scores, out_rows, size, k, s, d)
        for d in range(start, end):
            scores[d] = 0.0
    sort_best_first(out_scores, out_rows, size)
    return size
