"""Metric names, and each trec_eval behavior kbrank replicates, checked against pytrec_eval."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trec_reference import TOLERANCE, assert_matches_reference, pytrec_values

from kbrank.errors import ParameterError
from kbrank.evaluation import Run, evaluate, metric_names, parse_metric, trec_order
from kbrank.evaluation.metrics import average_precision, ndcg, precision, recall, reciprocal_rank

TREC_METRICS = [
    "ndcg_cut_1",
    "ndcg_cut_3",
    "ndcg_cut_10",
    "ndcg",
    "map",
    "map_cut_3",
    "recip_rank",
    "P_1",
    "P_5",
    "recall_3",
    "recall_10",
    "success_1",
    "success_5",
    "Rprec",
]


# --- names ---


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("ndcg_cut_10", "ndcg_cut_10"),
        ("ndcg@10", "ndcg_cut_10"),
        ("NDCG@10", "ndcg_cut_10"),
        ("ndcg_cut.10", "ndcg_cut_10"),
        ("ndcg", "ndcg"),
        ("map", "map"),
        ("map@100", "map_cut_100"),
        ("mrr", "recip_rank"),
        ("MRR@10", "recip_rank_cut_10"),
        ("recip_rank", "recip_rank"),
        ("recall_100", "recall_100"),
        ("recall@100", "recall_100"),
        ("P_10", "P_10"),
        ("p@10", "P_10"),
        ("precision@5", "P_5"),
        ("P.5", "P_5"),
        ("hit@3", "success_3"),
        ("Rprec", "Rprec"),
        ("r-precision", "Rprec"),
    ],
)
def test_aliases_map_onto_trec_eval_names(alias: str, name: str) -> None:
    assert parse_metric(alias).name == name


def test_trec_eval_measure_is_the_option_for_trec_eval_m() -> None:
    assert parse_metric("ndcg@10").trec_eval_measure == "ndcg_cut.10"
    assert parse_metric("map").trec_eval_measure == "map"
    assert parse_metric("mrr@10").trec_eval_measure is None  # kbrank's addition, not in trec_eval


@pytest.mark.parametrize(
    ("bad", "suggestion"), [("ndgc@10", "ndcg@10"), ("recal_100", "recall_10"), ("P", None)]
)
def test_unknown_names_are_refused_with_a_suggestion(bad: str, suggestion: str | None) -> None:
    with pytest.raises(ParameterError, match="metric must be a trec_eval name") as caught:
        parse_metric(bad)
    assert caught.value.value == bad
    if suggestion:
        assert "Did you mean" in str(caught.value)


def test_a_zero_cutoff_is_refused() -> None:
    with pytest.raises(ParameterError, match="cutoff of at least 1"):
        parse_metric("ndcg@0")


def test_a_metric_built_by_hand_must_be_consistent() -> None:
    """Metric(...) checks what parse_metric guarantees: a P without a cutoff used to fail in compute (TypeError),
    and an ndcg_cut without one silently scored the whole ranking."""
    from kbrank.evaluation import Metric

    with pytest.raises(ParameterError, match="cutoff of at least 1 for P"):
        Metric("P", "P")
    with pytest.raises(ParameterError, match="cutoff of at least 1 for ndcg_cut"):
        Metric("ndcg_cut", "ndcg_cut")
    with pytest.raises(ParameterError, match="None: map scores the whole ranking"):
        Metric("map_10", "map", 10)
    with pytest.raises(ParameterError, match="metric family") as caught:
        Metric("ndcg_10", "ndgc_cut", 10)
    assert "Did you mean 'ndcg_cut'?" in str(caught.value)
    assert Metric("P_5", "P", 5) == parse_metric("P_5")


def test_metric_names_all_parse_to_themselves() -> None:
    for name in metric_names():
        assert parse_metric(name).name == name


# --- the functions on their own ---


def test_functions_follow_their_formulas() -> None:
    grades = np.array([0, 2, 1])
    relevant = grades >= 1
    assert precision(relevant, 5) == 2 / 5  # a short ranking still divides by k
    assert recall(relevant, 4, 2) == 1 / 4
    assert reciprocal_rank(relevant) == 1 / 2
    assert reciprocal_rank(relevant, 1) == 0.0
    assert average_precision(relevant, 3) == pytest.approx((1 / 2 + 2 / 3) / 3)
    expected = (2 / math.log2(3) + 1 / math.log2(4)) / (2 + 1 / math.log2(3))
    assert ndcg(grades, np.array([2, 1, 0, -1])) == pytest.approx(expected, abs=1e-15)


# --- trec_eval behaviors, one at a time ---


def _same_as_trec_eval(qrels, run, metrics=TREC_METRICS, **options) -> None:
    ours = evaluate(qrels, run, metrics, **options)
    assert_matches_reference(ours, pytrec_values(qrels, run, metrics, **options))


def test_ties_are_broken_by_doc_id_in_descending_order() -> None:
    assert trec_order({"a": 1.0, "b": 1.0, "A": 1.0, "c": 2.0}) == ["c", "b", "a", "A"]
    qrels = {"q": {"a": 1, "b": 0}}
    assert evaluate(qrels, {"q": {"a": 1.0, "b": 1.0}}, "recip_rank").means["recip_rank"] == 0.5
    _same_as_trec_eval(qrels, {"q": {"a": 1.0, "b": 1.0}})
    _same_as_trec_eval({"q": {"a": 1, "A": 0}}, {"q": {"a": 1.0, "A": 1.0}})


def test_scores_tie_when_equal_as_32_bit_floats() -> None:
    """trec_eval keeps scores as C floats: 1.0 and 1.0 + 1e-9 tie, and the doc id decides."""
    assert trec_order({"a": 1.0 + 1e-9, "b": 1.0}) == ["b", "a"]
    assert trec_order({"a": 1.0 + 1e-6, "b": 1.0}) == ["a", "b"]
    assert trec_order({"a": 1e8 + 1, "b": 1e8}) == ["b", "a"]
    assert trec_order({"a": 1e300, "b": math.inf}) == ["b", "a"]  # beyond float32 range: both inf
    for scores in ({"a": 1.0 + 1e-9, "b": 1.0}, {"a": 1.0 + 1e-6, "b": 1.0}, {"a": 1e8 + 1, "b": 1e8}):
        _same_as_trec_eval({"q": {"a": 1, "b": 0}}, {"q": scores})


def test_graded_gains_and_negative_grades() -> None:
    qrels = {"q": {"a": 2, "n": -1, "z": 0, "b": 1}}
    run = {"q": {"n": 3.0, "a": 2.0, "b": 1.0, "x": 0.5}}
    _same_as_trec_eval(qrels, run)
    expected = (2 / math.log2(3) + 1 / math.log2(4)) / (2 + 1 / math.log2(3))  # the -1 adds no gain
    assert evaluate(qrels, run, "ndcg@3").means["ndcg_cut_3"] == pytest.approx(expected, abs=TOLERANCE)


def test_relevance_level_decides_binary_relevance_but_not_gains() -> None:
    qrels = {"q": {"a": 2, "b": 1, "c": 0}}
    run = {"q": {"b": 3.0, "a": 2.0, "c": 1.0}}
    _same_as_trec_eval(qrels, run, relevance_level=2)
    result = evaluate(qrels, run, ["recip_rank", "ndcg"], relevance_level=2)
    assert result.means["recip_rank"] == 0.5
    assert result.means["ndcg"] == evaluate(qrels, run, "ndcg").means["ndcg"]


def test_unjudged_documents_are_not_relevant() -> None:
    _same_as_trec_eval({"q": {"a": 1, "b": 2}}, {"q": {"x": 9.0, "y": 8.0, "a": 7.0, "z": 6.0}})


def test_a_query_without_relevant_documents_scores_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"a": 0, "b": 0}, "q3": {"a": 0, "n": -2}}
    run = {"q1": {"a": 1.0}, "q2": {"a": 1.0, "b": 0.5}, "q3": {"a": 1.0}}
    _same_as_trec_eval(qrels, run)
    result = evaluate(qrels, run, TREC_METRICS)
    assert all(result.per_query[m]["q2"] == 0.0 for m in result.metrics)
    assert result.means["map"] == pytest.approx(1 / 3)


def test_a_query_with_only_negative_grades_scores_zero() -> None:
    """pytrec_eval segfaults here (see conftest), so this one is checked by hand."""
    result = evaluate({"q1": {"a": 1}, "q2": {"n": -1}}, {"q1": {"a": 1.0}, "q2": {"n": 1.0}}, TREC_METRICS)
    assert all(result.per_query[m]["q2"] == 0.0 for m in result.metrics)


def test_run_queries_without_qrels_are_ignored() -> None:
    qrels = {"q1": {"a": 1}}
    run = {"q1": {"a": 1.0}, "q9": {"a": 1.0}}
    _same_as_trec_eval(qrels, run)
    assert evaluate(qrels, run, "map").query_ids == ("q1",)


def test_qrels_queries_missing_from_the_run() -> None:
    """pytrec_eval leaves them out (trec_eval's default); missing="zero" is trec_eval -c: they score 0."""
    qrels = {"q1": {"a": 1}, "q2": {"a": 1}, "q3": {"b": 2}}
    run = {"q1": {"a": 1.0, "b": 0.5}, "q3": {"b": 1.0}}
    _same_as_trec_eval(qrels, run)
    ignored = evaluate(qrels, run, TREC_METRICS)
    zero = evaluate(qrels, run, TREC_METRICS, missing="zero")
    reference = pytrec_values(qrels, run, TREC_METRICS)
    assert ignored.missing_queries == zero.missing_queries == ("q2",)
    for metric in TREC_METRICS:
        assert set(reference[metric]) == {"q1", "q3"}
        assert zero.per_query[metric]["q2"] == 0.0
        expected = sum(reference[metric].values()) / len(qrels)  # trec_eval -c divides by every qrels query
        assert zero.means[metric] == pytest.approx(expected, abs=TOLERANCE)


def test_an_empty_ranking_is_present_and_scores_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"a": 1}}
    run = {"q1": {"a": 1.0}, "q2": {}}
    _same_as_trec_eval(qrels, run)
    assert evaluate(qrels, run, "map").query_ids == ("q1", "q2")


