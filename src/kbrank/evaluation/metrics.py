"""Ranking metrics that equal trec_eval's, one small pure function each, chosen by name.

Every function scores one query. Its inputs come from `RankedJudgments`: the grades of the retrieved
documents in trec_eval's order (`kbrank.evaluation.runs.trec_order`; unjudged documents get grade 0) and every
grade in the query's qrels. A document is *relevant* when its grade is at least ``relevance_level`` (1 unless
asked otherwise, trec_eval's ``-l``); nDCG instead uses the grade as the gain, and grades of 0 or below add
nothing. A query without relevant documents scores 0 on every metric, as in trec_eval.

Names are trec_eval's output names, and friendly aliases map onto them (case does not matter for aliases)::

    trec_eval name        aliases                          measure
    ndcg_cut_<k>          ndcg@k, ndcg_cut.k               nDCG of the top k
    ndcg                  -                                nDCG of the whole ranking
    map                   ap                               mean average precision
    map_cut_<k>           map@k, ap@k                      average precision of the top k
    recip_rank            mrr, rr                          reciprocal rank of the first relevant document
    recip_rank_cut_<k>    mrr@k, rr@k                      the same within the top k (kbrank's addition)
    P_<k>                 p@k, precision@k                 precision at k
    recall_<k>            recall@k, r@k                    recall at k
    success_<k>           success@k, hit@k                 1 if a relevant document is in the top k
    Rprec                 r-precision, rprec               precision at R, the number of relevant documents

References: C. Buckley, trec_eval (https://github.com/usnistgov/trec_eval); K. Järvelin and J. Kekäläinen,
"Cumulated gain-based evaluation of IR techniques", ACM TOIS 20(4), 2002.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import ParameterError, suggestion

__all__ = [
    "Metric",
    "RankedJudgments",
    "average_precision",
    "metric_names",
    "ndcg",
    "parse_metric",
    "precision",
    "r_precision",
    "recall",
    "reciprocal_rank",
    "success",
]


@dataclass(frozen=True)
class RankedJudgments:
    """One query's ranking as the metrics see it.

    ``grades``: the grade of each retrieved document, best-ranked first (0 for unjudged documents).
    ``judged``: every grade in the query's qrels, in any order.
    """

    grades: np.ndarray
    judged: np.ndarray
    relevance_level: int = 1

    @cached_property
    def relevant(self) -> np.ndarray:
        """Boolean array: is the document at each rank relevant?"""
        return self.grades >= self.relevance_level

    @cached_property
    def num_relevant(self) -> int:
        """R, the number of relevant documents in the qrels (retrieved or not)."""
        return int(np.count_nonzero(self.judged >= self.relevance_level))


def _dcg(gains: np.ndarray) -> float:
    """DCG = sum_i gain_i / log2(i + 1) over ranks i = 1, 2, ... (trec_eval's discount)."""
    if gains.size == 0:
        return 0.0
    return float(np.sum(gains / np.log2(np.arange(2, gains.size + 2, dtype=np.float64))))


def ndcg(grades: np.ndarray, judged: np.ndarray, k: int | None = None) -> float:
    """nDCG@k = DCG@k / IDCG@k, with gain = max(grade, 0) and discount log2(rank + 1).

    DCG@k = sum_{i=1..k} gain(d_i) / log2(i + 1) over the ranking; IDCG@k is the same sum over the qrels'
    positive grades sorted in descending order (whether retrieved or not). 0 when IDCG is 0. ``k=None``
    scores the whole ranking (trec_eval's ``ndcg``). Järvelin and Kekäläinen (2002); trec_eval ``ndcg_cut``.
    """
    gains = np.maximum(np.asarray(grades[:k], dtype=np.float64), 0.0)
    positive = np.asarray(judged, dtype=np.float64)
    ideal = -np.sort(-positive[positive > 0])[:k]
    ideal_dcg = _dcg(ideal)
    return _dcg(gains) / ideal_dcg if ideal_dcg > 0 else 0.0


def average_precision(relevant: np.ndarray, num_relevant: int, k: int | None = None) -> float:
    """AP@k = (1 / R) * sum_{i <= k, d_i relevant} P@i, where R counts every relevant document in the qrels.

    ``k=None`` is trec_eval's ``map`` (the whole ranking), an integer its ``map_cut``. 0 when R is 0.
    Buckley and Voorhees, "Evaluating evaluation measure stability", SIGIR 2000; trec_eval ``map``.
    """
    if num_relevant == 0:
        return 0.0
    hits = np.asarray(relevant[:k], dtype=bool)
    ranks = np.flatnonzero(hits) + 1
    if ranks.size == 0:
        return 0.0
    return float(np.sum(np.arange(1, ranks.size + 1) / ranks)) / num_relevant


def reciprocal_rank(relevant: np.ndarray, k: int | None = None) -> float:
    """RR@k = 1 / rank of the first relevant document within the top k, or 0 if there is none.

    ``k=None`` is trec_eval's ``recip_rank``. Voorhees, "The TREC-8 question answering track report", 1999.
    """
    ranks = np.flatnonzero(np.asarray(relevant[:k], dtype=bool))
    return 1.0 / float(ranks[0] + 1) if ranks.size else 0.0


def precision(relevant: np.ndarray, k: int) -> float:
    """P@k = |relevant documents in the top k| / k, even for a ranking shorter than k (trec_eval ``P``)."""
    return float(np.count_nonzero(relevant[:k])) / k


def recall(relevant: np.ndarray, num_relevant: int, k: int) -> float:
    """Recall@k = |relevant documents in the top k| / R, or 0 when R is 0 (trec_eval ``recall``)."""
    return float(np.count_nonzero(relevant[:k])) / num_relevant if num_relevant else 0.0


def r_precision(relevant: np.ndarray, num_relevant: int) -> float:
    """R-precision = P@R with R the number of relevant documents, or 0 when R is 0 (trec_eval ``Rprec``)."""
    return float(np.count_nonzero(relevant[:num_relevant])) / num_relevant if num_relevant else 0.0


def success(relevant: np.ndarray, k: int) -> float:
    """Success@k = 1 if any of the top k documents is relevant, else 0 (trec_eval ``success``)."""
    return 1.0 if np.any(relevant[:k]) else 0.0


_Whole = Callable[[RankedJudgments], float]
_Cut = Callable[[RankedJudgments, int], float]


@dataclass(frozen=True)
class _Family:
    """A metric family: ``whole`` scores a whole ranking, ``cut`` its top k (exactly one of them is set)."""

    whole: _Whole | None = None
    cut: _Cut | None = None
    in_trec_eval: bool = True

    @property
    def takes_k(self) -> bool:
        return self.cut is not None


_FAMILIES: dict[str, _Family] = {
    "ndcg_cut": _Family(cut=lambda q, k: ndcg(q.grades, q.judged, k)),
    "ndcg": _Family(whole=lambda q: ndcg(q.grades, q.judged)),
    "map": _Family(whole=lambda q: average_precision(q.relevant, q.num_relevant)),
    "map_cut": _Family(cut=lambda q, k: average_precision(q.relevant, q.num_relevant, k)),
    "recip_rank": _Family(whole=lambda q: reciprocal_rank(q.relevant)),
    "recip_rank_cut": _Family(cut=lambda q, k: reciprocal_rank(q.relevant, k), in_trec_eval=False),
    "P": _Family(cut=lambda q, k: precision(q.relevant, k)),
    "recall": _Family(cut=lambda q, k: recall(q.relevant, q.num_relevant, k)),
    "success": _Family(cut=lambda q, k: success(q.relevant, k)),
    "Rprec": _Family(whole=lambda q: r_precision(q.relevant, q.num_relevant)),
}

# Lower-case spellings accepted for each family: without a cutoff ("mrr") and with one ("mrr@10", "p_10").
_ALIASES_PLAIN = {
    "ndcg": "ndcg",
    "map": "map",
    "ap": "map",
    "recip_rank": "recip_rank",
    "mrr": "recip_rank",
    "rr": "recip_rank",
    "rprec": "Rprec",
    "r-precision": "Rprec",
    "r_precision": "Rprec",
}
_ALIASES_CUT = {
    "ndcg_cut": "ndcg_cut",
    "ndcg": "ndcg_cut",
    "map_cut": "map_cut",
    "map": "map_cut",
    "ap": "map_cut",
    "recip_rank_cut": "recip_rank_cut",
    "recip_rank": "recip_rank_cut",
    "mrr": "recip_rank_cut",
    "rr": "recip_rank_cut",
    "p": "P",
    "precision": "P",
    "recall": "recall",
    "r": "recall",
    "success": "success",
    "hit": "success",
}
_CUT_PATTERN = re.compile(r"^(?P<family>[a-z_\-]+?)(?:@|_|\.)(?P<k>\d+)$")


@dataclass(frozen=True)
class Metric:
    """A metric chosen by name: its trec_eval name, family and cutoff.

    >>> metric = parse_metric("ndcg@10")
    >>> metric.name, metric.trec_eval_measure
    ('ndcg_cut_10', 'ndcg_cut.10')
    """

    name: str
    family: str
    k: int | None = None

    def __post_init__(self) -> None:
        spec = _FAMILIES.get(self.family) if isinstance(self.family, str) else None
        if spec is None:
            raise ParameterError("family", f"a metric family ({', '.join(_FAMILIES)}); or use parse_metric",
                                 self.family, hint=suggestion(str(self.family), list(_FAMILIES), cutoff=0.5))
        if spec.takes_k and (isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1):
            raise ParameterError("k", f"a cutoff of at least 1 for {self.family}; or use parse_metric", self.k)
        if not spec.takes_k and self.k is not None:
            raise ParameterError("k", f"None: {self.family} scores the whole ranking; or use parse_metric", self.k)

    @property
    def trec_eval_measure(self) -> str | None:
        """The argument for ``trec_eval -m`` and pytrec_eval; None for kbrank's own ``recip_rank_cut``."""
        if not _FAMILIES[self.family].in_trec_eval:
            return None
        return self.family if self.k is None else f"{self.family}.{self.k}"

    def compute(self, query: RankedJudgments) -> float:
        """This metric's value for one query."""
        spec = _FAMILIES[self.family]
        if spec.cut is not None and self.k is not None:
            return spec.cut(query, self.k)
        if spec.whole is not None and self.k is None:
            return spec.whole(query)
        raise AssertionError("unreachable: __post_init__ checked the family and k")


def parse_metric(name: str) -> Metric:
    """The `Metric` for a trec_eval name (``ndcg_cut_10``, ``P_5``, ``map``) or alias (``ndcg@10``, ``mrr``).

    Raises `ParameterError`, with a "did you mean" when a name is close, for an unknown name or a cutoff
    below 1.
    """
    if not isinstance(name, str):
        raise ParameterError("metric", "a metric name such as 'ndcg_cut_10' or 'ndcg@10'", name)
    text = name.strip()
    if text in _FAMILIES and not _FAMILIES[text].takes_k:
        return Metric(text, text)
    lowered = text.lower()
    if lowered in _ALIASES_PLAIN:
        family = _ALIASES_PLAIN[lowered]
        return Metric(family, family)
    match = _CUT_PATTERN.match(lowered)
    if match and match["family"] in _ALIASES_CUT:
        family = _ALIASES_CUT[match["family"]]
        k = int(match["k"])
        if k < 1:
            raise ParameterError("metric", "a cutoff of at least 1", name)
        return Metric(f"{family}_{k}", family, k)
    known = metric_names() + ["ndcg@10", "map@10", "mrr", "mrr@10", "p@10", "recall@100", "hit@10"]
    raise ParameterError(
        "metric",
        "a trec_eval name (ndcg_cut_10, map, recip_rank, P_10, recall_100, ...) or alias (ndcg@10, mrr, ...)",
        name,
        hint=suggestion(text, known, cutoff=0.5),
    )


def metric_names() -> list[str]:
    """Example names, one per family (cutoff families shown at 10): what `parse_metric` understands."""
    return [family if not spec.takes_k else f"{family}_10" for family, spec in _FAMILIES.items()]
