"""`BM25Index.search_tokens_batch`: shares run on several threads give each query exactly rank_bm25's top-k
(checked against rank_bm25's score vectors and a plain-Python selection), whatever the number of threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import rank_bm25
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbrank import BM25Index
from kbrank.candidates import Candidates

WORDS = [f"w{i}" for i in range(30)]
REFERENCE = {"okapi": rank_bm25.BM25Okapi, "bm25+": rank_bm25.BM25Plus, "bm25l": rank_bm25.BM25L}


def _expected(reference: rank_bm25.BM25, docs: list[list[str]], query: list[str], k: int,
              mask: np.ndarray | None) -> tuple[list[int], list[float]]:
    """The best k articles containing a query word (and allowed by the mask), by score desc then row, in plain
    Python over rank_bm25's scores."""
    scores = reference.get_scores(query)
    rows = [d for d, doc in enumerate(docs) if any(t in doc for t in query) and (mask is None or mask[d])]
    rows.sort(key=lambda d: (-scores[d], d))
    return rows[:k], [float(scores[d]) for d in rows[:k]]


docs_strategy = st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=12), min_size=1, max_size=40)
queries_strategy = st.lists(st.lists(st.sampled_from([*WORDS, "unknown"]), max_size=5), max_size=70)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=docs_strategy, queries=queries_strategy, k=st.integers(1, 12), n_threads=st.integers(1, 4),
       variant=st.sampled_from(sorted(REFERENCE)), masked=st.booleans(), broad_share=st.sampled_from([0, 4]),
       data=st.data())
def test_batch_equals_rank_bm25_on_any_threads(docs, queries, k, n_threads, variant, masked, broad_share,
                                                 data) -> None:
    if not any(docs):
        docs = [*docs, ["w0"]]
    index = BM25Index(variant=variant, broad_share=broad_share).build_from_tokens(docs)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(docs), max_size=len(docs))), bool) if masked \
        else None
    got = index.search_tokens_batch(queries, k=k, mask=mask, n_threads=n_threads)
    reference = REFERENCE[variant](docs)
    assert len(got) == len(queries)
    for query, found in zip(queries, got):
        rows, scores = _expected(reference, docs, query, k, mask)
        assert found.rows.tolist() == rows
        assert found.scores.tolist() == scores  # bit-identical floats
        single = index.search_tokens(query, k=k, mask=mask)
        assert single.rows.tolist() == rows and single.scores.tolist() == scores


def test_many_shares_on_many_threads_equal_rank_bm25() -> None:
    rng = np.random.default_rng(3)
    docs = [[str(w) for w in rng.choice(WORDS, int(rng.integers(1, 20)))] for _ in range(300)]
    queries = [[str(w) for w in rng.choice(WORDS, int(rng.integers(0, 6)))] for _ in range(500)]
    index = BM25Index().build_from_tokens(docs)
    reference = rank_bm25.BM25Okapi(docs)
    for n_threads in (1, 2, 3, 7):
        got = index.search_tokens_batch(queries, k=10, n_threads=n_threads)
        for query, found in zip(queries, got):
            rows, scores = _expected(reference, docs, query, 10, None)
            assert found.rows.tolist() == rows and found.scores.tolist() == scores
            assert not found.rows.flags.writeable and not found.scores.flags.writeable


def test_concurrent_batches_on_one_index_share_its_pool() -> None:
    rng = np.random.default_rng(5)
    docs = [[str(w) for w in rng.choice(WORDS, int(rng.integers(1, 20)))] for _ in range(200)]
    queries = [[str(w) for w in rng.choice(WORDS, 3)] for _ in range(200)]
    index = BM25Index().build_from_tokens(docs)
    want = [(c.rows.tolist(), c.scores.tolist()) for c in (index.search_tokens(q, k=5) for q in queries)]
    results: dict[int, list] = {}

    def run(n_threads: int) -> None:
        for _ in range(5):
            got = index.search_tokens_batch(queries, k=5, n_threads=n_threads)
            results.setdefault(n_threads, []).append([(c.rows.tolist(), c.scores.tolist()) for c in got])

    threads = [threading.Thread(target=run, args=(n,)) for n in (2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [2, 3, 4]
    assert all(run == want for runs in results.values() for run in runs)


def test_adopt_rows_keeps_each_rows_hits_read_only_and_refuses_misuse() -> None:
    rows = np.arange(12, dtype=np.int64).reshape(3, 4)
    scores = np.linspace(1.0, 0.0, 12).reshape(3, 4)
    got = Candidates.adopt_rows(rows, scores, [4, 1, 0])
    assert [c.rows.tolist() for c in got] == [[0, 1, 2, 3], [4], []]
    assert got[1].scores.tolist() == [scores[1, 0]]
    assert all(not c.rows.flags.writeable and not c.scores.flags.writeable and not c.sources for c in got)
    with pytest.raises(ValueError, match="size 5 outside"):
        Candidates.adopt_rows(np.zeros((1, 4), np.int64), np.zeros((1, 4)), [5])
    with pytest.raises(ValueError, match="2-d int64 rows"):
        Candidates.adopt_rows(np.zeros((1, 4), np.int32), np.zeros((1, 4)), [4])
