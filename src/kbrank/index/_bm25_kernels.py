"""Compiled inner loops of BM25 (numba, ``nogil`` so that batch search runs in threads).

Imported only on the first build or search, never at ``import kbrank``. Compiled code is cached on disk by numba.

The index stores raw term counts (`TermCounts`: rows and uint8/uint16 counts by term), not weights: each
entry's weight is computed where it is used (`weight`), with rank_bm25's float64 expression, from the term's
idf, the count and a per-article length term. That reads 5 bytes per posting instead of 12 (an int32 row and
a float64 weight), and memory bandwidth, not arithmetic, bounds these loops.

`search_top_k` does in one call what rank_bm25's ``get_scores`` + a sort do, choosing one of three paths:

- *broad* (every term has idf > 0, no base, and the posting lists cover at least 1/``broad_share`` of the
  articles): scatter every posting into a dense score array, then one blocked pass that keeps the top k and
  zeroes the array (`_dense_top_k`: vector compares against the running k-th score; only blocks with a
  score above it are read one by one), above ``_BROAD_CHUNK`` articles one chunk of them at a time;
- *positive* (every term has idf > 0, no base): the same, but remembering the touched articles (a weight is
  then always > 0, so a score of 0 means "not touched yet"), so the top-k reads only those, and one chunk of
  articles at a time, so that the scores it scatters into stay in cache;
- *general* (BM25+ bases, idf <= 0): marks per article; a touched article also receives the bases of the
  terms it lacks, in query order.

Additions always happen in query order, which reproduces rank_bm25's float sums bit for bit. Every path keeps
the best ``k`` in a heap ordered by (score desc, row asc) and leaves the scratch buffers zeroed.

Speed (Okapi and BM25+, whose factor table covers the counts): on the broad path a term with more postings
than (largest count x length classes) first multiplies its idf into a scratch row of the table
(`_term_factors`, the same products), so its postings loop reads one weight per entry. The hot loops index slices from 0 with unsigned values, which
lets LLVM drop numba's negative-index wraparound arithmetic (about half the instructions of a posting).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def weight(variant, idf_t, tf, lid, table, n_lengths, norm, k1, k1p1, delta):  # pragma: no cover - compiled
    """One entry's weight, operation by operation as rank_bm25 0.2.2 (see `kbrank.index.bm25_weights`).

    ``lid`` is the article's length class and ``norm[lid]`` its length term. For Okapi and BM25+ the factor
    after ``idf`` depends only on (count, length class), so ``table[(tf - 1) * n_lengths + lid]`` holds it,
    computed with the same operations, for counts up to ``table.size // n_lengths``: no division per posting.
    """
    if variant != 1 and tf * n_lengths <= table.shape[0]:
        return idf_t * table[(tf - 1) * n_lengths + lid]
    f = np.float64(tf)
    norm_d = norm[lid]
    if variant == 0:  # Okapi; norm = k1 * (1 - b + b * dl / avgdl)
        return idf_t * (f * k1p1 / (f + norm_d))
    if variant == 1:  # BM25L; norm = 1 - b + b * dl / avgdl
        ctd = f / norm_d
        return idf_t * f * k1p1 * (ctd + delta) / (k1 + ctd + delta)
    return idf_t * (delta + f * k1p1 / (norm_d + f))  # BM25+; norm = k1 * (1 - b + b * dl / avgdl)


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
            if left + 1 < size and _better(out_scores[left], out_rows[left], out_scores[left + 1],
                                           out_rows[left + 1]):
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
def _sort_best_first(out_scores, out_rows, size):  # pragma: no cover - compiled
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


_BLOCK = 128  # scores per block of `_dense_top_k`: a few vector compares; small enough that a hit rescans little


@njit(cache=True, nogil=True)
def _dense_top_k(scores, first, mask, use_mask, k, out_rows, out_scores, size):  # pragma: no cover - compiled
    """Offer the articles of a dense score array (0: untouched, every touched article > 0; entry ``i`` is
    row ``first + i``) to the heap of the best ``k``, which already holds ``size``; zero the array in the same
    single pass and return the heap's new size. Articles are offered in ascending row order, chunk after chunk.

    Block by block: a vectorized count of the scores above the running threshold (0 until ``k`` are kept, then
    the worst kept score); only a block with any is read score by score. Rows are read in ascending order, so a
    score equal to the worst kept one never displaces it (ties go to the lower row, already kept): only strictly
    greater scores count. Most blocks cost a few vector compares and stores."""
    n = scores.shape[0]
    threshold = out_scores[0] if size == k else 0.0
    full = n - n % _BLOCK
    for start in range(0, full, _BLOCK):
        block = scores[start : start + _BLOCK]  # indexed from 0 with unsigned values: no wraparound arithmetic
        hits = 0
        for x in range(_BLOCK):
            hits += block[np.uint64(x)] > threshold
        if hits > 0:
            for x in range(_BLOCK):
                s = block[np.uint64(x)]
                d = first + start + x
                if s > threshold and (not use_mask or mask[d]):
                    size = _offer(out_scores, out_rows, size, k, s, d)
                    if size == k:
                        threshold = out_scores[0]
        for x in range(_BLOCK):
            block[np.uint64(x)] = 0.0
    for i in range(full, n):
        s = scores[i]
        d = first + i
        if s > threshold and (not use_mask or mask[d]):
            size = _offer(out_scores, out_rows, size, k, s, d)
            if size == k:
                threshold = out_scores[0]
        scores[i] = 0.0
    return size


@njit(cache=True, nogil=True, inline="always")
def _term_factors(idf_t, table, n_lengths, counts, lo, hi, scratch):  # pragma: no cover - compiled
    """How many entries of ``scratch`` now hold this term's weights ``idf_t * table[x]`` (the same product the
    per-posting expression computes, so the sums stay bit-identical), or 0 when that does not pay: the term's
    largest count times the length classes must fit ``table`` and ``scratch`` and be fewer than its postings.
    The posting loop then reads one weight per entry instead of multiplying."""
    if hi - lo <= n_lengths:
        return 0
    term_counts = counts[lo:hi]  # 0-based, in the counts' own dtype: the max vectorizes
    top = term_counts[0]
    for i in range(1, term_counts.shape[0]):
        c = term_counts[i]
        if c > top:
            top = c
    m = np.int64(top) * n_lengths
    if m > table.shape[0] or m > scratch.shape[0] or m >= hi - lo:
        return 0
    for x in range(m):
        scratch[x] = idf_t * table[x]
    return m


@njit(cache=True, nogil=True)
def _general(col_ptr, rows, counts, idf, base, length_id, table, n_lengths, max_count, norm, variant, k1, k1p1,
             delta, has_base, terms, mask, use_mask,
             k, scores, mark, touched, out_rows, out_scores):  # pragma: no cover - compiled
    m = 0
    prefix = 0.0
    for qi in range(terms.shape[0]):
        t = terms[qi]
        idf_t = idf[t]
        stamp = qi + 1
        for j in range(col_ptr[t], col_ptr[t + 1]):
            d = rows[j]
            w = weight(variant, idf_t, np.int64(counts[j]), length_id[d], table, n_lengths, norm, k1, k1p1, delta)
            if mark[d] == 0:
                touched[m] = d
                m += 1
                scores[d] = prefix + w
            else:
                scores[d] += w
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
        if not use_mask or mask[d]:
            size = _offer(out_scores, out_rows, size, k, scores[d], d)
    for i in range(m):
        d = touched[i]
        scores[d] = 0.0
        mark[d] = 0
    return size


@njit(cache=True, nogil=True, inline="always")
def _chunk_entries(col_ptr, rows, counts, t, cursor, qi, stop):  # pragma: no cover - compiled
    """The rows and counts of term ``t``'s entries from its cursor (``cursor[qi]``) up to article ``stop``,
    moving the cursor on past them. Callers index the slices from 0 with unsigned values: no wraparound
    arithmetic (see the module's docstring)."""
    lo = cursor[qi]
    hi = lo + np.searchsorted(rows[lo : col_ptr[t + 1]], stop)
    cursor[qi] = hi
    return rows[lo:hi], counts[lo:hi]


_CHUNK = 32_768  # articles per chunk of `_positive`: their float64 scores (256 KB) stay in a core's L2 cache


@njit(cache=True, nogil=True)
def _positive(col_ptr, rows, counts, idf, length_id, table, n_lengths, max_count, norm, variant, k1, k1p1, delta,
              terms, mask, use_mask, k,
              scores, touched, out_rows, out_scores):  # pragma: no cover - compiled
    """Chunk by chunk of ``_CHUNK`` articles: every term's postings in the chunk (query order, each term's
    cursor moving on), then the chunk's touched articles offered to the heap while their scores are still in
    cache. At 1M articles this took 0.55 against 0.94 ms per stopword-free query of scattering into the whole
    8 MB score array and reading it back (2 cores, 4 MB L2); below ``_CHUNK`` articles it is one chunk."""
    n = length_id.shape[0]
    n_terms = terms.shape[0]
    cursor = np.empty(n_terms, np.int64)
    for qi in range(n_terms):
        cursor[qi] = col_ptr[terms[qi]]
    tabled = variant != 1 and max_count * n_lengths <= table.shape[0]
    size = 0
    for first in range(0, n, _CHUNK):
        stop = min(first + _CHUNK, n)
        base = np.uint32(first)
        m = 0
        for qi in range(n_terms):
            t = terms[qi]
            idf_t = idf[t]
            term_rows, term_counts = _chunk_entries(col_ptr, rows, counts, t, cursor, qi, stop)
            for i in range(term_rows.shape[0]):
                d = np.uint32(term_rows[i])
                local = d - base
                s = scores[local]
                if s == 0.0:
                    touched[m] = local
                    m += 1
                if tabled:  # the same weight as `weight`, without its branches
                    s += idf_t * table[np.uint32((np.uint32(term_counts[i]) - np.uint32(1)) * np.uint32(n_lengths)
                                                 + np.uint32(length_id[d]))]
                else:
                    s += weight(variant, idf_t, np.int64(term_counts[i]), length_id[d], table, n_lengths, norm, k1,
                                k1p1, delta)
                scores[local] = s
        for i in range(m):
            local = touched[i]
            s = scores[local]
            scores[local] = 0.0
            d = first + local
            if use_mask and not mask[d]:
                continue
            if size < k or _better(s, d, out_scores[0], out_rows[0]):
                size = _offer(out_scores, out_rows, size, k, s, d)
    return size


@njit(cache=True, nogil=True)
def _broad(col_ptr, rows, counts, idf, length_id, table, n_lengths, max_count, norm, variant, k1, k1p1, delta,
           terms, mask, use_mask, k,
           scores, factors, out_rows, out_scores):  # pragma: no cover - compiled
    if length_id.shape[0] > _BROAD_CHUNK:
        return _broad_chunked(col_ptr, rows, counts, idf, length_id, table, n_lengths, max_count, norm, variant, k1,
                              k1p1, delta, terms, mask, use_mask, k, scores, out_rows, out_scores)
    tabled = variant != 1 and max_count * n_lengths <= table.shape[0]
    for qi in range(terms.shape[0]):
        t = terms[qi]
        idf_t = idf[t]
        lo, hi = col_ptr[t], col_ptr[t + 1]
        if tabled and _term_factors(idf_t, table, n_lengths, counts, lo, hi, factors) > 0:
            # The term's weights read, not multiplied. Slices indexed from 0 and unsigned indices let the
            # compiler drop numba's negative-index wraparound arithmetic from every access.
            term_rows, term_counts = rows[lo:hi], counts[lo:hi]
            for i in range(term_rows.shape[0]):
                d = np.uint32(term_rows[i])
                scores[d] += factors[np.uint32((np.uint32(term_counts[i]) - np.uint32(1)) * np.uint32(n_lengths)
                                               + np.uint32(length_id[d]))]
        elif tabled:  # the same weights, in a loop without a branch
            for j in range(col_ptr[t], col_ptr[t + 1]):
                d = rows[j]
                scores[d] += idf_t * table[(np.int64(counts[j]) - 1) * n_lengths + length_id[d]]
        else:
            for j in range(col_ptr[t], col_ptr[t + 1]):
                d = rows[j]
                scores[d] += weight(variant, idf_t, np.int64(counts[j]), length_id[d], table, n_lengths, norm, k1,
                                    k1p1, delta)
    return _dense_top_k(scores, 0, mask, use_mask, k, out_rows, out_scores, 0)


_BROAD_CHUNK = 131_072  # articles per chunk of `_broad_chunked` (1 MB of scores)


@njit(cache=True, nogil=True)
def _broad_chunked(col_ptr, rows, counts, idf, length_id, table, n_lengths, max_count, norm, variant, k1, k1p1,
                   delta, terms, mask, use_mask, k, scores, out_rows, out_scores):  # pragma: no cover - compiled
    """`_broad` for more than ``_BROAD_CHUNK`` articles, one chunk of them at a time: every term's postings in
    the chunk (query order), then the chunk's top-k pass while its scores are still in cache, instead of
    writing the whole score array (8 MB at 1M articles) and reading it back. With the touched path's chunks,
    top-10 / 100 / 500 of 300 demo queries over 1M recombined help-centre articles took 0.90x / 0.88x / 0.93x
    the time of the whole-array passes (in-process A/B, interleaved rounds); at 100k, 1.01-1.04x (noise)."""
    n = length_id.shape[0]
    n_terms = terms.shape[0]
    cursor = np.empty(n_terms, np.int64)
    for qi in range(n_terms):
        cursor[qi] = col_ptr[terms[qi]]
    tabled = variant != 1 and max_count * n_lengths <= table.shape[0]
    size = 0
    for first in range(0, n, _BROAD_CHUNK):
        stop = min(first + _BROAD_CHUNK, n)
        base = np.uint32(first)
        for qi in range(n_terms):
            t = terms[qi]
            idf_t = idf[t]
            term_rows, term_counts = _chunk_entries(col_ptr, rows, counts, t, cursor, qi, stop)
            if tabled:  # the same weights as `weight`, in a loop without a branch
                for i in range(term_rows.shape[0]):
                    d = np.uint32(term_rows[i])
                    scores[d - base] += idf_t * table[np.uint32((np.uint32(term_counts[i]) - np.uint32(1))
                                                                * np.uint32(n_lengths) + np.uint32(length_id[d]))]
            else:
                for i in range(term_rows.shape[0]):
                    d = np.uint32(term_rows[i])
                    scores[d - base] += weight(variant, idf_t, np.int64(term_counts[i]), length_id[d], table,
                                               n_lengths, norm, k1, k1p1, delta)
        size = _dense_top_k(scores[: stop - first], first, mask, use_mask, k, out_rows, out_scores, size)
    return size


@njit(cache=True, nogil=True)
def search_top_k(col_ptr, rows, counts, idf, base, length_id, table, n_lengths, max_count, norm, variant, k1,
                 k1p1, delta, has_base, broad_share,
                 terms, mask, use_mask, k, scores, mark, touched, factors, out_rows, out_scores):  # pragma: no cover
    """Fill ``out_rows``/``out_scores`` with the best ``k`` articles containing a query term, best first;
    return how many were found. ``scores``, ``mark`` and ``touched`` are zeroed scratch of ``n_docs``;
    ``factors`` scratch of ``table``'s size (a term's weights per (count, length class))."""
    postings = 0
    positive = not has_base
    for qi in range(terms.shape[0]):
        t = terms[qi]
        postings += col_ptr[t + 1] - col_ptr[t]
        if not idf[t] > 0.0:
            positive = False
    if positive and broad_share > 0 and postings * broad_share >= scores.shape[0]:
        size = _broad(col_ptr, rows, counts, idf, length_id, table, n_lengths, max_count, norm, variant, k1, k1p1,
                      delta, terms, mask, use_mask, k,
                      scores, factors, out_rows, out_scores)
    elif positive:
        size = _positive(col_ptr, rows, counts, idf, length_id, table, n_lengths, max_count, norm, variant, k1,
                         k1p1, delta, terms, mask, use_mask, k, scores, touched, out_rows, out_scores)
    else:
        size = _general(col_ptr, rows, counts, idf, base, length_id, table, n_lengths, max_count, norm, variant,
                        k1, k1p1, delta, has_base, terms, mask,
                        use_mask, k, scores, mark, touched, out_rows, out_scores)
    _sort_best_first(out_scores, out_rows, size)
    return size


@njit(cache=True, nogil=True)
def batch_top_k(col_ptr, rows, counts, idf, base, length_id, table, n_lengths, max_count, norm, variant, k1, k1p1,
                delta, has_base, broad_share,
                terms, term_ptr, first, last, mask, use_mask, k, scores, mark, touched, factors, out_rows,
                out_scores, sizes):  # pragma: no cover - compiled
    """`search_top_k` for queries ``first..last-1`` of a batch (query ``q``'s terms are
    ``terms[term_ptr[q]:term_ptr[q+1]]``; its results row ``q`` of ``out_rows``/``out_scores``), in one call
    without the GIL, so each thread of a batch runs a whole share of it."""
    for q in range(first, last):
        sizes[q] = search_top_k(col_ptr, rows, counts, idf, base, length_id, table, n_lengths, max_count, norm,
                                variant, k1, k1p1, delta, has_base,
                                broad_share, terms[term_ptr[q]:term_ptr[q + 1]], mask, use_mask, k, scores, mark,
                                touched, factors, out_rows[q], out_scores[q])


@njit(cache=True, nogil=True)
def full_scores(col_ptr, rows, counts, idf, base, length_id, table, n_lengths, max_count, norm, variant, k1, k1p1,
                delta, has_base, terms,
                out):  # pragma: no cover - compiled
    """Add every query term's weights (or, for articles without it, its base) to ``out``, in query order:
    rank_bm25's ``get_scores``."""
    n = out.shape[0]
    for qi in range(terms.shape[0]):
        t = terms[qi]
        idf_t = idf[t]
        lo, hi = col_ptr[t], col_ptr[t + 1]
        if has_base:
            b = base[t]
            j = lo
            for d in range(n):
                if j < hi and rows[j] == d:
                    out[d] += weight(variant, idf_t, np.int64(counts[j]), length_id[d], table, n_lengths, norm,
                                     k1, k1p1, delta)
                    j += 1
                else:
                    out[d] += b
        else:
            for j in range(lo, hi):
                d = rows[j]
                out[d] += weight(variant, idf_t, np.int64(counts[j]), length_id[d], table, n_lengths, norm, k1,
                                 k1p1, delta)
