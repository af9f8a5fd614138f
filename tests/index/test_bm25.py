"""BM25Index behaviour: search semantics, masks, edits equal to rebuilds, and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbrank import Analyzer, Article, BM25Index, Corpus, CorpusError, NotFittedError, ParameterError

WORDS = ["router", "wifi", "camera", "reset", "firmware", "update", "battery", "app", "login", "error", "the"]


def _corpus(n: int = 40, seed: int = 0) -> Corpus:
    rng = np.random.default_rng(seed)
    return Corpus(
        Article(id=f"kb-{i}", title=" ".join(rng.choice(WORDS, 2)), body=" ".join(rng.choice(WORDS, rng.integers(0, 12))))
        for i in range(n)
    )


@pytest.fixture(scope="module")
def index() -> BM25Index:
    return BM25Index().build(_corpus())


def test_results_sorted_with_ties_by_row(index: BM25Index) -> None:
    cands = index.search("router wifi", k=40)
    scores = index.get_scores("router wifi")
    expected = np.lexsort((np.arange(len(scores)), -scores))
    contains = scores != 0
    assert cands.rows.tolist() == [r for r in expected.tolist() if contains[r]]


def test_k_larger_than_corpus_and_empty_queries(index: BM25Index) -> None:
    assert len(index.search("router", k=10_000)) <= index.n_docs
    assert len(index.search("", k=10)) == 0
    assert len(index.search("the and of", k=10)) == 0  # stopwords only
    assert len(index.search("zzzz unknown", k=10)) == 0
    assert len(index.search("router", k=0)) == 0


def test_mask_applies_before_top_k(index: BM25Index) -> None:
    full = index.search("router wifi camera", k=40)
    mask = np.zeros(index.n_docs, bool)
    allowed = full.rows[1::2]
    mask[allowed] = True
    masked = index.search("router wifi camera", k=5, mask=mask)
    assert len(masked) == min(5, len(allowed))
    assert masked.rows.tolist() == [r for r in full.rows.tolist() if mask[r]][:5]


def _general_path(index: BM25Index, query: str, k: int, mask) -> tuple[list[int], np.ndarray]:
    """The general kernel path (marks, bases; used for BM25+ and idf <= 0 terms), called directly."""
    from kbrank.index import _bm25_kernels as kernels

    state = index.state_
    n = state.n_docs
    c = state.counts
    terms = index._term_ids(state, index.analyzer_(query))
    rows, scores = np.empty(k, np.int64), np.empty(k)
    use = mask is not None
    size = kernels._general(c.col_ptr, c.rows, c.counts, state.idf, state.idf, state.length_id, state.table,
                            state.norm.shape[0], 0, state.norm, state.variant, state.k1,
                            state.k1p1, state.delta, False, terms, mask if use else np.ones(1, bool), use, k,
                            np.zeros(n), np.zeros(n, np.int32), np.zeros(n, np.int32), rows, scores)
    kernels._sort_best_first(scores, rows, size)
    return rows[:size].tolist(), scores[:size]


def test_broad_and_selective_paths_agree() -> None:
    corpus = _corpus(300, seed=3)
    broad = BM25Index(broad_share=10**9).build(corpus)  # always the full-scan path
    narrow = BM25Index(broad_share=0).build(corpus)  # never: the touched-articles path
    mask = np.random.default_rng(1).random(len(corpus)) < 0.5
    for query in ["router", "router the wifi wifi", "battery app login error reset", "camera"]:
        for m in (None, mask):
            a, b = (index.search(query, k=15, mask=m) for index in (broad, narrow))
            rows, scores = _general_path(narrow, query, 15, m)
            assert a.rows.tolist() == b.rows.tolist() == rows
            np.testing.assert_array_equal(a.scores, b.scores)
            np.testing.assert_array_equal(a.scores, scores)


def test_ties_at_the_kth_score_go_to_the_lowest_rows_on_every_path() -> None:
    """Thousands of articles share few (length, count) patterns, so many scores tie exactly at the k-th place;
    the terms have far more postings than length classes (the per-term weight path). Both kernel paths, with
    and without a mask, give the lowest rows among the ties, as a plain numpy sort of the full scores does."""
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(12)]  # each in about a quarter of the articles: idf > 0
    tokens = [[str(w) for w in rng.choice(words, size=rng.integers(2, 5))] for _ in range(3_000)]
    mask = rng.random(len(tokens)) < 0.7
    for share in (10**9, 0):  # always the full scan; never (the touched-articles path)
        index = BM25Index(broad_share=share).build_from_tokens(tokens)
        for query in (["w0"], ["w0", "w1"], ["w2", "w3", "w1"]):
            scores = index.score_tokens(query)
            for m in (None, mask):
                keep = (scores > 0) & (True if m is None else m)
                rows = np.flatnonzero(keep)
                order = rows[np.lexsort((rows, -scores[rows]))]
                # k cuts the first large group of equal scores in half
                values, first, size = np.unique(-scores[order], return_index=True, return_counts=True)
                group = int(np.flatnonzero(size >= 4)[0])
                k = int(first[group] + size[group] // 2)
                got = index.search_tokens(query, k=k, mask=m)
                assert scores[order[k - 1]] == scores[order[k]]  # the k-th place is a tie
                assert got.rows.tolist() == order[:k].tolist()
                np.testing.assert_array_equal(got.scores, scores[order[:k]])


def test_search_batch_equals_single(index: BM25Index) -> None:
    queries = ["router", "wifi reset", "camera battery app", ""]
    batch = index.search_batch(queries, k=7)
    for query, got in zip(queries, batch):
        want = index.search(query, k=7)
        assert got.rows.tolist() == want.rows.tolist()


def test_title_weight_boosts_title_terms() -> None:
    corpus = Corpus([Article(id="a", title="router", body="camera"), Article(id="b", title="camera", body="router"),
                     *(Article(id=f"o{i}", title="battery", body=f"app{i}") for i in range(5))])
    plain = BM25Index().build(corpus).search("router", k=2)
    boosted = BM25Index(title_weight=3).build(corpus).search("router", k=2)
    assert plain.scores[0] == plain.scores[1]
    assert corpus[int(boosted.rows[0])].id == "a" and boosted.scores[0] > boosted.scores[1]


def test_errors_name_the_parameter() -> None:
    with pytest.raises(ParameterError, match=r"variant must be one of .*got 'okpi'.*Did you mean 'okapi'"):
        BM25Index(variant="okpi").build(_corpus())
    with pytest.raises(ParameterError, match=r"b must be a number between 0 and 1; got 2"):
        BM25Index(b=2).build(_corpus())
    with pytest.raises(NotFittedError, match="not built yet"):
        BM25Index().search("x")
    with pytest.raises(ParameterError, match=r"mask must be a boolean array of shape \(40,\)"):
        BM25Index().build(_corpus()).search("router", mask=np.ones(3, bool))
    with pytest.raises(CorpusError, match="no article has any indexable text"):
        BM25Index().build(Corpus([Article(id="a", title="the and")]))


# -- incremental updates equal a full rebuild ---------------------------------------------------------

article_text = st.lists(st.sampled_from(WORDS + ["x200", "2.3.1", "e-102"]), min_size=0, max_size=10).map(" ".join)
operation = st.one_of(
    st.tuples(st.just("add"), st.lists(article_text, min_size=1, max_size=3)),
    st.tuples(st.just("update"), st.lists(st.tuples(st.integers(0, 10**6), article_text), min_size=1, max_size=3)),
    st.tuples(st.just("remove"), st.lists(st.integers(0, 10**6), min_size=1, max_size=2)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=st.lists(article_text, min_size=1, max_size=8), ops=st.lists(operation, max_size=6),
       variant=st.sampled_from(["okapi", "bm25l", "bm25+"]))
def test_any_sequence_of_edits_equals_a_rebuild(initial, ops, variant) -> None:
    analyzer = Analyzer(stemmer=None)
    articles = [Article(id=f"a{i}", title="router", body=t) for i, t in enumerate(initial)]
    index = BM25Index(analyzer=analyzer, variant=variant).build(Corpus(articles))
    next_id = len(articles)
    for kind, payload in ops:
        corpus = index.corpus_
        if kind == "add":
            new = [Article(id=f"a{next_id + j}", title="wifi", body=t) for j, t in enumerate(payload)]
            next_id += len(new)
            index.add(new)
        elif kind == "update":
            chosen = {corpus[r % len(corpus)].id: t for r, t in payload}
            index.update(Article(id=i, title="camera", body=t) for i, t in chosen.items())
        else:
            ids = {corpus[r % len(corpus)].id for r in payload}
            if len(ids) >= len(corpus):
                with pytest.raises(CorpusError):
                    index.remove(ids)
                continue
            index.remove(ids)
    rebuilt = BM25Index(analyzer=analyzer, variant=variant).build(index.corpus_)
    assert index.counts_.terms == rebuilt.counts_.terms
    for query in ["router", "wifi camera", "x200 2.3.1 e-102", "the router router", "battery"]:
        np.testing.assert_array_equal(index.get_scores(query), rebuilt.get_scores(query))
        a, b = index.search(query, k=5), rebuilt.search(query, k=5)
        assert a.rows.tolist() == b.rows.tolist()
        np.testing.assert_array_equal(a.scores, b.scores)


def test_edits_do_not_reanalyze_unchanged_articles() -> None:
    calls: list[str] = []

    class Counting(Analyzer):
        def __call__(self, text: str) -> list[str]:
            calls.append(text)
            return super().__call__(text)

    index = BM25Index(analyzer=Counting()).build(_corpus(30))
    calls.clear()
    index.update([Article(id="kb-3", title="new title")])
    index.add([Article(id="kb-new", title="router")])
    index.remove(["kb-5"])
    assert calls == ["new title", "router"]
