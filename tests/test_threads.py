"""`kbrank._threads`: the kept pool and `beside`, which runs a query's independent steps side by side."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from kbrank import _threads


def _name() -> str:
    return threading.current_thread().name


def test_beside_runs_the_second_call_on_a_kept_thread() -> None:
    here, there = _threads.beside(_name, _name)
    assert here == threading.current_thread().name
    assert there.startswith("kbrank-worker") and there != here


def test_the_callers_error_comes_first_and_only_once_both_calls_are_done() -> None:
    finished = threading.Event()
    started = threading.Event()

    def slow() -> None:
        started.set()
        assert not finished.wait(0.2)  # the caller has already failed; it must still wait for this call
        finished.set()
        raise RuntimeError("there")

    def fail() -> None:
        started.wait(5)
        raise ValueError("here")

    with pytest.raises(ValueError, match="here"):
        _threads.beside(fail, slow)
    assert finished.is_set()
    with pytest.raises(RuntimeError, match="there"):
        _threads.beside(lambda: 1, lambda: (_ for _ in ()).throw(RuntimeError("there")))
    assert _threads._beside_running == 0


def test_a_kept_thread_never_waits_for_another_and_busy_threads_mean_the_caller_runs_both() -> None:
    # Nested: the call on the kept thread calls beside itself, which runs both of its calls there, inline.
    outer, (inner_here, inner_there) = _threads.beside(_name, lambda: _threads.beside(_name, _name))
    assert inner_here == inner_there and inner_here.startswith("kbrank-worker") and outer != inner_here
    # Busy: while every beside thread is held, a further beside runs both calls in its caller.
    release = threading.Event()
    holders = [threading.Thread(target=_threads.beside, args=(lambda: release.wait(10), _name))
               for _ in range(_threads.BESIDE_THREADS)]
    for holder in holders:
        holder.start()
    try:
        for _ in range(500):
            if _threads._beside_running == _threads.BESIDE_THREADS:
                break
            threading.Event().wait(0.01)
        assert _threads._beside_running == _threads.BESIDE_THREADS
        here, there = _threads.beside(_name, _name)
        assert here == there == threading.current_thread().name
    finally:
        release.set()
        for holder in holders:
            holder.join(10)
    assert _threads._beside_running == 0


def _in_child(queue: "multiprocessing.Queue[str]") -> None:
    queue.put(_threads.beside(lambda: "here", _name)[1])


def test_a_forked_child_makes_its_own_pool() -> None:
    _threads.beside(_name, _name)  # the parent's pool exists before the fork
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_in_child, args=(queue,))
    child.start()
    try:
        assert queue.get(timeout=60).startswith("kbrank-worker")
    finally:
        child.join(60)
    assert child.exitcode == 0


def test_start_grows_the_pool_to_one_thread_per_call() -> None:
    barrier = threading.Barrier(4, timeout=10)  # would time out if fewer than four calls ran at once
    futures = _threads.start([barrier.wait for _ in range(4)])
    assert sorted(f.result(timeout=20) for f in futures) == [0, 1, 2, 3]
