"""Compare several runs on the same qrels against a baseline, with a paired significance test per metric."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ParameterError, suggestion
from ._common import require
from .evaluate import Evaluation, MissingPolicy, evaluate
from .runs import Run
from .significance import randomization_test, significance_test

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = ["Comparison", "compare"]


@dataclass(frozen=True)
class Comparison:
    """What `compare` returns: an `Evaluation` per run, and each run's difference from the baseline.

    ``evaluations[run]`` keeps the runs in the order given; ``deltas[run][metric]`` is the mean of
    ``run - baseline`` over the queries both were scored on, and ``p_values[run][metric]`` the two-sided
    p-value of ``test`` over those pairs (NaN with fewer than two). The baseline has neither.
    """

    baseline: str
    evaluations: Mapping[str, Evaluation]
    deltas: Mapping[str, Mapping[str, float]]
    p_values: Mapping[str, Mapping[str, float]]
    test: str
    metrics: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "evaluations", MappingProxyType(dict(self.evaluations)))
        for name in ("deltas", "p_values"):
            nested = {run: MappingProxyType(dict(values)) for run, values in getattr(self, name).items()}
            object.__setattr__(self, name, MappingProxyType(nested))
        object.__setattr__(self, "metrics", tuple(self.metrics))

    def significant(self, run: str, metric: str, *, alpha: float = 0.05) -> bool:
        """Whether ``run`` differs from the baseline on ``metric`` at level ``alpha`` (never the baseline)."""
        if run == self.baseline:
            return False
        p_value = self.p_values[run][self.evaluations[run]._key(metric)]
        return not math.isnan(p_value) and p_value < alpha

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN p-values become None): the baseline, the test, and each run's results."""
        return {
            "baseline": self.baseline,
            "test": self.test,
            "metrics": list(self.metrics),
            "runs": {
                name: {
                    "means": dict(evaluation.means),
                    "delta": _json_floats(self.deltas.get(name)),
                    "p_value": _json_floats(self.p_values.get(name)),
                    "evaluation": evaluation.to_dict(),
                }
                for name, evaluation in self.evaluations.items()
            },
        }

    def to_dataframe(self) -> pandas.DataFrame:
        """One row per (run, metric): ``run``, ``metric``, ``mean``, ``delta``, ``p_value`` (needs pandas)."""
        pandas = require("pandas")
        rows = []
        for name, evaluation in self.evaluations.items():
            for metric in self.metrics:
                rows.append(
                    {
                        "run": name,
                        "metric": metric,
                        "mean": evaluation.means[metric],
                        "delta": self.deltas[name][metric] if name in self.deltas else math.nan,
                        "p_value": self.p_values[name][metric] if name in self.p_values else math.nan,
                    }
                )
        return pandas.DataFrame(rows, columns=["run", "metric", "mean", "delta", "p_value"])


def compare(
    qrels: Mapping[str, Mapping[str, int]],
    runs: Mapping[str, Mapping[str, Mapping[str, float]]],
    metrics: str | Sequence[str],
    *,
    baseline: str | None = None,
    test: str = "t-test",
    missing: MissingPolicy = "ignore",
    relevance_level: int = 1,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Evaluate each run and test it against ``baseline`` (the first run by default), metric by metric.

    ``test`` is ``"t-test"`` (paired Student's t-test, scipy) or ``"randomization"`` (paired sign-flip
    test with ``n_resamples`` draws from ``seed``; the same seed gives the same p-values). Queries are paired
    by id: with ``missing="zero"`` every run is scored on every qrels query, with ``"ignore"`` only the
    queries that both a run and the baseline retrieved for are paired. Other arguments are as for `evaluate`.
    """
    if not isinstance(runs, Mapping) or not runs:
        raise ParameterError("runs", "a non-empty mapping of run name -> Run", runs)
    names = list(runs)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ParameterError("runs", "keyed by non-empty run names (strings)", name)
    if baseline is None:
        baseline = names[0]
    elif baseline not in runs:
        raise ParameterError("baseline", f"one of the run names {names}", baseline, hint=suggestion(baseline, names))
    test_function = significance_test(test)
    extra = {"n_resamples": n_resamples, "seed": seed} if test_function is randomization_test else {}

    evaluations = {
        name: evaluate(qrels, Run(run, name=name), metrics, missing=missing, relevance_level=relevance_level)
        for name, run in runs.items()
    }
    base = evaluations[baseline]
    deltas: dict[str, dict[str, float]] = {}
    p_values: dict[str, dict[str, float]] = {}
    for name, evaluation in evaluations.items():
        if name == baseline:
            continue
        deltas[name], p_values[name] = {}, {}
        for metric in base.metrics:
            ours, theirs = base.per_query[metric], evaluation.per_query[metric]
            paired = [query_id for query_id in base.query_ids if query_id in theirs]
            a = np.fromiter((ours[q] for q in paired), dtype=np.float64, count=len(paired))
            b = np.fromiter((theirs[q] for q in paired), dtype=np.float64, count=len(paired))
            deltas[name][metric] = float(np.mean(b - a)) if paired else math.nan
            p_values[name][metric] = test_function(a, b, **extra)
    return Comparison(
        baseline=baseline,
        evaluations=evaluations,
        deltas=deltas,
        p_values=p_values,
        test=test,
        metrics=base.metrics,
    )


def _json_floats(values: Mapping[str, float] | None) -> dict[str, float | None] | None:
    if values is None:
        return None
    return {key: None if math.isnan(value) else value for key, value in values.items()}
