"""Reference tests: kbrank's BM25 equals rank_bm25 (all three variants) given the same tokens."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rank_bm25

from kbrank import Analyzer, BM25Index

VARIANTS = {"okapi": rank_bm25.BM25Okapi, "bm25l": rank_bm25.BM25L, "bm25+": rank_bm25.BM25Plus}


def _pair(variant: str, tokens: list[list[str]], **params):
    ours = BM25Index(variant=variant, **params).build_from_tokens(tokens)
    theirs = VARIANTS[variant](tokens, **params)
    return ours, theirs


def _assert_same(ours: BM25Index, theirs, queries: list[list[str]], *, exact: bool) -> None:
    for query in queries:
        expected = theirs.get_scores(query)
        got = ours.score_tokens(query)
        if exact:
            np.testing.assert_array_equal(got, expected)
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)
        # the top-k path (compiled) returns the same scores for the articles it returns
        cands = ours.search_tokens(query, k=10)
        np.testing.assert_array_equal(cands.scores, expected[cands.rows])
        # order: score desc, ties by row, among articles that contain a query term
        contains = np.zeros(len(expected), bool)
        for token in set(query):
            if token in ours.counts_.vocab:
                t = ours.counts_.vocab[token]
                contains[ours.row_idx_[ours.col_ptr_[t]:ours.col_ptr_[t + 1]]] = True
        rows = np.flatnonzero(contains)
        order = rows[np.lexsort((rows, -expected[rows]))][:10]
        np.testing.assert_array_equal(cands.rows, order)


NEGATIVE_IDF_CORPUS = [
    "the router wifi drops".split(),
    "the router resets the wifi".split(),
    "the camera wifi pairing".split(),
    "the router firmware update".split(),
    "camera night mode".split(),
    "the wifi the wifi the router".split(),
    [],  # an article with no tokens at all
]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_negative_idf_corpus_matches_rank_bm25(variant: str) -> None:
    """'the' and 'wifi' occur in more than half of the articles, so Okapi's epsilon rule applies."""
    ours, theirs = _pair(variant, NEGATIVE_IDF_CORPUS)
    queries = [["the"], ["wifi", "router"], ["the", "the", "camera"], ["unknown"], ["night", "wifi", "update"], []]
    _assert_same(ours, theirs, queries, exact=True)
    if variant == "okapi":
        assert any(theirs.idf[w] == theirs.epsilon * theirs.average_idf for w in ("the", "wifi"))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("params", [{}, {"k1": 0.9, "b": 0.4}, {"k1": 2.0, "b": 1.0}])
def test_random_corpora_match_rank_bm25(variant: str, params: dict) -> None:
    rng = np.random.default_rng(7)
    vocab = [f"w{i}" for i in range(300)]
    weights = 1.0 / np.arange(1, 301) ** 1.1
    weights /= weights.sum()
    # at b=1 an empty article makes rank_bm25's BM25+ divide 0 by 0, so random articles have >= 1 token
    tokens = [[str(t) for t in rng.choice(vocab, size=rng.integers(1, 60), p=weights)] for _ in range(400)]
    queries = [[str(t) for t in rng.choice(vocab, size=rng.integers(1, 7), p=weights)] for _ in range(50)]
    ours, theirs = _pair(variant, tokens, **params)
    _assert_same(ours, theirs, queries, exact=True)


_CHUNK_BOUNDARIES = (32_767, 32_768, 65_535, 65_536, 131_071, 131_072, 262_143, 262_144, 300_002)


@pytest.fixture(scope="module")
def chunked_corpus() -> tuple[list[list[str]], list[list[str]]]:
    """300,003 short articles: more than two chunks of either path (32,768 articles for the touched-articles
    path, 131,072 for the broad one), with two rare words on both sides of every chunk boundary."""
    rng = np.random.default_rng(11)
    vocab = np.array([f"w{i}" for i in range(4000)])
    weights = 1.0 / np.arange(1, 4001) ** 1.05
    weights /= weights.sum()
    lengths = rng.integers(1, 9, size=300_003)
    drawn = rng.choice(vocab, size=int(lengths.sum()), p=weights).tolist()
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    tokens = [drawn[bounds[i]:bounds[i + 1]] for i in range(len(lengths))]
    for boundary in _CHUNK_BOUNDARIES:
        tokens[boundary] = tokens[boundary] + ["w3999", "w3998"]
    queries = [["w3999", "w3998"], ["w3999", "w1200", "w3999"], ["w5", "w3999"]] + [
        [str(t) for t in rng.choice(vocab[300:], size=rng.integers(1, 6))] for _ in range(10)]
    return tokens, queries


@pytest.mark.parametrize("variant", ["okapi", "bm25l"])
@pytest.mark.parametrize("broad_share", [0, 10**9], ids=["touched", "broad"])
def test_index_of_several_score_chunks_matches_rank_bm25(variant: str, broad_share: int, chunked_corpus) -> None:
    """Above 32,768 articles (touched-articles path) and 131,072 (broad path) a search scores one chunk of
    articles at a time, each term's cursor moving on from chunk to chunk: top-k sets, order and scores equal
    rank_bm25's over every chunk, with and without a mask that hides every third article."""
    tokens, queries = chunked_corpus
    ours = BM25Index(variant=variant, broad_share=broad_share).build_from_tokens(tokens)
    theirs = VARIANTS[variant](tokens)
    mask = np.arange(len(tokens)) % 3 != 0
    for query in queries:
        expected = theirs.get_scores(query)
        contains = np.zeros(len(expected), bool)
        for token in set(query):
            t = ours.counts_.vocab[token]
            contains[ours.row_idx_[ours.col_ptr_[t]:ours.col_ptr_[t + 1]]] = True
        assert set(_CHUNK_BOUNDARIES) <= set(np.flatnonzero(contains)) or "w3999" not in query
        for k, allowed in ((10, None), (300, None), (300, mask)):
            rows = np.flatnonzero(contains if allowed is None else contains & allowed)
            order = rows[np.lexsort((rows, -expected[rows]))][:k]
            cands = ours.search_tokens(query, k=k, mask=allowed)
            np.testing.assert_array_equal(cands.rows, order)
            np.testing.assert_array_equal(cands.scores, expected[order])


def _scifact(scifact_dir):
    corpus = [json.loads(line) for line in (scifact_dir / "corpus.jsonl").read_text("utf-8").splitlines()]
    lines = (scifact_dir / "queries.jsonl").read_text("utf-8").splitlines()
    queries = {q["_id"]: q["text"] for q in map(json.loads, lines)}
    qrels = (scifact_dir / "qrels" / "test.tsv").read_text("utf-8").splitlines()[1:]
    test_ids = sorted({line.split("\t")[0] for line in qrels})
    return corpus, [queries[q] for q in test_ids]


@pytest.fixture(scope="module")
def scifact_tokens(scifact_dir):
    corpus, queries = _scifact(scifact_dir)
    analyzer = Analyzer()
    docs = [analyzer(f"{d['title']} {d['text']}") for d in corpus]
    return docs, [analyzer(q) for q in queries]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_scifact_all_300_test_queries_match_rank_bm25(variant: str, scifact_tokens) -> None:
    docs, queries = scifact_tokens
    assert len(queries) == 300
    ours, theirs = _pair(variant, docs)
    for query in queries:
        expected = theirs.get_scores(query)
        got = ours.score_tokens(query)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)
        top = ours.search_tokens(query, k=10)
        reference = np.lexsort((np.arange(len(expected)), -expected))[:10]
        np.testing.assert_array_equal(top.rows, reference)
