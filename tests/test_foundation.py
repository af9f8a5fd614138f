"""The foundation the flows share: a guessable public API that fails loudly, templates that builds never
change, one set of defaults, a searcher that saves whole, bounded caches that erasure reaches, a query encoded
once, and hides that never reorder what they keep."""

from __future__ import annotations

import datetime as dt
import gc
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kbrank
from kbrank import (
    Article,
    BM25Index,
    Corpus,
    DenseIndex,
    NotFittedError,
    OwnedProduct,
    ParameterError,
    Personalizer,
    Policy,
    ProfileGateway,
    ProfileView,
    Rule,
    Searcher,
    default_policy,
)
from kbrank.retrieval import DEFAULT_DEPTH, DEFAULT_FUSION_PARAMS, HybridRetriever

sys.path[:0] = [str(Path(__file__).parent / "index"), str(Path(__file__).parent / "personalize")]
from _dense_helpers import CountingEncoder, HashEncoder  # noqa: E402 (the dense tests' fakes)
from test_properties import SETTINGS, corpora, queries, views  # noqa: E402 (the personalization strategies)

TODAY = dt.date(2026, 11, 1)
KEY = "a deployer secret of 32 bytes..."
ARTICLES = [
    Article(id="x200-old", title="Router wifi drops", body="wifi drops on the router", products=("router-x200",),
            versions={"router-x200": ">=2.0,<2.4"}),
    Article(id="x200-new", title="Router wifi drops", body="wifi drops on the router", products=("router-x200",),
            versions={"router-x200": ">=2.4"}),
    Article(id="cam", title="Camera wifi drops", body="wifi drops on the camera", products=("cam-c10",)),
    Article(id="general", title="Wifi drops: general checks", body="wifi drops general router checks"),
    Article(id="eu", title="Router wifi drops in the EU", body="wifi drops router", regions=("eu",)),
]
RECORDS = [
    {"customer_id": "c1", "region": "eu", "owned": [{"product": "router-x200", "version": "FW_2.3.1"}],
     "consents": {"personalization": True, "proactive-contact": True, "analytics": True,
                  "channels": {"email": True}},
     "addresses": {"email": "c1@example.com"}},
    {"customer_id": "c2", "region": "us", "owned": [{"product": "router-x200"}],
     "consents": {"personalization": True, "proactive-contact": True, "channels": {"email": True}},
     "addresses": {"email": "c2@example.com"}},
]


def _corpus() -> Corpus:
    return Corpus(ARTICLES)


def _gateway() -> ProfileGateway:
    gateway = ProfileGateway.in_memory(key=KEY)
    gateway.load_records(RECORDS)
    return gateway


# -- the public API ---------------------------------------------------------------------------------------
def test_the_public_names_import_from_the_top_and_nothing_heavy_loads() -> None:
    names = ("Searcher", "Results", "Result", "Corpus", "Article", "DenseIndex", "BM25Index", "Personalizer",
             "Policy", "Rule", "default_policy", "ProfileGateway", "ProfileView", "OwnedProduct", "evaluate")
    code = ("import sys, kbrank; before = set(sys.modules); "
            f"from kbrank import {', '.join(names)}; "
            "print(sorted(m for m in ('torch', 'faiss', 'sentence_transformers', 'pandas', 'sklearn') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert "Candidates" not in kbrank.__all__ and set(names) <= set(kbrank.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Sercher'"):
        kbrank.Sercher  # noqa: B018


@pytest.fixture(scope="module")
def searcher() -> Searcher:
    return Searcher(mode="bm25", personalizer=Personalizer(today=TODAY)).build(_corpus())


@pytest.mark.parametrize("wrong", [{"owned": []}, "cust-1", 42])
def test_search_refuses_anything_but_a_view_and_says_how_to_get_one(searcher: Searcher, wrong) -> None:
    with pytest.raises(TypeError, match=r"profile must be a kbrank.ProfileView or None.*gateway.read\(.*"
                                        r"ProfileView.of"):
        searcher.search("wifi", profile=wrong)


def test_search_refuses_a_customer_profile_object(searcher: Searcher) -> None:
    from kbrank.privacy import CustomerProfile

    with pytest.raises(TypeError, match="not CustomerProfile"):
        searcher.search("wifi", profile=CustomerProfile(id="p" * 64))


@pytest.mark.parametrize("purpose", ["analytics", "proactive-contact", "evaluation"])
def test_search_refuses_a_view_read_for_another_purpose(searcher: Searcher, purpose: str) -> None:
    gateway = _gateway()
    view = gateway.read("c1", purpose) if purpose != "evaluation" else ProfileView.of("evaluation", owned=())
    with pytest.raises(ParameterError, match=f"a view read for {purpose!r}.*read the profile again"):
        searcher.search("wifi", profile=view)


