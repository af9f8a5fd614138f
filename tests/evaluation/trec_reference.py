"""The trec_eval reference (pytrec_eval) and the comparison every reference test makes against it.

pytrec_eval crashes the interpreter (a segfault inside trec_eval) on a query whose qrels hold only negative
grades once any other query was evaluated in the process, so no test gives it such a query; kbrank scores one
0 on every metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from kbrank.evaluation import Evaluation, parse_metric

TOLERANCE = 1e-9


def pytrec_values(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str],
    *,
    relevance_level: int = 1,
) -> dict[str, dict[str, float]]:
    """``metric -> query_id -> value`` from pytrec_eval, keyed by trec_eval names."""
    pytrec_eval = pytest.importorskip("pytrec_eval")
    parsed = [parse_metric(name) for name in metrics]
    measures = {metric.trec_eval_measure for metric in parsed}
    assert None not in measures, "only trec_eval metrics have a reference"
    evaluator = pytrec_eval.RelevanceEvaluator(
        {q: dict(d) for q, d in qrels.items()}, measures, relevance_level=relevance_level
    )
    result = evaluator.evaluate({q: {d: float(s) for d, s in docs.items()} for q, docs in run.items()})
    return {metric.name: {q: values[metric.name] for q, values in result.items()} for metric in parsed}


def pytrec_mean(metric: str, values: Mapping[str, float]) -> float:
    """trec_eval's average (pytrec_eval.compute_aggregated_measure)."""
    import pytrec_eval

    return pytrec_eval.compute_aggregated_measure(metric, list(values.values()))


def assert_matches_reference(ours: Evaluation, reference: Mapping[str, Mapping[str, float]]) -> None:
    """Same queries, and every per-query value and mean within 1e-9 of trec_eval's."""
    for metric, expected in reference.items():
        got = ours.per_query[metric]
        assert set(got) == set(expected), f"{metric}: queries differ from trec_eval's"
        worst = max(expected, key=lambda q: abs(got[q] - expected[q]))
        assert abs(got[worst] - expected[worst]) <= TOLERANCE, (
            f"{metric} for query {worst!r}: kbrank {got[worst]!r} != trec_eval {expected[worst]!r}"
        )
        assert abs(ours.means[metric] - pytrec_mean(metric, expected)) <= TOLERANCE, metric
