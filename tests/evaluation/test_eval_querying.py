"""run_queries and SourceRuns against direct searches with the real MiniLM model and real faiss, and
Searcher.with_personalizer (same indexes, another personalizer)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pytest

from kbrank import Article, Corpus, NotFittedError, ParameterError
from kbrank.evaluation import SourceRuns, run_queries, trec_order
from kbrank.personalize import Personalizer, Policy
from kbrank.privacy import OwnedProduct, ProfileView
from kbrank.retrieval.hybrid import HybridRetriever
from kbrank.searcher import Searcher

ARTICLES = [
    ("wifi-x200", "Router X200 drops the wireless connection", "Move the router and update the firmware.", "router-x200"),
    ("wifi-x300", "Router X300 drops the wireless connection", "Restart the router and pick another channel.", "router-x300"),
    ("wifi-any", "Wi-Fi keeps disconnecting", "Check the cable, then restart the router and the modem.", None),
    ("cam-night", "Camera night vision is blurry", "Clean the lens and turn off infrared reflections.", "cam-c10"),
    ("cam-wifi", "Camera loses its Wi-Fi connection", "Move the camera closer to the router.", "cam-c10"),
    ("pw", "Reset your account password", "Use the forgotten password link on the sign-in page.", None),
    ("fw-x200", "Router X200 firmware update failed", "Restart the router and retry the update.", "router-x200"),
    ("bill", "Change your billing address", "Open account settings and edit the invoice address.", None),
    ("bell", "Doorbell battery drains quickly", "Lower the motion sensitivity to save battery.", "bell-d1"),
    ("thermo", "Thermostat schedule not followed", "Check the heating schedule and time zone.", "thermo-t1"),
]
QUERIES = {"q1": "wifi keeps dropping", "q2": "firmware update failed", "q3": "forgot my password",
           "q4": "blurry picture at night", "q5": "zzz qqq"}
OWNER = ProfileView.of("personalization", owned=(OwnedProduct(product="router-x200", version="2.3.1"),))


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus(Article(id=i, title=t, body=b, products=(p,) if p else ()) for i, t, b, p in ARTICLES)


class RememberedQueries:
    """The real MiniLM encoder, encoding each distinct query text once (the searches here repeat a few queries
    many times; on a busy 2-core machine each encoding costs a lot more than the rest of a search)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.vectors = inner, {}
        self.name, self.dim, self.fingerprint = inner.name, inner.dim, inner.fingerprint

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        for text in texts:
            if text not in self.vectors:
                self.vectors[text] = self.inner.encode_queries([text])[0]
        return np.stack([self.vectors[text] for text in texts])

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_documents(texts)


@pytest.fixture(scope="module")
def searcher(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    pytest.importorskip("faiss")
    pytest.importorskip("sentence_transformers")
    from kbrank.index import DenseIndex, SentenceTransformerEncoder

    dense = DenseIndex(RememberedQueries(SentenceTransformerEncoder()), cache_dir=tmp_path_factory.mktemp("cache"))
    return Searcher(mode="hybrid", dense=dense, depth=5).build(corpus)


def test_run_queries_keeps_each_search_in_its_order(searcher: Searcher) -> None:
    for mode in (None, "bm25", "dense"):
        run = run_queries(searcher, QUERIES, 4, mode=mode, name="plain")
        assert list(run) == list(QUERIES) and run.name == "plain"
        for query_id, text in QUERIES.items():
            expected = searcher.search(text, 4, mode=mode).ids
            assert trec_order(run[query_id]) == expected, (mode, query_id)
            assert list(run[query_id].values()) == [float(len(expected) - i) for i in range(len(expected))]
    assert dict(run_queries(searcher, {"q5": "zzz qqq"}, 3, mode="bm25")["q5"]) == {}  # found nothing: present


def test_run_queries_personalizes_each_query_with_its_view(searcher: Searcher) -> None:
    views = {"q1": OWNER, "q2": OWNER, "q3": None, "q4": OWNER, "q5": None}
    run = run_queries(searcher, QUERIES, 4, views=views)
    plain = run_queries(searcher, QUERIES, 4)
    for query_id, text in QUERIES.items():
        assert trec_order(run[query_id]) == searcher.search(text, 4, profile=views[query_id]).ids
    assert trec_order(run["q3"]) == trec_order(plain["q3"])  # no view: the unpersonalized ranking
    assert "cam-night" in plain["q4"] and "cam-night" not in run["q4"]  # a product the owner does not have


def test_run_queries_refuses_bad_arguments(searcher: Searcher) -> None:
    with pytest.raises(ParameterError, match=r"views must be a view \(or None\) for every query id.*'q2'"):
        run_queries(searcher, QUERIES, 4, views={"q1": OWNER})
    with pytest.raises(ParameterError, match="k must be an integer >= 1"):
        run_queries(searcher, QUERIES, 0)
    with pytest.raises(ParameterError, match="queries must be a mapping of query id -> query text"):
        run_queries(searcher, ["wifi"], 4)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"queries\['q'\] must be the query text"):
        run_queries(searcher, {"q": 3}, 4)  # type: ignore[dict-item]


