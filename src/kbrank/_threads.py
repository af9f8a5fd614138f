"""Kept worker threads, shared by the whole process: BM25's batch shares, and a query's independent steps.

`start` runs calls on the kept pool (grown to the number of calls, never shrunk). `beside` runs one call on a
kept thread while the caller runs another, for steps of one query that neither wait for each other nor hold
the GIL for long: a hybrid query's BM25 search (a compiled call without the GIL) and personalization plan
(numpy over every article) run beside its dense search (faiss answers one query on one core, without the
GIL). The query's encode comes first, alone, so a lone query's encoder may use every core
(`kbrank.index.encoders`). Measured on 2 cores (Intel Xeon, MiniLM, 60 demo queries over 10k articles): the
hybrid query took 8.2 ms p50 this way against 11.4 ms with a one-thread encode and the BM25 search beside it.

Nothing waits for another request's work: when no kept thread is free for `beside` (several queries at once,
more than the cores can overlap), the caller runs both calls itself, one after the other. The pool is made on
first use, not at import, and a forked child (whose copy of the pool has no threads) makes its own.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Callable, TypeVar

__all__ = ["start", "beside", "on_kept_thread", "BESIDE_THREADS"]

A = TypeVar("A")
B = TypeVar("B")

#: How many `beside` calls may run on kept threads at once: one core is left to the callers.
BESIDE_THREADS = max(1, (os.cpu_count() or 1) - 1)

_PREFIX = "kbrank-worker"
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pid = 0
_beside_running = 0
_fork_hook = False


def _forget_in_child() -> None:
    global _lock, _pool, _beside_running
    _lock, _pool, _beside_running = threading.Lock(), None, 0


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
        pool = _pool_for(max(len(calls), BESIDE_THREADS))
        return [pool.submit(call) for call in calls]


def beside(here: Callable[[], A], there: Callable[[], B]) -> tuple[A, B]:
    """``(here(), there())``, with ``there`` run on a kept thread while the caller runs ``here``.

    When no kept thread is free for it, or the caller is a kept thread itself (no pool thread ever waits for
    another), the caller runs ``here`` and then ``there``. An error from either is raised once both are done
    (``here``'s first), so nothing is left running behind the caller's back."""
    global _beside_running
    with _lock:
        free = _beside_running < BESIDE_THREADS and not on_kept_thread()
        if free:
            _beside_running += 1
            future = _pool_for(BESIDE_THREADS).submit(there)
    if not free:
        return here(), there()
    try:
        try:
            first = here()
        except BaseException:
            wait([future])  # its own error, if any, is dropped: the caller's comes first
            raise
        return first, future.result()
    finally:
        with _lock:
            _beside_running -= 1