def test_an_unbuilt_searcher_raises_not_fitted(tmp_path: Path) -> None:
    fresh = Searcher(mode="bm25")
    for call in (lambda: fresh.search("wifi"), lambda: fresh.save(tmp_path / "x"), fresh.available_modes,
                 lambda: fresh.candidates("wifi")):
        with pytest.raises(NotFittedError, match="call build"):
            call()
    with pytest.raises(NotFittedError):
        BM25Index().search("wifi")
    with pytest.raises(NotFittedError):
        DenseIndex(HashEncoder()).search("wifi")


def test_constructors_store_and_build_never_changes_the_templates() -> None:
    bm25, personalizer = BM25Index(k1=1.2), Personalizer(today=TODAY)
    searcher = Searcher(mode="bm25", bm25=bm25, personalizer=personalizer, fusion_params=None)
    assert searcher.fusion_params is None  # stored unchanged
    searcher.build(_corpus())
    assert "state_" not in bm25.__dict__ and not hasattr(personalizer, "applicability_")
    assert searcher.bm25_ is not bm25 and searcher.bm25_.k1 == 1.2
    with pytest.raises(ParameterError, match="mode must be one of"):
        Searcher(mode="hybird").build(_corpus())


def test_defaults_agree_everywhere() -> None:
    assert HybridRetriever(None, None).depth == Searcher().depth == DEFAULT_DEPTH == 500
    assert dict(DEFAULT_FUSION_PARAMS) == {"constant": 30}
    from kbrank.retrieval.fusion import rrf

    runs = {"a": __import__("kbrank.candidates", fromlist=["Candidates"]).Candidates(np.array([3]), np.array([1.0]))}
    assert rrf(runs)[1][0] == pytest.approx(1 / 31)
    index = DenseIndex()
    assert (index.passage_words, index.passage_stride) == (128, 96)


# -- the whole searcher saves -----------------------------------------------------------------------------
def test_a_loaded_searcher_ranks_and_explains_as_the_saved_one(tmp_path: Path) -> None:
    policy = Policy(default_policy().rules + (Rule("eu-boost", "promote", "general", 0.2),))
    aliases = {"router-x200": ["the blue box"], "cam-c10": ["Lumio eye"]}
    saved = Searcher(mode="bm25", personalizer=Personalizer(policy=policy, today=TODAY, product_aliases=aliases))
    saved.build(_corpus()).save(tmp_path / "idx")
    loaded = Searcher.load(tmp_path / "idx")
    view = ProfileView.of("personalization", owned=(OwnedProduct("router-x200", "2.3.1"),), region="eu")
    for query in ("wifi drops", "lumio eye wifi drops", "the blue box wifi"):
        a, b = saved.search(query, profile=view, explain_hidden=True), loaded.search(query, profile=view,
                                                                                      explain_hidden=True)
        assert a.ids == b.ids and [r.score for r in a] == [r.score for r in b]
        assert [r.contributions for r in a] == [r.contributions for r in b]
        assert [h.to_dict() for h in a.hidden] == [h.to_dict() for h in b.hidden]
    assert loaded.personalizer_.named_products("lumio eye") == ("cam-c10",)
    assert loaded.personalizer_.policy_ == policy and loaded.personalizer_.today == TODAY


# -- unknown and firmware versions ------------------------------------------------------------------------
def test_unknown_versions_never_match_or_miss_and_firmware_strings_compare() -> None:
    from kbrank.privacy import Where

    gateway = _gateway()
    assert [v.owned[0].version for v in gateway.scan("proactive-contact", Where(product="router-x200",
                                                                               version="<2.4"))] == ["FW_2.3.1"]
    searcher = Searcher(mode="bm25", personalizer=Personalizer(today=TODAY)).build(_corpus())
    unknown = gateway.read("c2", "personalization")
    assert unknown.owned[0].version is None
    result = searcher.search("router wifi drops", profile=unknown)
    rules = {r.article_id: {c.rule for c in r.contributions} for r in result}
    assert not any({"version-match", "version-near-miss"} & found for found in rules.values())
    firmware = searcher.search("router wifi drops", profile=gateway.read("c1", "personalization"))
    rules = {r.article_id: {c.rule: c.reason for c in r.contributions} for r in firmware}
    assert rules["x200-old"]["version-match"] == "you run router-x200 FW_2.3.1; this article applies to >=2.0,<2.4"
    assert "version-near-miss" in rules["x200-new"]


# -- caches -----------------------------------------------------------------------------------------------
def test_the_plan_cache_is_bounded_by_bytes() -> None:
    corpus = Corpus(Article(id=f"a{i}", title=f"wifi {i}", products=("router-x200",)) for i in range(2000))
    per_plan = 2000 * (1 + 4 + 4)  # a bool, a float32 delta and 32 bits of kept facts per article (no usage)
    searcher = Searcher(mode="bm25", personalizer=Personalizer(today=TODAY, cache_bytes=10 * per_plan)).build(corpus)
    for version in range(40):
        searcher.search("wifi", profile=ProfileView.of("personalization",
                                                       owned=(OwnedProduct("router-x200", f"1.{version}"),)))
    cache = searcher.personalizer_.cache_
    assert len(cache) == 10 and cache.nbytes == 10 * per_plan <= cache.max_bytes
    assert Personalizer().cache_bytes == 64 * 2**20


