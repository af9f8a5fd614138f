"""Batch BM25 top-k on several threads, for `BM25Index.search_tokens_batch`.

The batch is split into one share per thread: the caller runs share 0 and kept pool workers the others. Each
thread maps its share's tokens to term ids, runs the share as one compiled call without the GIL
(`_bm25_kernels.batch_top_k`), and wraps its results as `Candidates` (`Candidates.adopt_rows`): the Python
parts of one share overlap the compiled part of the others instead of all running before and after them.

Pulling many small chunks instead (each thread mapping and wrapping its own, for balance) was measured and
dropped: in an in-process A/B at 10k articles on 2 cores (interleaved rounds, 20 ms pauses, load average 1), 4 or 8
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
    bounds = [n_queries * share // threads for share in range(threads + 1)]
    out: list[Candidates | None] = [None] * n_queries

    def work(share: int) -> None:
        lo, hi = bounds[share], bounds[share + 1]
        ids = [[vocab[t] for t in token_lists[q] if t in vocab] for q in range(lo, hi)]
        term_ptr = np.zeros(hi - lo + 1, np.int64)
        np.cumsum([len(q) for q in ids], out=term_ptr[1:])
        terms = np.fromiter(itertools.chain.from_iterable(ids), np.int64, count=int(term_ptr[-1]))
        out_rows = np.empty((hi - lo, k), np.int64)
        out_scores = np.empty((hi - lo, k), np.float64)
        sizes = np.zeros(hi - lo, np.int64)
        batch_top_k(*kernel_args, terms, term_ptr, 0, hi - lo, mask, use_mask, k, *buffers(), out_rows, out_scores,
                    sizes)  # type: ignore[call-arg]
        # Row views of this share's own output arrays, adopted without a copy.
        out[lo:hi] = Candidates.adopt_rows(out_rows, out_scores, sizes.tolist())

    started = helpers([partial(work, share) for share in range(1, threads)]) if threads > 1 else []
    try:
        work(0)  # the caller runs a share too, as an OpenMP master thread does: one thread fewer to wake
    finally:
        for helper in started:
            helper.result()  # waits, and re-raises a helper's exception
    return out  # type: ignore[return-value]  # every share has filled its slots
