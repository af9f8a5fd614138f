"""Kept worker threads, shared by the whole process: BM25's batch shares and the second half of a large exact
dense scan (`start`).

A single hybrid query does not use them: it encodes, then runs its dense and BM25 searches one after the other
in the caller's thread. Run side by side on a kept thread, the two searches were slower, not faster, right
after an encode: both read memory (a flat scan streams every vector, BM25 scatters into its score array), so
they share the bandwidth, and handing a step to a sleeping thread costs a wake-up. Measured on 2 cores (AMD
EPYC, MiniLM, 100 demo queries in 2 or 3 interleaved rounds, each step timed right after its query's encode):
dense top-500 and BM25 top-500 took 1.53 ms side by side against 1.40 ms one after the other at 10k articles,
6.55 against 6.38 ms at 100k, and 3.18 against 2.99 ms at 1M (HNSW); with a 2 ms pause after the encode (so
that torch's OpenMP workers had stopped spinning), 1.81 against 1.64 ms at 10k.

The pool is made on first use, not at import, and a forked child (whose copy of the pool has no threads) makes
its own.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, TypeVar

__all__ = ["start", "on_kept_thread"]

A = TypeVar("A")

_PREFIX = "kbrank-worker"
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pid = 0
_fork_hook = False


def _forget_in_child() -> None:
    global _lock, _pool
    _lock, _pool = threading.Lock(), None


def _pool_for(workers: int) -> ThreadPoolExecutor:
    """The kept pool, with at least ``workers`` threads (call under ``_lock``)."""
    global _pool, _pid, _fork_hook
    if not _fork_hook and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_forget_in_child)
        _fork_hook = True
    if _pool is not None and _pid != os.getpid():
        _pool = None  # made before a fork by a path the hook did not see: its threads are not here
    if _pool is None or _pool._max_workers < workers:
        if _pool is not None:
            _pool.shutdown(wait=False)  # its running work finishes; nothing more is submitted to it
        _pool, _pid = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=_PREFIX), os.getpid()
    return _pool


def on_kept_thread() -> bool:
    """Whether the caller is one of the kept threads (which must never wait for another kept thread)."""
    return threading.current_thread().name.startswith(_PREFIX)


def start(calls: list[Callable[[], A]]) -> list[Future[A]]:
    """Start each call on a kept thread (the pool is replaced and submitted to under one lock, so nothing is
    ever submitted to a pool that was shut down)."""
    with _lock:
        pool = _pool_for(max(len(calls), 1))
        return [pool.submit(call) for call in calls]
