"""Run.from_rankings keeps the given order through trec_eval (checked against pytrec_eval), and the rankings
that the personalization metrics and the click simulator read are validated."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trec_reference import assert_matches_reference, pytrec_values

from kbrank.errors import ParameterError
from kbrank.evaluation import Run, evaluate, trec_order
from kbrank.evaluation.runs import as_rankings

DOC_IDS = st.sampled_from([f"d{i}" for i in range(30)])
RANKINGS = st.dictionaries(st.sampled_from(["q1", "q2", "q3", "q4"]), st.lists(DOC_IDS, unique=True, max_size=25),
                           min_size=1)
QRELS = st.dictionaries(DOC_IDS, st.integers(0, 3), min_size=1)


def _reciprocal_rank(ranking: list[str], grades: dict[str, int]) -> float:
    """Plain Python: 1 / position of the first relevant document in the ranking as given, else 0."""
    return next((1.0 / i for i, doc in enumerate(ranking, start=1) if grades.get(doc, 0) >= 1), 0.0)


def test_scores_count_down_from_the_length_and_keep_the_order() -> None:
    run = Run.from_rankings({"q1": ["d2", "d10", "d1"], "q2": []}, name="system")
    assert run.to_dict() == {"q1": {"d2": 3.0, "d10": 2.0, "d1": 1.0}, "q2": {}}
    assert trec_order(run["q1"]) == ["d2", "d10", "d1"]
    assert run.name == "system"


def test_equal_scores_would_be_resorted_by_doc_id_but_ranks_are_not() -> None:
    ranking = ["a", "b", "c", "d"]  # trec_eval breaks score ties by doc id, descending: d, c, b, a
    tied = Run({"q": {doc: 1.0 for doc in ranking}})
    assert trec_order(tied["q"]) == ["d", "c", "b", "a"]
    assert trec_order(Run.from_rankings({"q": ranking})["q"]) == ranking
    qrels = {"q": {"a": 1}}
    assert evaluate(qrels, Run.from_rankings({"q": ranking}), "mrr").means["recip_rank"] == 1.0
    assert evaluate(qrels, tied, "mrr").means["recip_rank"] == 0.25


@settings(max_examples=60, deadline=None)
@given(rankings=RANKINGS, grades=st.dictionaries(st.sampled_from(["q1", "q2", "q3", "q4"]), QRELS, min_size=1))
def test_trec_eval_sees_the_given_order(rankings: dict[str, list[str]], grades: dict[str, dict[str, int]]) -> None:
    qrels = {q: g for q, g in grades.items() if any(v > 0 for v in g.values())}
    run = Run.from_rankings(rankings)
    for query_id, ranking in rankings.items():
        assert trec_order(run[query_id]) == ranking
    shared = {q: docs for q, docs in run.items() if q in qrels and docs}
    if not shared:
        return
    reference = pytrec_values(qrels, shared, ["recip_rank", "ndcg_cut_10", "map"])
    for query_id in shared:  # trec_eval's own ranking is the given one
        assert reference["recip_rank"][query_id] == pytest.approx(_reciprocal_rank(rankings[query_id], qrels[query_id]),
                                                                 abs=1e-12)
    assert_matches_reference(evaluate({q: qrels[q] for q in shared}, shared, ["recip_rank", "ndcg_cut_10", "map"]),
                             reference)


def test_a_long_ranking_has_no_float32_ties() -> None:
    ranking = [f"doc{i:06d}" for i in range(20_000)]
    assert trec_order(Run.from_rankings({"q": ranking})["q"]) == ranking


@pytest.mark.parametrize(("rankings", "message"), [
    ({"q": "abc"}, r"rankings\['q'\] must be a sequence of doc ids"),
    ({"q": ["a", "a"]}, r"rankings\['q'\] must be each doc id once"),
    ({"q": ["a", 3]}, r"rankings\['q'\] must be doc ids as non-empty strings"),
    ({"q": ["a", ""]}, r"rankings\['q'\] must be doc ids as non-empty strings"),
    ({"q": 5}, r"rankings\['q'\] must be a sequence of doc ids"),
    ({7: ["a"]}, "rankings query id must be a non-empty string"),
    (["a", "b"], "rankings must be a mapping of query id"),
])
def test_bad_rankings_are_refused_with_the_place(rankings: object, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        Run.from_rankings(rankings)  # type: ignore[arg-type]


def test_a_run_reads_as_rankings_in_trec_order() -> None:
    run = Run({"q": {"x": 0.5, "y": 2.0, "z": 0.5}})
    assert as_rankings(run) == {"q": ["y", "z", "x"]}
    assert as_rankings({"q": ("b", "a")}) == {"q": ["b", "a"]}
