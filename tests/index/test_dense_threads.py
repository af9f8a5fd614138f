"""Thread scoping on the search path: faiss searches one query with one OpenMP thread; MiniLM encodes a lone
query at the caller's count and one that overlaps another with one thread, restoring the caller's setting; a
hybrid query is encoded first, then searched in BM25 beside its dense search; concurrent searches return
exactly the single-threaded rankings, each query encoded once. No timings are asserted."""

from __future__ import annotations

import threading
import time
from typing import Sequence

import numpy as np
import pytest
from _dense_helpers import HashEncoder, minilm  # noqa: F401 (fixture)

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


def test_a_lone_query_encodes_at_the_callers_count_and_an_overlapping_one_on_one_thread(minilm) -> None:
    """The real MiniLM: the forward pass of a lone query and of a batch sees the caller's torch thread count;
    a single query encoded while another is in flight in the process sees one thread; the caller's count
    (and other threads') is the same after each call."""
    import torch

    from kbrank.index import encoders

    seen: list[int] = []
    first = minilm.model_[0]  # the transformer module: its forward pass runs inside the scope
    handle = first.register_forward_pre_hook(lambda module, args: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    other: list[int] = []
    try:
        lone = minilm.encode_queries(["reset my router password"])
        with encoders._single_query() as alone:  # another query's encode in flight
            assert alone
            overlapping = minilm.encode_queries(["reset my router password"])
        assert torch.get_num_threads() == before
        worker = threading.Thread(target=lambda: other.append(torch.get_num_threads()))
        worker.start()
        worker.join()
        batch = minilm.encode_queries(["reset my router password", "printer offline"])
    finally:
        handle.remove()
    assert seen == [before, 1, before]
    assert other == [before]
    assert encoders._encoding == 0
    assert lone.shape == (1, 384) and batch.shape == (2, 384)
    assert float(lone[0] @ batch[0]) > 0.999999  # the same query, whatever the thread count
    assert float(lone[0] @ overlapping[0]) > 0.999999


class _Order(HashEncoder):
    """A HashEncoder that records the steps of a search in order, with the thread each ran on."""

    def __init__(self, steps: list[tuple[str, str]]) -> None:
        super().__init__()
        self.steps = steps

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.steps.append(("encode", threading.current_thread().name))
        return self.encode_documents(texts)


def test_a_hybrid_query_encodes_then_searches_dense_and_bm25_in_the_callers_thread(monkeypatch) -> None:
    """Encode, dense search, then BM25 search: in that order and all in the caller's
    thread (side by side on a kept thread the two searches were slower right after an encode)."""
    from kbrank.index.bm25 import BM25Index

    steps: list[tuple[str, str]] = []
    real_bm25, real_dense = BM25Index.search, DenseIndex.search

    def recorded(name, real):
        def search(self, *args, **kwargs):
            steps.append((name, threading.current_thread().name))
            return real(self, *args, **kwargs)
        return search

    searcher = Searcher(mode="hybrid", dense=DenseIndex(_Order(steps))).build(_corpus())
    expected = [r.article_id for r in searcher.search("c3 topic word5", 10)]
    monkeypatch.setattr(BM25Index, "search", recorded("bm25", real_bm25))
    monkeypatch.setattr(DenseIndex, "search", recorded("dense", real_dense))
    steps.clear()
    found = [r.article_id for r in searcher.search("c3 topic word5", 10)]
    me = threading.current_thread().name
    assert steps == [("encode", me), ("dense", me), ("bm25", me)]
    assert found == expected


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_an_exact_scan_in_two_halves_equals_a_plain_check(kind, monkeypatch) -> None:
    """With the split threshold lowered, a masked exact scan runs in two halves (the second on a kept thread, or
    inline when called from one); its ids equal a plain numpy ranking of the allowed vectors (score, then id)."""
    from kbrank import _threads
    from kbrank.index import dense_faiss

    monkeypatch.setattr(dense_faiss, "_SPLIT_FROM", 1)
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((4099, 24)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = dense_faiss.build_faiss(kind, vectors, hnsw_m=16, ef_construction=40)
    seen: list[str] = []
    real = dense_faiss._search_unscoped

    def spy(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(dense_faiss, "_search_unscoped", spy)
    for share, depth in ((0.01, 10), (0.03, 500), (0.04, 5000)):
        allowed = rng.random(vectors.shape[0]) < share
        query = (vectors[11] + 0.2 * rng.standard_normal(24)).astype(np.float32)[None, :]
        rows = np.flatnonzero(allowed)
        plain = vectors[rows] @ query[0]
        expected = rows[np.lexsort((rows, -plain))[:depth]]
        seen.clear()
        def search(allowed: np.ndarray = allowed, query: np.ndarray = query, depth: int = depth) -> tuple:
            return dense_faiss.ranked_passages(index, kind, query, allowed, int(allowed.sum()), depth=depth,
                                               ef_search=16, satisfied=lambda *_: True)

        scores, ids, _ = search()
        assert ids.tolist() == expected.tolist()
        assert np.all(np.diff(scores) <= 0) and len(set(ids.tolist())) == ids.size
        assert len(seen) == 2  # two halves, each one faiss scan
        # from a kept thread, both halves run inline, with the same answer
        seen.clear()
        inline = _threads.start([search])[0].result()
        assert inline[1].tolist() == expected.tolist() and len(set(seen)) == 1
