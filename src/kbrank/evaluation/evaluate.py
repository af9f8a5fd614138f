"""Score a run against qrels: `evaluate` returns an `Evaluation`, per query and averaged.

Which queries count follows trec_eval:

* a query in the run but not in the qrels is ignored;
* a query in the qrels without relevant documents (only grades below ``relevance_level``) is scored, and
  scores 0 on every metric;
* a query in the qrels but missing from the run is left out of the mean with ``missing="ignore"`` (trec_eval's
  default, and what pytrec_eval returns), or scored on an empty ranking, which gives 0 on every metric, with
  ``missing="zero"`` (trec_eval ``-c``: the mean is over every query in the qrels). A query that the run
  holds with an empty ranking is present, and scores 0 either way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import InputError, ParameterError
from ._common import require
from .metrics import Metric, RankedJudgments, parse_metric
from .qrels import Qrels
from .runs import Run, trec_order

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = ["MISSING_POLICIES", "Evaluation", "evaluate"]

MissingPolicy = Literal["ignore", "zero"]
MISSING_POLICIES: tuple[str, ...] = ("ignore", "zero")


@dataclass(frozen=True)
class Evaluation:
    """What `evaluate` returns: metric values per query and their means, keyed by trec_eval metric names.

    ``per_query[metric][query_id]`` and ``means[metric]``; ``query_ids`` are the queries averaged (in qrels
    order) and ``missing_queries`` the qrels queries that the run lacks (scored 0 when ``missing="zero"``,
    left out when ``"ignore"``). Every mean is the arithmetic mean of its per-query values.
    """

    metrics: tuple[str, ...]
    per_query: Mapping[str, Mapping[str, float]]
    means: Mapping[str, float]
    query_ids: tuple[str, ...]
    missing_queries: tuple[str, ...] = ()
    missing: str = "ignore"
    relevance_level: int = 1
    run_name: str | None = None

    def __post_init__(self) -> None:
        frozen = MappingProxyType({m: MappingProxyType(dict(v)) for m, v in self.per_query.items()})
        object.__setattr__(self, "per_query", frozen)
        object.__setattr__(self, "means", MappingProxyType(dict(self.means)))
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "query_ids", tuple(self.query_ids))
        object.__setattr__(self, "missing_queries", tuple(self.missing_queries))

    def _key(self, metric: str) -> str:
        name = metric if metric in self.means else parse_metric(metric).name
        if name not in self.means:
            raise ParameterError("metric", f"one of the evaluated metrics {list(self.metrics)}", metric)
        return name

    def mean(self, metric: str) -> float:
        """The mean of one metric, by trec_eval name or alias (``evaluation.mean("ndcg@10")``)."""
        return self.means[self._key(metric)]

    def query_values(self, metric: str) -> Mapping[str, float]:
        """``query_id -> value`` for one metric, by trec_eval name or alias."""
        return self.per_query[self._key(metric)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: settings, ``means`` and ``per_query`` (``metric -> query_id -> value``)."""
        return {
            "run": self.run_name,
            "metrics": list(self.metrics),
            "missing": self.missing,
            "relevance_level": self.relevance_level,
            "num_queries": len(self.query_ids),
            "missing_queries": list(self.missing_queries),
            "means": dict(self.means),
            "per_query": {metric: dict(values) for metric, values in self.per_query.items()},
        }

    def to_dataframe(self) -> pandas.DataFrame:
        """One row per query: a ``q_id`` column, then one column per metric (needs pandas)."""
        pandas = require("pandas")
        columns: dict[str, Any] = {"q_id": list(self.query_ids)}
        for metric in self.metrics:
            values = self.per_query[metric]
            columns[metric] = [values[query_id] for query_id in self.query_ids]
        return pandas.DataFrame(columns)


def evaluate(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metrics: str | Sequence[str],
    *,
    missing: MissingPolicy = "ignore",
    relevance_level: int = 1,
) -> Evaluation:
    """Score ``run`` against ``qrels`` with each metric, per query and on average, exactly as trec_eval does.

    ``metrics`` takes trec_eval names or aliases (see `kbrank.evaluation.metrics`); the result is keyed by the
    trec_eval names. ``missing`` decides what a qrels query absent from the run counts for (see the module
    docstring); ``relevance_level`` is the lowest grade that counts as relevant (trec_eval ``-l``).

    >>> result = evaluate({"q1": {"d1": 1}}, {"q1": {"d1": 0.2, "d2": 0.9}}, ["recip_rank", "P@1"])
    >>> dict(result.means)
    {'recip_rank': 0.5, 'P_1': 0.0}
    """
    chosen = _parse_metrics(metrics)
    if missing not in MISSING_POLICIES:
        raise ParameterError("missing", f"one of {list(MISSING_POLICIES)}", missing)
    if isinstance(relevance_level, bool) or not isinstance(relevance_level, int) or relevance_level < 1:
        raise ParameterError(
            "relevance_level",
            "an integer of at least 1",
            relevance_level,
            hint="unjudged documents count as grade 0, so a level below 1 would call them relevant",
        )
    qrels = Qrels(qrels)
    run = Run(run)
    missing_queries = tuple(query_id for query_id in qrels if query_id not in run)
    if missing == "ignore":
        query_ids = tuple(query_id for query_id in qrels if query_id in run)
    else:
        query_ids = tuple(qrels)
    if not query_ids:
        raise InputError(
            "the run and the qrels share no query ids" if len(qrels) else "the qrels hold no queries",
            value=f"run ids {_sample(run)}, qrels ids {_sample(qrels)}",
            fix="check that both come from the same data set and split, with query ids as the same strings",
        )

    per_query: dict[str, dict[str, float]] = {metric.name: {} for metric in chosen}
    empty: Mapping[str, float] = {}
    for query_id in query_ids:
        query = _ranked_judgments(qrels[query_id], run.get(query_id, empty), relevance_level)
        for metric in chosen:
            per_query[metric.name][query_id] = metric.compute(query)
    means = {name: math.fsum(values.values()) / len(values) for name, values in per_query.items()}
    return Evaluation(
        metrics=tuple(metric.name for metric in chosen),
        per_query=per_query,
        means=means,
        query_ids=query_ids,
        missing_queries=missing_queries,
        missing=missing,
        relevance_level=relevance_level,
        run_name=run.name,
    )


def _parse_metrics(metrics: str | Sequence[str]) -> list[Metric]:
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if not names:
        raise ParameterError("metrics", "at least one metric name", metrics)
    chosen: dict[str, Metric] = {}
    for name in names:
        metric = parse_metric(name)
        chosen.setdefault(metric.name, metric)  # "ndcg@10" and "ndcg_cut_10" are one metric
    return list(chosen.values())


def _ranked_judgments(judged: Mapping[str, int], scores: Mapping[str, float], level: int) -> RankedJudgments:
    order = trec_order(scores)
    grades = np.fromiter((judged.get(doc_id, 0) for doc_id in order), dtype=np.int64, count=len(order))
    all_grades = np.fromiter(judged.values(), dtype=np.int64, count=len(judged))
    return RankedJudgments(grades=grades, judged=all_grades, relevance_level=level)


def _sample(mapping: Mapping[str, Any], limit: int = 3) -> list[str]:
    return [query_id for _, query_id in zip(range(limit), mapping)]
