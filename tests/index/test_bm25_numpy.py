"""The numpy BM25 path (`kbrank.index._bm25_numpy`, used by ``kernels="numpy"`` and the one-shot CLI) against
the compiled kernels and rank_bm25: the same rows and the same float64 scores, bit for bit, and the same
verdicts on damaged postings. That a cold ``kbrank search`` never imports numba is held by
tests/test_cli_cold_start.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rank_bm25
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbrank import Article, BM25Index, Corpus, ParameterError, Searcher
from kbrank.index import _bm25_numpy as plain
from kbrank.index import _bm25_postings as compiled

VARIANTS = {"okapi": rank_bm25.BM25Okapi, "bm25l": rank_bm25.BM25L, "bm25+": rank_bm25.BM25Plus}
WORDS = [f"w{i}" for i in range(12)]

documents = st.lists(st.lists(st.sampled_from(WORDS), max_size=12), min_size=1, max_size=30)
# a few long documents whose counts exceed the factor table, so the kernels' division branch is used too
repeated = st.lists(st.tuples(st.sampled_from(WORDS), st.integers(1, 400)), max_size=3)
queries = st.lists(st.sampled_from(WORDS + ["unknown"]), min_size=1, max_size=6)


def _numpy_search(index: BM25Index, tokens: list[str], k: int, mask: np.ndarray | None):
    state = index.state_
    ids = np.array([state.counts.vocab[t] for t in tokens if t in state.counts.vocab], np.int64)
    return plain.search_top_k(index._kernel_args(state), ids, mask, min(k, state.n_docs))


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(docs=documents, long=repeated, query=queries, variant=st.sampled_from(sorted(VARIANTS)),
       k=st.integers(1, 12), masked=st.booleans(), data=st.data())
def test_numpy_search_equals_the_kernels_and_rank_bm25(docs, long, query, variant, k, masked, data) -> None:
    tokens = docs + [[word] * count + ["w0"] for word, count in long]
    if not any(tokens):
        tokens[0] = ["w0"]
    index = BM25Index(variant=variant).build_from_tokens(tokens)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(tokens), max_size=len(tokens)))) if masked else None
    rows, scores = _numpy_search(index, query, k, mask)
    expected = index.search_tokens(query, k, mask=mask)  # the compiled kernels
    np.testing.assert_array_equal(rows, expected.rows)
    np.testing.assert_array_equal(scores, expected.scores)  # bit for bit, not approximately
    reference = VARIANTS[variant](tokens).get_scores(query)
    np.testing.assert_array_equal(scores, reference[rows])
    assert rows.dtype == np.int64 and scores.dtype == np.float64


def test_numpy_loaded_index_and_searcher_answer_as_the_compiled_ones(tmp_path: Path) -> None:
    corpus = Corpus([Article(id=f"a{i}", title=f"router {'wifi ' * (i % 4)}reset", body=f"model X{i % 7} firmware")
                     for i in range(60)])
    Searcher(mode="bm25").build(corpus).save(tmp_path / "index")
    fast = Searcher.load(tmp_path / "index", kernels="numpy")
    assert fast.bm25_.kernels_ == "numpy"
    default = Searcher.load(tmp_path / "index")
    assert default.bm25_.kernels_ == "compiled"
    for query in ["router reset", "wifi", "x3 firmware wifi wifi", "nothing here"]:
        got, want = fast.search(query, k=7), default.search(query, k=7)
        assert [r.article_id for r in got] == [r.article_id for r in want]
        assert [r.score for r in got] == [r.score for r in want]
    index = BM25Index.load(tmp_path / "index", kernels="numpy")
    assert index.kernels_ == "numpy" and len(index.search("router", k=100)) == 60
    for load in (BM25Index.load, Searcher.load):
        with pytest.raises(ParameterError, match="kernels"):
            load(tmp_path / "index", kernels="fast")


def _postings(draw_docs: list[list[int]], n_docs: int):
    """CSC postings by term of documents given as term lists (each document's terms with repeats)."""
    n_terms = 1 + max((t for doc in draw_docs for t in doc), default=0)
    by_term: list[dict[int, int]] = [{} for _ in range(n_terms)]
    for row, doc in enumerate(draw_docs):
        for t in doc:
            by_term[t][row] = by_term[t].get(row, 0) + 1
    by_term = [entries for entries in by_term if entries]
    col_ptr = np.zeros(len(by_term) + 1, np.int64)
    np.cumsum([len(e) for e in by_term], out=col_ptr[1:])
    rows = np.array([r for e in by_term for r in sorted(e)], np.int32)
    counts = np.array([e[r] for e in by_term for r in sorted(e)], np.uint16)
    doc_len = np.array([len(doc) for doc in draw_docs] + [0] * (n_docs - len(draw_docs)), np.int64)
    return col_ptr, rows, counts, doc_len


MUTATIONS = ("none", "row-high", "row-negative", "unsorted", "zero-count", "length", "empty-term")


@settings(max_examples=250, deadline=None, derandomize=True)
@given(docs=st.lists(st.lists(st.integers(0, 8), min_size=1, max_size=8), min_size=2, max_size=12),
       mutation=st.sampled_from(MUTATIONS), where=st.integers(0, 10_000), chunk=st.sampled_from([2, 3, 5, 1 << 22]))
def test_numpy_checks_agree_with_the_compiled_checks(docs, mutation, where, chunk) -> None:
    """One mutation at a time, at any position and across chunk boundaries (small chunks): the same code."""
    n_docs = len(docs)
    col_ptr, rows, counts, doc_len = _postings(docs, n_docs)
    rows = rows.astype(np.int32)
    j = where % rows.shape[0]
    if mutation == "row-high":
        rows[j] = n_docs + where % 3
    elif mutation == "row-negative":
        rows[j] = -1 - where % 3
    elif mutation == "unsorted":
        starts = set(col_ptr[:-1].tolist())
        candidates = [i for i in range(1, rows.shape[0]) if i not in starts]
        if not candidates:
            return
        i = candidates[where % len(candidates)]
        rows[i] = rows[i - 1]
    elif mutation == "zero-count":
        counts[j] = 0
    elif mutation == "length":
        doc_len[where % n_docs] += 1 + where % 2
    elif mutation == "empty-term":
        col_ptr = np.insert(col_ptr, 1 + where % (col_ptr.shape[0] - 1), col_ptr[1 + where % (col_ptr.shape[0] - 1)])
    saved, plain._CHUNK = plain._CHUNK, chunk
    try:
        got = plain.check_postings(col_ptr, rows, counts, n_docs, doc_len)
    finally:
        plain._CHUNK = saved
    want = compiled.check_postings(col_ptr, rows, counts, n_docs, doc_len)
    assert got == want
    assert (got == 0) == (mutation == "none")
