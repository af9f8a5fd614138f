"""`kbrank._threads`: the kept pool (`start`) and `on_kept_thread`."""

from __future__ import annotations

import multiprocessing
import threading

from kbrank import _threads


def _name() -> str:
    return threading.current_thread().name


def test_start_runs_each_call_on_a_kept_thread() -> None:
    names = [f.result(timeout=20) for f in _threads.start([_name, _name])]
    assert all(name.startswith("kbrank-worker") for name in names)
    assert threading.current_thread().name not in names
    assert _threads.start([_threads.on_kept_thread])[0].result(timeout=20)
    assert not _threads.on_kept_thread()


def _in_child(queue: "multiprocessing.Queue[str]") -> None:
    queue.put(_threads.start([_name])[0].result(timeout=30))


def test_a_forked_child_makes_its_own_pool() -> None:
    _threads.start([_name])[0].result(timeout=20)  # the parent's pool exists before the fork
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
