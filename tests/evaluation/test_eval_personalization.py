"""harm_at_k and inapplicable_at_k against plain-Python references, on hand-made and on random rankings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbrank.errors import ParameterError
from kbrank.evaluation import Run, harm_at_k, inapplicable_at_k

QUERIES = [f"q{i}" for i in range(6)]
DOCS = [f"d{i}" for i in range(12)]
RANKING = st.lists(st.sampled_from(DOCS), unique=True, max_size=12)


def reference_harm(qrels, baseline, personalized, k, level=1):
    """Plain Python: a query is harmed when a relevant doc of the baseline's top k is not in the other top k."""
    harmed = []
    for q in baseline:
        relevant = [d for d in baseline[q][:k] if qrels.get(q, {}).get(d, 0) >= level]
        harmed.append(any(d not in personalized[q][:k] for d in relevant))
    return sum(harmed) / len(harmed)


def reference_inapplicable(rankings, bad, k):
    """Plain Python: inapplicable docs among all top-k slots, pooled."""
    slots = [(q, d) for q in rankings for d in rankings[q][:k]]
    return sum(d in bad[q] for q, d in slots) / len(slots) if slots else 0.0


QRELS = {"q1": {"a": 1, "b": 2}, "q2": {"c": 1}, "q3": {"x": 0}}


def test_harm_counts_relevant_results_hidden_or_pushed_out_of_the_top_k() -> None:
    baseline = {"q1": ["a", "b", "z"], "q2": ["c", "y"], "q3": ["x", "w"]}
    assert harm_at_k(QRELS, baseline, {"q1": ["b", "a"], "q2": ["c"], "q3": ["w"]}, 2) == 0.0  # reordered: no harm
    assert harm_at_k(QRELS, baseline, {"q1": ["z", "a", "b"], "q2": ["c"], "q3": []}, 2) == pytest.approx(1 / 3)
    assert harm_at_k(QRELS, baseline, {"q1": ["a", "b"], "q2": ["y"], "q3": []}, 2, queries=["q2"]) == 1.0
    # only grade >= relevance_level counts: q1 keeps b (grade 2) and loses a (grade 1)
    assert harm_at_k(QRELS, baseline, {"q1": ["b", "z"], "q2": ["c"], "q3": []}, 2, relevance_level=2) == 0.0
    assert harm_at_k(QRELS, baseline, baseline, 10) == 0.0  # the baseline cannot harm itself


def test_harm_reads_runs_in_trec_order() -> None:
    baseline = Run.from_rankings({"q1": ["a", "z"], "q2": ["c"]})
    assert harm_at_k(QRELS, baseline, Run({"q1": {"z": 2.0, "y": 1.0, "a": 0.5}, "q2": {"c": 1.0}}), 2) == 0.5


def test_inapplicable_pools_the_filled_top_k_slots() -> None:
    rankings = {"q1": ["a", "b", "c", "d"], "q2": ["e"]}
    assert inapplicable_at_k(rankings, {"q1": {"b", "d"}, "q2": set()}, 3) == pytest.approx(1 / 4)
    assert inapplicable_at_k(rankings, lambda q, d: d in ("a", "e"), 3) == pytest.approx(2 / 4)
    assert inapplicable_at_k(rankings, lambda q, d: True, 3, queries=["q2"]) == 1.0
    assert inapplicable_at_k({"q1": []}, {"q1": set()}, 3) == 0.0  # nothing shown, nothing inapplicable shown


@settings(max_examples=80, deadline=None)
@given(data=st.data(), k=st.integers(1, 12))
def test_both_metrics_equal_the_plain_python_references(data: st.DataObject, k: int) -> None:
    queries = data.draw(st.lists(st.sampled_from(QUERIES), unique=True, min_size=1))
    baseline = {q: data.draw(RANKING) for q in queries}
    personalized = {q: data.draw(RANKING) for q in queries}
    qrels = {q: data.draw(st.dictionaries(st.sampled_from(DOCS), st.integers(0, 2))) for q in queries}
    bad = {q: data.draw(st.sets(st.sampled_from(DOCS))) for q in queries}
    level = data.draw(st.integers(1, 2))
    assert harm_at_k(qrels, baseline, personalized, k, relevance_level=level) == pytest.approx(
        reference_harm(qrels, baseline, personalized, k, level))
    assert inapplicable_at_k(personalized, bad, k) == pytest.approx(reference_inapplicable(personalized, bad, k))
    assert inapplicable_at_k(Run.from_rankings(personalized), lambda q, d: d in bad[q], k) == pytest.approx(
        reference_inapplicable(personalized, bad, k))


def test_bad_arguments_name_the_fix() -> None:
    baseline = {"q1": ["a"], "q2": ["c"]}
    with pytest.raises(ParameterError, match=r"personalized must be a ranking for every query measured.*'q2'"):
        harm_at_k(QRELS, baseline, {"q1": ["a"]}, 10)
    with pytest.raises(ParameterError, match="k must be an integer >= 1"):
        harm_at_k(QRELS, baseline, baseline, 0)
    with pytest.raises(ParameterError, match="relevance_level must be an integer of at least 1"):
        harm_at_k(QRELS, baseline, baseline, relevance_level=0)
    with pytest.raises(ParameterError, match="queries must be at least one query"):
        harm_at_k(QRELS, baseline, baseline, queries=[])
    with pytest.raises(ParameterError, match="queries must be a collection of query ids"):
        inapplicable_at_k(baseline, {"q1": set()}, queries="q1")
    with pytest.raises(ParameterError, match=r"inapplicable must be a collection of inapplicable doc ids for every "
                                             r"query measured.*'q2'"):
        inapplicable_at_k(baseline, {"q1": set()})
    with pytest.raises(ParameterError, match="inapplicable must be a callable"):
        inapplicable_at_k(baseline, 3)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"baseline\['q1'\] must be each doc id once"):
        harm_at_k(QRELS, {"q1": ["a", "a"]}, baseline)