def test_recip_rank_cut_is_recip_rank_of_the_truncated_run() -> None:
    qrels = {"q": {"c": 1, "e": 2}}
    scores = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 3.0, "e": 1.0}
    for k in (1, 2, 3, 4, 10):
        top = {d: scores[d] for d in trec_order(scores)[:k]}
        expected = pytrec_values(qrels, {"q": top}, ["recip_rank"])["recip_rank"]["q"]
        assert evaluate(qrels, {"q": scores}, f"mrr@{k}").means[f"recip_rank_cut_{k}"] == expected


# --- property: any qrels and run ---

DOC_IDS = ["a", "b", "c", "A", "B", "d1", "d10", "d2", "é", "z z"]
SCORES = st.one_of(
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 1.0 + 1e-9, 1.0 + 1e-6, 2.0, -1.0, 1e8, 1e8 + 1]),
    st.floats(-100, 100, allow_nan=False),
)


@st.composite
def qrels_and_runs(draw):
    query_ids = st.sampled_from(["q1", "q2", "q3", "q4"])
    qrels = draw(
        st.dictionaries(
            query_ids,
            st.dictionaries(st.sampled_from(DOC_IDS), st.integers(-2, 3), min_size=1, max_size=8),
            min_size=1,
            max_size=4,
        )
    )
    for docs in qrels.values():  # keep pytrec_eval away from its segfault (see conftest)
        if max(docs.values()) < 0:
            docs[next(iter(docs))] = 0
    run = draw(
        st.dictionaries(
            st.sampled_from(["q1", "q2", "q3", "q4", "q5"]),
            st.dictionaries(st.sampled_from(DOC_IDS), SCORES, max_size=10),
            min_size=1,
            max_size=5,
        )
    )
    return qrels, run


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=qrels_and_runs(), relevance_level=st.sampled_from([1, 1, 2]))
def test_random_qrels_and_runs_match_trec_eval(data, relevance_level: int) -> None:
    qrels, run = data
    if not set(qrels) & set(run):
        with pytest.raises(ValueError, match="share no query ids"):
            evaluate(qrels, run, TREC_METRICS)
        return
    _same_as_trec_eval(qrels, run, relevance_level=relevance_level)


@settings(max_examples=100, deadline=None)
@given(data=qrels_and_runs(), k=st.integers(1, 6))
def test_random_recip_rank_cut_matches_trec_eval_on_the_truncated_run(data, k: int) -> None:
    qrels, run = data
    truncated = Run({q: {d: docs[d] for d in trec_order(docs)[:k]} for q, docs in run.items()})
    if not set(qrels) & set(run):
        return
    expected = pytrec_values(qrels, truncated, ["recip_rank"])["recip_rank"]
    got = evaluate(qrels, run, f"mrr@{k}").per_query[f"recip_rank_cut_{k}"]
    assert got == pytest.approx(expected, abs=TOLERANCE)