SETTINGS = [{"fusion": "rrf", "fusion_params": {"constant": 60}, "depth": 3},
            {"fusion": "rrf", "fusion_params": {"constant": 1}, "depth": 8},
            {"fusion": "weighted", "fusion_params": {"weights": {"bm25": 0.3, "dense": 0.7}, "norm": "zscore"},
             "depth": 5}]


def test_source_runs_equal_live_searches(searcher: Searcher, corpus: Corpus) -> None:
    runs = SourceRuns.retrieve(searcher.bm25_, searcher.dense_, QUERIES, 8)
    assert len(runs) == len(QUERIES) and runs.depth == 8 and runs.ids == corpus.ids
    for k in (1, 3, 8):
        for source, index in (("bm25", searcher.bm25_), ("dense", searcher.dense_)):
            top = runs.top(source, k)
            for query_id, text in QUERIES.items():
                np.testing.assert_array_equal(top[query_id].rows, index.search(text, k).rows)
        for setting in SETTINGS:
            if max(setting["depth"], k) > 8:
                continue
            live = HybridRetriever(searcher.bm25_, searcher.dense_, **setting)
            fused = runs.fused(k, **setting)
            for query_id, text in QUERIES.items():
                expected = live.search(text, k)
                np.testing.assert_array_equal(fused[query_id].rows, expected.rows, err_msg=f"{setting} {k}")
                np.testing.assert_allclose(fused[query_id].scores, expected.scores, rtol=0, atol=1e-12)
    found = runs.fused(3, **SETTINGS[0])
    run = runs.to_run(found, name="hybrid")
    assert run.name == "hybrid"
    assert {q: trec_order(run[q]) for q in QUERIES} == {q: [corpus.ids[r] for r in found[q].rows] for q in QUERIES}


def test_source_runs_share_one_encoding_and_refuse_what_they_cannot_answer(searcher: Searcher) -> None:
    vectors = {q: searcher.dense_.encode_query(t) for q, t in QUERIES.items()}
    shared = SourceRuns.retrieve(searcher.bm25_, searcher.dense_, QUERIES, 4, query_vectors=vectors)
    alone = SourceRuns.retrieve(searcher.bm25_, searcher.dense_, QUERIES, 4)
    for q in QUERIES:
        np.testing.assert_array_equal(shared.top("dense", 4)[q].rows, alone.top("dense", 4)[q].rows)
    with pytest.raises(ParameterError, match=r"max\(depth, k\) must be at most the stored depth 4.*depth=5"):
        shared.fused(5, **SETTINGS[0])
    with pytest.raises(ParameterError, match="k must be at most the stored depth 4"):
        shared.top("bm25", 10)
    with pytest.raises(ParameterError, match="did you mean 'dense'"):
        shared.top("dens", 2)
    with pytest.raises(ParameterError, match=r"query_vectors must be a vector for every query id.*'q2'"):
        SourceRuns.retrieve(searcher.bm25_, searcher.dense_, QUERIES, 4, query_vectors={"q1": vectors["q1"]})
    with pytest.raises(ParameterError, match="depth must be an integer >= 1"):
        SourceRuns({}, depth=0, ids=())


def test_with_personalizer_shares_the_indexes_and_leaves_the_original_alone(searcher: Searcher,
                                                                           corpus: Corpus) -> None:
    neutral = searcher.with_personalizer(Personalizer(policy=Policy(())))
    assert neutral.bm25_ is searcher.bm25_ and neutral.dense_ is searcher.dense_
    assert neutral.personalizer_ is not searcher.personalizer_ and neutral.personalizer_.policy_.rules == ()
    assert searcher.personalizer_.policy_.rules  # the original keeps the default policy
    from kbrank.index import DenseIndex

    dense = DenseIndex(searcher.dense_.encoder_, cache_dir=searcher.dense_.cache_dir)  # same model, same cache
    rebuilt = Searcher(mode="hybrid", dense=dense, depth=5, personalizer=Personalizer(policy=Policy(()))).build(corpus)
    for text in QUERIES.values():
        assert neutral.search(text, 4, profile=OWNER).ids == rebuilt.search(text, 4, profile=OWNER).ids
    assert neutral.search(QUERIES["q4"], 4, profile=OWNER).ids != searcher.search(QUERIES["q4"], 4, profile=OWNER).ids
    with pytest.raises(NotFittedError, match="not built"):
        Searcher(mode="bm25").with_personalizer(Personalizer())


def test_the_docstring_example_runs() -> None:
    import doctest

    import kbrank.evaluation.querying as module

    assert doctest.testmod(module).failed == 0
