"""Compiled loops over a BM25 index's postings that do not search: grouping entries by term when counts are
built (`group_by`) and checking loaded arrays before any kernel trusts them (`check_postings`).

Kept apart from the search kernels (`kbrank.index._bm25_kernels`): they call no other compiled function (numba's
on-disk cache is invalidated only by changes to the file that defines a function, not to what it calls), and
building or loading an index need not load the search kernels.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["group_by", "check_postings"]


@njit(cache=True, nogil=True)
def group_by(keys, ptr, a, b, c, a_out, b_out, c_out):  # pragma: no cover - compiled
    """Counting sort: copy entry ``j`` of ``a``, ``b``, ``c`` to the next free slot of group ``keys[j]`` in the
    ``*_out`` arrays (``ptr``: each group's start, from the key counts), keeping the input order in a group."""
    nxt = ptr[:-1].copy()
    for j in range(keys.shape[0]):
        g = keys[j]
        p = nxt[g]
        nxt[g] = p + 1
        a_out[p] = a[j]
        b_out[p] = b[j]
        c_out[p] = c[j]


@njit(cache=True, nogil=True)
def check_postings(col_ptr, rows, counts, n_docs, doc_len):  # pragma: no cover - compiled
    """Problems of loaded postings as a code (0: none), one pass without temporaries: 1 a term without
    entries, 2 rows outside [0, n_docs) or not increasing within a term, 3 a count of 0, 4 ``doc_len`` not the
    sum of each article's counts."""
    sums = np.zeros(n_docs, np.int64)
    for t in range(col_ptr.shape[0] - 1):
        lo, hi = col_ptr[t], col_ptr[t + 1]
        if hi <= lo:
            return 1
        previous = -1
        for j in range(lo, hi):
            d = rows[j]
            if d <= previous or d >= n_docs:
                return 2
            previous = d
            c = counts[j]
            if c == 0:
                return 3
            sums[d] += c
    for d in range(n_docs):
        if sums[d] != doc_len[d]:
            return 4
    return 0