def test_erasure_empties_every_cache_that_holds_the_customer() -> None:
    gateway = _gateway()
    searcher = Searcher(mode="bm25", personalizer=Personalizer(today=TODAY)).build(_corpus())
    pseudonym = gateway.pseudonymize("c1")
    searcher.search("router wifi drops", profile=gateway.read("c1", "personalization"))
    analyzer = searcher.bm25_.analyzer_
    assert len(searcher.personalizer_.cache_) == 1 and "drops" in analyzer._cache
    hooks = sorted(name.rsplit(".", 1)[0] for name in gateway.erasure_hooks)
    assert hooks == ["kbrank.analyzer.tokens", "kbrank.personalizer.plans"]
    report = gateway.erase("c1")
    assert len(searcher.personalizer_.cache_) == 0 and not analyzer._cache and not analyzer._previous
    assert report.hooks and all(n > 0 for n in report.hooks.values())
    gc.collect()
    # issubclass(type(o), ...), not isinstance: isinstance falls back to o.__class__, which a deprecated torch
    # proxy turns into a FutureWarning (an error here) once torch.distributed is loaded by an earlier test
    holders = [o for o in gc.get_objects() if issubclass(type(o), dict) and pseudonym in o]
    assert not holders, "a dict still holds the erased customer's pseudonym"


def test_a_gateway_does_not_keep_a_dropped_searcher_alive() -> None:
    gateway = _gateway()
    searcher = Searcher(mode="bm25", personalizer=Personalizer(today=TODAY)).build(_corpus())
    searcher.search("wifi", profile=gateway.read("c1", "personalization"))
    assert len(gateway.erasure_hooks) == 2
    del searcher
    gc.collect()
    assert gateway.erasure_hooks == ()


# -- a query is encoded once ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_a_query_is_encoded_once_even_when_retrieval_runs_twice(mode: str) -> None:
    encoder = CountingEncoder(HashEncoder())
    searcher = Searcher(mode=mode, dense=DenseIndex(encoder), personalizer=Personalizer(today=TODAY))
    searcher.build(_corpus())
    view = ProfileView.of("personalization", owned=(OwnedProduct("router-x200", "2.3.1"),), region="eu")
    before = encoder.queries
    searcher.search("wifi drops", profile=view, explain_hidden=True)
    assert encoder.queries - before == 1
    nothing = ProfileView.of("personalization", owned=(OwnedProduct("thermo-t1", "1.0"),), region="us")
    before = encoder.queries
    only_cam = np.array([a.id == "cam" for a in searcher.corpus_])
    fallback = searcher.search("camera", profile=nothing, mask=only_cam)  # all hidden: the plain ranking shows
    assert not fallback.personalized and encoder.queries - before == 1


# -- a hide never reorders what it keeps ------------------------------------------------------------------
HIDES_ONLY = Policy(tuple(r for r in default_policy().rules if r.action == "hide"))


@SETTINGS
@given(corpus=corpora(min_size=5, max_size=30), view=views(), query=queries,
       mode=st.sampled_from(("bm25", "dense", "hybrid")), fusion=st.sampled_from(("rrf", "weighted")))
def test_hiding_keeps_the_unfiltered_order_of_the_rest(corpus, view, query, mode, fusion) -> None:
    """With a policy that only hides, a personalized top 5 is the unpersonalized ranking (at the same depth)
    with the hidden articles taken out: no kept article moves relative to another."""
    searcher = Searcher(mode=mode, dense=DenseIndex(HashEncoder()), fusion=fusion, depth=8, rerank_depth=5,
                        personalizer=Personalizer(policy=HIDES_ONLY, today=TODAY)).build(corpus)
    plan = searcher.personalizer_.plan(view, query)
    hidden = {corpus[int(r)].id for r in np.flatnonzero(plan.hide)}
    personal = searcher.search(query, k=5, profile=view)
    if personal.personalized:
        kept = [i for i in searcher.search(query, k=5).ids if i not in hidden]
        assert personal.ids[:len(kept)] == kept
        assert not hidden & set(personal.ids)


@settings(max_examples=25, deadline=None)
@given(corpus=corpora(min_size=12, max_size=30), view=views(), query=queries)
def test_a_hybrid_top_k_is_full_whenever_k_allowed_articles_match(corpus, view, query) -> None:
    searcher = Searcher(mode="hybrid", dense=DenseIndex(HashEncoder()), depth=4, rerank_depth=10,
                        personalizer=Personalizer(policy=HIDES_ONLY, today=TODAY)).build(corpus)
    plan = searcher.personalizer_.plan(view, query)
    allowed = int((~plan.hide).sum())
    personal = searcher.search(query, k=10, profile=view)
    if personal.personalized:  # the dense side ranks every allowed article
        assert len(personal) == min(10, allowed)
