"""Thread scoping on the search path: faiss searches one query with one OpenMP thread and restores the
caller's setting; query encodes are serialized per encoder, so concurrent searches never run two encodes at
once (and still return exactly the single-threaded rankings). No timings are asserted."""

from __future__ import annotations

import threading
import time
from typing import Sequence

import numpy as np
import pytest
from _dense_helpers import HashEncoder

from kbrank import Article, Corpus
from kbrank.index import DenseIndex
from kbrank.searcher import Searcher

faiss = pytest.importorskip("faiss")


def _faiss_openmp_threads() -> int:
    """faiss's own OpenMP runtime as threadpoolctl reports it (the libgomp in faiss's wheel, when separate)."""
    from threadpoolctl import threadpool_info

    pools = [p for p in threadpool_info() if p["user_api"] == "openmp" and "faiss" in p["filepath"]]
    return pools[0]["num_threads"] if pools else faiss.omp_get_max_threads()


class ConcurrencyProbe(HashEncoder):
    """A HashEncoder that counts query encodes and sleeps inside each, so that concurrent searches overlap."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self._lock = threading.Lock()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.calls += 1
        time.sleep(0.002)
        return self.encode_documents(texts)


def _corpus(n: int = 300) -> Corpus:
    return Corpus([Article(id=f"a{i}", title=f"c{i % 20} topic {i % 7}", body=f"word{i % 13} text {i}")
                   for i in range(n)])


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_faiss_searches_one_query_with_one_thread_and_restores_the_setting(kind, monkeypatch) -> None:
    from kbrank.index import dense_faiss

    index = DenseIndex(HashEncoder(), index_type=kind).build(_corpus())
    seen = []
    real = dense_faiss._search_unscoped

    def spy(*args, **kwargs):
        seen.append(faiss.omp_get_max_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(dense_faiss, "_search_unscoped", spy)
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        pool_before = _faiss_openmp_threads()
        found = index.search("c3 topic", 10)
        mask = np.zeros(300, bool)
        mask[::3] = True
        masked = index.search("c3 topic", 10, mask=mask)
        assert faiss.omp_get_max_threads() == 2
        assert _faiss_openmp_threads() == pool_before
    finally:
        faiss.omp_set_num_threads(before)
    assert seen and set(seen) == {dense_faiss.SEARCH_THREADS}
    assert len(found) == 10 and mask[masked.rows].all()


def test_the_scope_restores_the_count_when_the_search_fails() -> None:
    from kbrank.index.dense_faiss import one_faiss_thread

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        with pytest.raises(RuntimeError, match="inside"):
            with one_faiss_thread():
                assert faiss.omp_get_max_threads() == 1
                raise RuntimeError("inside")
        assert faiss.omp_get_max_threads() == 2
    finally:
        faiss.omp_set_num_threads(before)


@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_concurrent_searches_rank_as_one_thread_does(mode) -> None:
    probe = ConcurrencyProbe()
    searcher = Searcher(mode=mode, dense=DenseIndex(probe)).build(_corpus())
    queries = [f"c{i % 20} topic {i % 7} word{i % 13}" for i in range(40)]
    expected = {q: [r.article_id for r in searcher.search(q, 10)] for q in queries}
    probe.calls = 0
    got: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def client(part: list[str]) -> None:
        try:
            for q in part:
                got[q] = [r.article_id for r in searcher.search(q, 10)]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(queries[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert got == expected
    assert probe.calls == len(queries)  # each query encoded exactly once
