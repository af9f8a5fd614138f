"""evaluate() and Evaluation; compare() with its significance tests; write_report()."""

from __future__ import annotations

import doctest
import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kbrank.errors import InputError, ParameterError
from kbrank.evaluation import (
    Comparison,
    Evaluation,
    Run,
    compare,
    evaluate,
    paired_t_test,
    randomization_test,
    write_report,
)

QRELS = {"q1": {"a": 1, "b": 2}, "q2": {"c": 1}, "q3": {"d": 1}, "q4": {"e": 0}}
GOOD = Run({"q1": {"b": 3.0, "a": 2.0}, "q2": {"c": 1.0, "x": 0.5}, "q3": {"x": 1.0, "d": 0.5}}, name="good")
BAD = Run({"q1": {"x": 3.0, "a": 2.0}, "q2": {"x": 1.0, "c": 0.5}, "q3": {"x": 1.0}, "q4": {"e": 1.0}})


# --- evaluate ---


def test_evaluation_holds_per_query_values_and_their_means() -> None:
    result = evaluate(QRELS, GOOD, ["ndcg@10", "mrr", "ndcg_cut_10"])
    assert isinstance(result, Evaluation)
    assert result.metrics == ("ndcg_cut_10", "recip_rank")  # aliases of one metric collapse
    assert result.query_ids == ("q1", "q2", "q3") and result.missing_queries == ("q4",)
    assert result.per_query["recip_rank"] == {"q1": 1.0, "q2": 1.0, "q3": 0.5}
    assert result.means["recip_rank"] == pytest.approx(2.5 / 3)
    assert result.mean("mrr") == result.means["recip_rank"]
    assert result.query_values("MRR") == result.per_query["recip_rank"]
    assert result.run_name == "good"
    with pytest.raises(ParameterError, match="one of the evaluated metrics"):
        result.mean("map")


def test_missing_zero_scores_absent_queries_zero_and_averages_over_all_qrels() -> None:
    result = evaluate(QRELS, GOOD, "mrr", missing="zero")
    assert result.query_ids == ("q1", "q2", "q3", "q4")
    assert result.per_query["recip_rank"]["q4"] == 0.0
    assert result.means["recip_rank"] == pytest.approx(2.5 / 4)


def test_evaluation_is_immutable() -> None:
    result = evaluate(QRELS, GOOD, "map")
    with pytest.raises(AttributeError):
        result.means = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.per_query["map"]["q1"] = 0.0  # type: ignore[index]


def test_to_dict_is_json_and_to_dataframe_is_one_row_per_query() -> None:
    result = evaluate(QRELS, GOOD, ["map", "P@1"])
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["means"]["P_1"] == pytest.approx(2 / 3)
    assert payload["missing_queries"] == ["q4"] and payload["num_queries"] == 3
    pytest.importorskip("pandas")
    frame = result.to_dataframe()
    assert list(frame.columns) == ["q_id", "map", "P_1"]
    assert frame["q_id"].tolist() == ["q1", "q2", "q3"]
    assert frame["map"].mean() == pytest.approx(result.means["map"])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"metrics": "ndgc@10"}, ParameterError, "Did you mean 'ndcg@10'"),
        ({"metrics": []}, ParameterError, "at least one metric"),
        ({"missing": "drop"}, ParameterError, r"missing must be one of \['ignore', 'zero'\]"),
        ({"relevance_level": 0}, ParameterError, "relevance_level must be an integer of at least 1"),
        ({"run": {"Q1": {"a": 1.0}}}, InputError, "share no query ids.*Fix: check that both come from"),
        ({"qrels": {}}, InputError, "the qrels hold no queries"),
    ],
)
def test_bad_arguments_are_explained(kwargs: dict, error: type, match: str) -> None:
    arguments = {"qrels": QRELS, "run": GOOD, "metrics": "map"} | kwargs
    with pytest.raises(error, match=match):
        evaluate(**arguments)


