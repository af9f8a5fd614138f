"""Batch BM25 top-k on several threads, for `BM25Index.search_tokens_batch`.

The caller's thread maps every query's tokens to term ids once, then the batch is split into one share per
thread: the caller runs share 0 and kept pool workers the others, each as one compiled call without the GIL
(`_bm25_kernels.batch_top_k`). Each thread then wraps its own share's results as `Candidates`
(`Candidates.adopt_rows`), overlapping that Python work with the other shares' compiled work instead of doing
it all after the last one.

Pulling many small chunks instead (each thread mapping and wrapping its own, for balance) was measured and
dropped: in an in-process A/B at 10k articles on 2 cores (interleaved rounds, load average about 1), 4 or 8
chunks per thread gave 0.85-0.95x the batch QPS of one share per thread; each chunk costs a compiled-call
dispatch and GIL hand-offs, and 150 random queries per share already balance.
"""

from __future__ import annotations

import itertools
from concurrent.futures import Future
from functools import partial
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..candidates import Candidates

__all__ = ["top_k_batch"]


def top_k_batch(kernel_args: tuple[Any, ...], vocab: Mapping[str, int], token_lists: Sequence[Sequence[str]],
                k: int, mask: np.ndarray, use_mask: bool, threads: int,
                buffers: Callable[[], tuple[np.ndarray, ...]],
                helpers: Callable[[list[Callable[[], None]]], list[Future[None]]]) -> list[Candidates]:
    """The best ``k`` (>= 1) articles of each query, on ``threads`` (<= queries) threads.

    ``kernel_args``: `batch_top_k`'s leading arguments (postings, statistics, ``broad_share``); ``buffers()``:
    the current thread's zeroed scratch arrays; ``helpers(calls)``: each call started on a pool thread (with
    ``threads == 1`` the caller runs the one share itself: no thread to wake)."""
    from ._bm25_kernels import batch_top_k

    n_queries = len(token_lists)
    ids = [[vocab[t] for t in tokens if t in vocab] for tokens in token_lists]
    term_ptr = np.zeros(n_queries + 1, np.int64)
    np.cumsum([len(q) for q in ids], out=term_ptr[1:])
    terms = np.fromiter(itertools.chain.from_iterable(ids), np.int64, count=int(term_ptr[-1]))
    out_rows = np.empty((n_queries, k), np.int64)
    out_scores = np.empty((n_queries, k), np.float64)
    sizes = np.zeros(n_queries, np.int64)
    bounds = [n_queries * share // threads for share in range(threads + 1)]
    out: list[Candidates | None] = [None] * n_queries

    def work(share: int) -> None:
        lo, hi = bounds[share], bounds[share + 1]
        batch_top_k(*kernel_args, terms, term_ptr, lo, hi, mask, use_mask, k, *buffers(), out_rows, out_scores,
                    sizes)  # type: ignore[call-arg]
        # Row views of this share of the batch's own output arrays, adopted without a copy.
        out[lo:hi] = Candidates.adopt_rows(out_rows[lo:hi], out_scores[lo:hi], sizes[lo:hi].tolist())

    started = helpers([partial(work, share) for share in range(1, threads)]) if threads > 1 else []
    try:
        work(0)  # the caller runs a share too, as an OpenMP master thread does: one thread fewer to wake
    finally:
        for helper in started:
            helper.result()  # waits, and re-raises a helper's exception
    return out  # type: ignore[return-value]  # every share has filled its slots
