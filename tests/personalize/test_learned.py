"""The learned reranker: features, training from judgments and from position-biased clicks (IPW), held-out
evaluation split by customer, JSON persistence without pickle, and its use as a drop-in `Personalizer`."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kbrank import Article, Corpus, IndexFormatError, NotFittedError, ParameterError
from kbrank.applicability import compile_applicability
from kbrank.datasets import load_helpcentre
from kbrank.evaluation import ClickSession, evaluate, simulate_clicks
from kbrank.personalize import Personalizer
from kbrank.personalize.features import (
    ARTICLE_FEATURES,
    RETRIEVAL_FEATURES,
    spec_bounds,
    version_features,
    version_number,
)
from kbrank.personalize.learned import BASE_FEATURES, LearnedPersonalizer, LearnedReranker, collect_examples, propensity
from kbrank.privacy import OwnedProduct, ProfileGateway, ProfileView
from kbrank.searcher import Searcher

KEY = "test-key-0123456789abcdef-0123456789"


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    """The demo help centre (BM25), its consenting views, a seeded 70/30 split by customer and the models."""
    hc = load_helpcentre()
    aliases = {p: [c["short_name"], c["name"]] for p, c in hc.catalog.items()}
    searcher = Searcher(mode="bm25", personalizer=Personalizer(today=hc.as_of, product_aliases=aliases)).build(hc.corpus)
    with ProfileGateway.from_helpcentre(hc, key=KEY) as gateway:
        views = {c["customer_id"]: gateway.read(c["customer_id"], "personalization", degrade=True)
                 for c in hc.customers}
    customers = sorted(views)
    random.Random(7).shuffle(customers)
    test_customers = set(customers[: len(customers) * 3 // 10])
    train = [q for q in hc.queries if q.customer_id not in test_customers]
    test = [q for q in hc.queries if q.customer_id in test_customers]
    examples = collect_examples(searcher, [(q.id, q.text, views[q.customer_id]) for q in train])
    logged = {q.id: searcher.search(q.text, 10, profile=views[q.customer_id]).ids for q in train}
    sessions = simulate_clicks(logged, hc.qrels, seed=3)
    return {"hc": hc, "aliases": aliases, "searcher": searcher, "views": views, "train": train, "test": test,
            "test_customers": test_customers, "examples": examples, "sessions": sessions,
            "judged": LearnedReranker().fit(examples, hc.qrels),
            "clicks": LearnedReranker().fit_clicks(examples, sessions),
            "naive": LearnedReranker(propensity_eta=0.0).fit_clicks(examples, sessions)}


def _learned(demo: dict[str, Any], model: LearnedReranker) -> Searcher:
    personalizer = LearnedPersonalizer(reranker=model, today=demo["hc"].as_of, product_aliases=demo["aliases"])
    return demo["searcher"].with_personalizer(personalizer)


def _ndcg(demo: dict[str, Any], searcher: Searcher, personalized: bool = True) -> float:
    run = {}
    for q in demo["test"]:
        ids = searcher.search(q.text, 10, profile=demo["views"][q.customer_id] if personalized else None).ids
        run[q.id] = {a: 10.0 - i for i, a in enumerate(ids)}
    qrels = {q.id: dict(demo["hc"].qrels[q.id]) for q in demo["test"]}
    return evaluate(qrels, run, ["ndcg@10"], missing="zero").means["ndcg_cut_10"]


# -- features ------------------------------------------------------------------------------------------------
def test_spec_bounds_and_version_numbers() -> None:
    assert spec_bounds(">=2.0.3,<2.4") == (200.03, 204.0)
    assert spec_bounds("==2.3.*") == (203.0, 204.0)
    assert spec_bounds("~=2.2") == (202.0, 300.0)
    lower, upper = spec_bounds(">=2.4")
    assert lower == 204.0 and np.isnan(upper)
    assert all(np.isnan(spec_bounds("!=2.0")))
    from packaging.version import Version

    assert version_number(Version("1.9")) < version_number(Version("1.10")) < version_number(Version("2.0"))


def test_version_distance_is_zero_inside_and_grows_outside() -> None:
    corpus = Corpus([Article(id="range", title="a", products=("router-x200",), versions={"router-x200": ">=2.0,<2.4"}),
                     Article(id="open", title="b", products=("router-x200",)),
                     Article(id="other", title="c", products=("cam-c10",), versions={"cam-c10": "<1.0"})])
    app = compile_applicability(corpus)
    bounds = np.asarray([spec_bounds(s) for s in app.specs])

    def gaps(version: str) -> tuple[float, float]:
        view = ProfileView.of("personalization", owned=(OwnedProduct(product="router-x200", version=version),))
        out = version_features(app, bounds, view, ())
        assert out["version_gap_below"][1:].tolist() == [0.0, 0.0]  # unranged, and not an owned product
        return float(out["version_gap_below"][0]), float(out["version_gap_above"][0])

    assert gaps("2.3.1") == (0.0, 0.0)
    assert gaps("2.5.0") == pytest.approx((0.0, np.log1p(1.0)))  # one minor release past "<2.4"
    assert gaps("2.4") == pytest.approx((0.0, np.log1p(0.01)))  # the excluded bound itself: just outside
    assert gaps("1.9") == pytest.approx((np.log1p(91.0), 0.0))  # 1.9 -> 2.0 is 91 minor steps
    assert gaps("2.6")[1] > gaps("2.5")[1]


def test_examples_hold_retrieval_and_article_features(demo: dict[str, Any]) -> None:
    example = demo["examples"][0]
    assert BASE_FEATURES == (*RETRIEVAL_FEATURES, *ARTICLE_FEATURES)
    assert example.features.shape == (len(example.rows), len(BASE_FEATURES))
    column = dict(zip(BASE_FEATURES, example.features.T))
    np.testing.assert_allclose(column["retrieval_rank"], 1.0 / np.arange(1, len(example.rows) + 1))
    assert column["retrieval_score"].max() == 1.0 and column["retrieval_score"].min() == 0.0
    assert not column["dense_rank"].any()  # a BM25-only searcher has no dense source
    assert set(np.unique(column["owned_product"])) <= {0.0, 1.0}
    assert (column["article_age_years"] >= 0).all()


def test_split_by_customer_leaks_nothing(demo: dict[str, Any]) -> None:
    train_customers = {q.customer_id for q in demo["train"]}
    assert train_customers.isdisjoint(demo["test_customers"]) and demo["test"]
    trained_on = {e.query_id for e in demo["examples"]}
    assert trained_on <= {q.id for q in demo["train"]}
    assert {s.query_id for s in demo["sessions"]} <= {q.id for q in demo["train"]}


# -- training and held-out quality ---------------------------------------------------------------------------
def test_learned_from_judgments_beats_unpersonalized_on_held_out_customers(demo: dict[str, Any]) -> None:
    plain = _ndcg(demo, demo["searcher"], personalized=False)
    policy = _ndcg(demo, demo["searcher"])
    learned = _ndcg(demo, _learned(demo, demo["judged"]))
    assert learned >= plain + 0.25
    assert learned >= policy - 0.03
    coef = demo["judged"].coefficients()
    assert coef["version_near_miss"] < 0 and coef["deprecated"] < 0 and coef["owned_product"] > 0


def test_click_logs_are_simulated_deterministically_with_position_bias() -> None:
    rankings = {"q1": [f"a{i}" for i in range(10)]}
    qrels = {"q1": {f"a{i}": 2 for i in range(10)}}  # all equally relevant: clicks follow examination only
    first = simulate_clicks(rankings, qrels, sessions_per_query=2000, seed=1)
    assert first == simulate_clicks(rankings, qrels, sessions_per_query=2000, seed=1)
    rate = np.mean([s.clicked for s in first], axis=0)
    np.testing.assert_allclose(rate, 0.9 / np.arange(1, 11), atol=0.03)
    assert all(not s or c for session in first for s, c in zip(session.solved, session.clicked))


def test_propensity_is_a_clipped_power_of_the_rank() -> None:
    np.testing.assert_allclose(propensity(np.array([1, 2, 4, 100]), 1.0, 0.1), [1.0, 0.5, 0.25, 0.1])
    np.testing.assert_allclose(propensity(np.array([1, 4]), 0.5, 0.01), [1.0, 0.5])
    np.testing.assert_allclose(propensity(np.array([3, 7]), 0.0, 0.1), [1.0, 1.0])  # eta 0: no correction


def test_learned_from_clicks_with_ipw_beats_unpersonalized(demo: dict[str, Any]) -> None:
    model = demo["clicks"]
    assert model.feature_names_[-1] == "popularity" and model.popularity_
    assert _ndcg(demo, _learned(demo, model)) >= _ndcg(demo, demo["searcher"], personalized=False) + 0.25
    # Without the correction, the top positions' extra clicks are credited to retrieval: the uncorrected model
    # leans more on the retrieval score and rank than the corrected one.
    retrieval = ("retrieval_score", "retrieval_rank", "bm25_score", "bm25_rank")
    weight = {name: sum(m.coefficients()[f] for f in retrieval) for name, m in
              (("ipw", model), ("naive", demo["naive"]))}
    assert weight["naive"] > weight["ipw"]


def test_popularity_for_training_excludes_the_querys_own_clicks(demo: dict[str, Any]) -> None:
    example = demo["examples"][0]
    sessions = [ClickSession(example.query_id, example.article_ids[:2], (True, False), (False, False))] * 3
    model = LearnedReranker().fit_clicks([example], sessions)
    assert model.popularity_ == {example.article_ids[0]: pytest.approx(np.log1p(3.0))}
    # during training the only clicks were the query's own, so its popularity column was all zeros
    assert model.scale_[-1] == 1.0 and model.mean_[-1] == 0.0


# -- persistence ---------------------------------------------------------------------------------------------
def test_saved_as_json_and_reloaded_to_identical_predictions(demo: dict[str, Any], tmp_path: Path) -> None:
    for name in ("judged", "clicks"):
        model = demo[name]
        path = tmp_path / f"{name}.json"
        model.save(path)
        payload = json.loads(path.read_text())  # plain JSON: no pickle anywhere
        assert payload["format"] == "kbrank-learned-reranker" and payload["feature_names"] == list(model.feature_names_)
        loaded = LearnedReranker.load(path)
        for example in demo["examples"][:20]:
            features = example.features
            if model.feature_names_[-1] == "popularity":
                features = np.column_stack([features, np.zeros(len(features))])
            np.testing.assert_array_equal(loaded.decision_function(features), model.decision_function(features))
        w, b = loaded.effective_weights()
        np.testing.assert_allclose(features @ w + b, loaded.decision_function(features), rtol=1e-12, atol=1e-12)
        q = demo["test"][0]
        view = demo["views"][q.customer_id]
        before = _learned(demo, model).search(q.text, 10, profile=view)
        after = _learned(demo, loaded).search(q.text, 10, profile=view)
        assert before.ids == after.ids and [r.score for r in before] == [r.score for r in after]


def test_a_changed_or_foreign_file_is_refused(demo: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    demo["judged"].save(path)
    payload = json.loads(path.read_text())
    payload["coef"][0] += 1.0
    path.write_text(json.dumps(payload))
    with pytest.raises(IndexFormatError, match="checksum does not match"):
        LearnedReranker.load(path)
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(IndexFormatError, match="not a learned reranker"):
        LearnedReranker.load(path)
    with pytest.raises(IndexFormatError, match="cannot read"):
        LearnedReranker.load(tmp_path / "missing.json")


# -- drop-in use and errors ----------------------------------------------------------------------------------
def test_learned_personalizer_keeps_the_policy_hides_and_explains_its_scores(demo: dict[str, Any]) -> None:
    searcher = _learned(demo, demo["judged"])
    q = next(q for q in demo["test"] if q.names_product is None and demo["views"][q.customer_id].personalized)
    view = demo["views"][q.customer_id]
    results = searcher.search(q.text, 10, profile=view, explain_hidden=True)
    assert results.personalized and len(results) == 10
    plan = searcher.personalizer_.plan(view, q.text)
    rows = {a.id: i for i, a in enumerate(searcher.corpus_)}
    assert not any(plan.hide[rows[a]] for a in results.ids)
    assert all(h.reasons and h.reasons[0].action == "hide" for h in results.hidden)
    contributions = [c for r in results for c in r.contributions]
    assert contributions and all(c.rule.startswith("learned:") and c.reason for c in contributions)
    assert all((c.delta > 0) == (c.action == "promote") for c in contributions)
    owned = next(c for r in results for c in r.contributions if c.rule == "learned:owned_product")
    assert owned.reason.startswith("you own ")
    refused = ProfileView.of("personalization", personalized=False, reason="no consent")
    assert searcher.search(q.text, 10, profile=refused).ids == searcher.search(q.text, 10).ids


def test_unfitted_and_bad_settings_are_reported() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        LearnedReranker().decision_function(np.zeros((1, len(BASE_FEATURES))))
    with pytest.raises(NotFittedError, match="not fitted"):
        LearnedPersonalizer(reranker=LearnedReranker()).fit(Corpus([Article(id="a", title="x")]))
    with pytest.raises(ParameterError, match="reranker must be a fitted LearnedReranker"):
        LearnedPersonalizer(reranker="model").fit(Corpus([Article(id="a", title="x")]))
    with pytest.raises(ParameterError, match="propensity_clip must be a number in"):
        LearnedReranker(propensity_clip=0).fit_clicks([], [])
    with pytest.raises(ParameterError, match="examples must be a non-empty list"):
        LearnedReranker().fit([], {})
    assert LearnedReranker(C=0.5).C == 0.5  # the constructor stores, fit learns
    with pytest.raises(ParameterError, match="ClickSession must be shown, clicked and solved of the same length"):
        ClickSession("q", ("a",), (True, False), (False,))


def test_ages_are_measured_from_today() -> None:
    corpus = Corpus([Article(id="a", title="x", updated_at=dt.date(2025, 11, 1)), Article(id="b", title="y")])
    from kbrank.personalize.features import article_ages

    ages = article_ages(compile_applicability(corpus), dt.date(2026, 11, 1))
    assert ages.tolist() == [pytest.approx(365 / 365.25), 0.0]


def test_a_large_corpus_ranks_and_explains_with_the_learned_model_as_with_per_article_scores(demo, monkeypatch) -> None:
    """Above FULL_DELTAS_UP_TO articles the learned scores are computed for the candidates (the threshold is
    lowered here); the results, scores and receipts are the same."""
    import sys
    from pathlib import Path

    from kbrank.personalize import personalizer as module

    sys.path.insert(0, str(Path(__file__).parent))
    from test_plan_columns import results_of

    searcher = _learned(demo, demo["judged"])
    with ProfileGateway.from_helpcentre(demo["hc"], key=KEY) as gateway:
        full = results_of(searcher, gateway, demo["test"][:60])
        monkeypatch.setattr(module, "FULL_DELTAS_UP_TO", 0)
        searcher.personalizer_.clear_caches()
        assert results_of(searcher, gateway, demo["test"][:60]) == full
