"""Batch BM25 top-k on several threads, for `BM25Index.search_tokens_batch`.

The queries are cut into small chunks, and every thread (the caller's and ``threads - 1`` pool workers) pulls
the next chunk from a shared counter until none is left. For each chunk a thread maps its tokens to term ids
and, once the compiled call returns, wraps the results as `Candidates`: Python work that needs the GIL. The
compiled call (`_bm25_kernels.batch_top_k`) runs without it. Two things follow:

- one thread's Python work overlaps the other threads' compiled work, instead of running before and after
  it while the other cores wait (at 10k articles that work is about as long as the compiled part of a
  stopword-free batch);
- a thread that got less CPU (another process on its core) or slower queries simply takes fewer chunks, so no
  core waits at the end for a share fixed in advance.

A chunk's results are exactly `search_top_k`'s for each of its queries: which thread ran it, and in which
order, changes nothing.
"""

from __future__ import annotations

import itertools
from concurrent.futures import Future
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..candidates import Candidates

__all__ = ["chunk_size", "top_k_batch"]

_CHUNKS_PER_THREAD = 8  # enough to even out unequal queries and cores; each chunk costs ~10 µs of dispatch
_MIN_CHUNK = 4  # a query at 10k articles takes ~10-50 µs: smaller chunks would be mostly dispatch


def chunk_size(n_queries: int, threads: int) -> int:
    """Queries per chunk: about ``_CHUNKS_PER_THREAD`` chunks per thread, at least ``_MIN_CHUNK`` queries
    each, but never so large that some thread gets no chunk."""
    per_thread = -(-n_queries // threads)
    return max(1, min(per_thread, max(_MIN_CHUNK, -(-n_queries // (threads * _CHUNKS_PER_THREAD)))))


def top_k_batch(kernel_args: tuple[Any, ...], vocab: Mapping[str, int], token_lists: Sequence[Sequence[str]],
                k: int, mask: np.ndarray, use_mask: bool, threads: int,
                buffers: Callable[[], tuple[np.ndarray, ...]],
                helpers: Callable[[Callable[[], None], int], list[Future[None]]]) -> list[Candidates]:
    """The best ``k`` (>= 1) articles of each query, on ``threads`` threads.

    ``kernel_args``: `batch_top_k`'s leading arguments (postings, statistics, ``broad_share``); ``buffers()``:
    the calling thread's zeroed scratch arrays; ``helpers(work, n)``: ``work`` started on ``n`` other threads."""
    from ._bm25_kernels import batch_top_k

    n_queries = len(token_lists)
    size = chunk_size(n_queries, threads)
    n_chunks = -(-n_queries // size)
    threads = min(threads, n_chunks)
    out: list[Candidates | None] = [None] * n_queries
    chunks = itertools.count()  # next() on it is atomic under the GIL: each chunk goes to exactly one thread

    def work() -> None:
        scratch = buffers()
        for chunk in chunks:
            lo = chunk * size
            if lo >= n_queries:
                return
            hi = min(lo + size, n_queries)
            ids = [[vocab[t] for t in token_lists[q] if t in vocab] for q in range(lo, hi)]
            term_ptr = np.zeros(hi - lo + 1, np.int64)
            np.cumsum([len(q) for q in ids], out=term_ptr[1:])
            terms = np.fromiter(itertools.chain.from_iterable(ids), np.int64, count=int(term_ptr[-1]))
            out_rows = np.empty((hi - lo, k), np.int64)
            out_scores = np.empty((hi - lo, k), np.float64)
            sizes = np.zeros(hi - lo, np.int64)
            batch_top_k(*kernel_args, terms, term_ptr, 0, hi - lo, mask, use_mask, k, *scratch, out_rows,
                        out_scores, sizes)  # type: ignore[call-arg]
            # Each chunk's output arrays are its own: the results adopt row views of them (no copy). Iterating
            # makes the views in C; a row is sliced only when it holds fewer than k hits.
            out[lo:hi] = [Candidates.adopt(rows, scores) if n == k else Candidates.adopt(rows[:n], scores[:n])
                          for rows, scores, n in zip(out_rows, out_scores, sizes.tolist())]

    if threads == 1:
        work()
    else:
        started = helpers(work, threads - 1)
        try:
            work()
        finally:
            for helper in started:
                helper.result()  # waits, and re-raises a helper's exception
    return out  # type: ignore[return-value]  # every slot is filled once all chunks are done