@pytest.mark.parametrize("module", ["qrels", "runs", "metrics", "evaluate"])
def test_docstring_examples_run(module: str) -> None:
    failed, attempted = doctest.testmod(importlib.import_module(f"kbrank.evaluation.{module}"))
    assert attempted and not failed


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = (
        "import sys, kbrank.evaluation; "
        "print(sorted(m for m in ('pandas', 'ranx', 'scipy', 'sklearn', 'pytrec_eval') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- significance tests ---


def test_paired_t_test_is_scipys() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(7)
    a, b = rng.random(40), rng.random(40) + 0.1
    assert paired_t_test(a, b) == pytest.approx(stats.ttest_rel(b, a).pvalue, abs=1e-15)


def test_degenerate_inputs_give_defined_p_values() -> None:
    same = np.array([0.25, 0.5, 0.75])
    for test in (paired_t_test, randomization_test):
        assert test(same, same) == 1.0
        assert math.isnan(test(same[:1], same[:1] + 1))
    assert paired_t_test(same, same + 0.25) == 0.0  # a constant improvement: t is infinite
    assert paired_t_test(same, same + np.array([0.1, 0.1, 0.1 + 1e-17])) < 1e-12  # nearly so: no warning


def test_randomization_test_is_seeded_and_agrees_with_the_t_test_on_clear_cases() -> None:
    rng = np.random.default_rng(3)
    a = rng.random(200)
    b = a + rng.normal(0.05, 0.1, 200)
    first = randomization_test(a, b, n_resamples=2000, seed=1)
    assert first == randomization_test(a, b, n_resamples=2000, seed=1)
    assert first < 0.01 and paired_t_test(a, b) < 0.01
    noise = a + rng.normal(0, 0.1, 200)
    assert randomization_test(a, noise, seed=2) > 0.05
    with pytest.raises(ParameterError, match="n_resamples must be a positive integer"):
        randomization_test(a, b, n_resamples=0)


# --- compare ---


def test_compare_tests_each_run_against_the_baseline() -> None:
    result = compare(QRELS, {"bad": BAD, "good": GOOD}, ["mrr", "ndcg@10"], missing="zero")
    assert isinstance(result, Comparison)
    assert result.baseline == "bad" and list(result.evaluations) == ["bad", "good"]
    assert result.evaluations["good"].run_name == "good"
    assert set(result.p_values) == {"good"}
    base, other = (result.evaluations[n].per_query["recip_rank"] for n in ("bad", "good"))
    a = np.array([base[q] for q in QRELS])
    b = np.array([other[q] for q in QRELS])
    assert result.p_values["good"]["recip_rank"] == paired_t_test(a, b)
    assert result.deltas["good"]["recip_rank"] == pytest.approx(float(np.mean(b - a)))
    assert result.significant("good", "mrr") == (result.p_values["good"]["recip_rank"] < 0.05)
    assert not result.significant("bad", "mrr")


def test_compare_with_the_randomization_test_and_a_named_baseline() -> None:
    runs = {"bad": BAD, "good": GOOD}
    one = compare(QRELS, runs, "mrr", baseline="good", test="randomization", n_resamples=500, seed=5)
    two = compare(QRELS, runs, "mrr", baseline="good", test="randomization", n_resamples=500, seed=5)
    assert one.p_values == two.p_values and set(one.p_values) == {"bad"}
    with pytest.raises(ParameterError, match="Did you mean 'good'"):
        compare(QRELS, runs, "mrr", baseline="goood")
    with pytest.raises(ParameterError, match=r"test must be one of \['t-test', 'randomization'\]"):
        compare(QRELS, runs, "mrr", test="wilcoxon")
    with pytest.raises(ParameterError, match="runs must be a non-empty mapping"):
        compare(QRELS, {}, "mrr")


def test_comparison_exports() -> None:
    result = compare(QRELS, {"bad": BAD, "good": GOOD}, ["map"])
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["runs"]["bad"]["p_value"] is None
    assert set(payload["runs"]["good"]["p_value"]) == {"map"}
    pytest.importorskip("pandas")
    frame = result.to_dataframe()
    assert list(frame.columns) == ["run", "metric", "mean", "delta", "p_value"] and len(frame) == 2


# --- reports ---


def test_write_report_for_an_evaluation(tmp_path: Path) -> None:
    result = evaluate(QRELS, GOOD, ["ndcg@10", "map"])
    files = write_report(result, tmp_path / "out")
    markdown = files.markdown.read_text(encoding="utf-8")
    assert "| run | ndcg_cut_10 | map |" in markdown
    assert f"| good | {result.means['ndcg_cut_10']:.4f} | {result.means['map']:.4f} |" in markdown
    assert "1 qrels queries missing from the run, left out of the means" in markdown
    assert json.loads(files.json.read_text(encoding="utf-8")) == json.loads(json.dumps(result.to_dict()))


def test_write_report_for_a_comparison(tmp_path: Path) -> None:
    result = compare(QRELS, {"bad": BAD, "good|new": GOOD}, ["mrr"], missing="zero")
    files = write_report(result, tmp_path, alpha=0.5)
    markdown = files.markdown.read_text(encoding="utf-8")
    p_value = result.p_values["good|new"]["recip_rank"]
    assert "| bad (baseline) |" in markdown
    assert f"(+{result.deltas['good|new']['recip_rank']:.4f}, p={p_value:.4f})" in markdown
    assert "good\\|new" in markdown  # escaped for the table
    assert ("*" in markdown.splitlines()[-1]) == (p_value < 0.5)
    assert json.loads(files.json.read_text(encoding="utf-8"))["baseline"] == "bad"
    with pytest.raises(ParameterError, match="an Evaluation or a Comparison"):
        write_report({"map": 0.5}, tmp_path)  # type: ignore[arg-type]
