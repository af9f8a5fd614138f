"""Rank fusion: combine the candidates of several retrievers into one ranking. One small pure function per
method, chosen by name from `FUSION`.

Every method takes ``runs`` (source name -> `Candidates`, each sorted best first), and optionally their
``union`` as computed once by `fuse`, and returns the fused scores of the union of their rows. Ties are broken by the best rank any source gave, then by row, so the
order is deterministic (RRF in particular produces many exact ties). The work is a scatter into
preallocated arrays over the union of rows, never a Python loop over candidates.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np

from ..candidates import Candidates, SourceScores, minmax
from ..errors import ParameterError, suggestion

__all__ = ["DEFAULT_FUSION", "DEFAULT_FUSION_PARAMS", "DEFAULT_RRF_CONSTANT", "FUSION", "fuse", "rrf",
           "weighted_sum"]

#: RRF's constant by default: 30, chosen on the BEIR dev splits (SciFact train, NFCorpus dev; see
#: benchmarks/effectiveness.py), where it beat the paper's 60. Every kbrank default uses it.
DEFAULT_RRF_CONSTANT = 30.0
DEFAULT_FUSION = "rrf"
DEFAULT_FUSION_PARAMS: Mapping[str, float] = MappingProxyType({"constant": DEFAULT_RRF_CONSTANT})


def _union(runs: Mapping[str, Candidates]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sorted union of rows, and for each run the position of its rows in that union."""
    if not runs:
        return np.empty(0, np.int64), []
    every = np.concatenate([c.rows for c in runs.values()])
    order = np.argsort(every, kind="stable")  # one sort gives both the union and each row's place in it
    ranked = every[order]
    first = np.empty(ranked.shape[0], bool)
    first[:1] = True
    np.not_equal(ranked[1:], ranked[:-1], out=first[1:])
    place = np.empty(ranked.shape[0], np.int64)
    place[order] = np.cumsum(first) - 1
    return ranked[first], np.split(place, np.cumsum([len(c) for c in runs.values()])[:-1])


def rrf(runs: Mapping[str, Candidates], *, constant: float = DEFAULT_RRF_CONSTANT,
        union: tuple[np.ndarray, list[np.ndarray]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reciprocal rank fusion: score(d) = sum over runs of 1 / (constant + rank_run(d)), rank from 1.

    G. V. Cormack, C. L. A. Clarke and S. Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and
    individual Rank Learning Methods", SIGIR 2009 (constant 60; kbrank's default of 30 was chosen on the BEIR
    dev splits).
    """
    if isinstance(constant, bool) or not isinstance(constant, (int, float)) or not constant >= 0:
        raise ParameterError("constant", "a number >= 0", constant)
    rows, positions = union or _union(runs)
    scores = np.zeros(rows.shape[0])
    for run, pos in zip(runs.values(), positions):
        scores[pos] += 1.0 / (constant + np.arange(1, len(run) + 1))
    return rows, scores


def _normalized(scores: np.ndarray, norm: str) -> np.ndarray:
    if scores.size == 0:
        return scores
    if norm == "minmax":
        return minmax(scores)
    std = scores.std()  # z-score (the norm is checked by weighted_sum)
    return np.zeros_like(scores) if std <= 0 else (scores - scores.mean()) / std


def weighted_sum(runs: Mapping[str, Candidates], *, weights: Mapping[str, float] | None = None,
                 norm: str = "minmax",
                 union: tuple[np.ndarray, list[np.ndarray]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """score(d) = sum over runs of weight_run * normalized score_run(d).

    Scores are normalized per run and per query: min-max to [0, 1] or z-score (mean 0, unit deviation);
    a run whose scores are all equal (zero range) maps to 1 (min-max) or 0 (z-score) instead of dividing
    by zero. A row a run did not retrieve gets that run's lowest normalized value (it ranked below all of
    them). Weights default to 1 per run. See E. A. Fox and J. A. Shaw, "Combination of Multiple Searches",
    TREC-2 (1994), and J. H. Lee, "Analyses of Multiple Evidence Combination", SIGIR 1997.
    """
    if norm not in ("minmax", "zscore"):
        raise ParameterError("norm", "'minmax' or 'zscore'", norm)
    weights = dict(weights or {})
    unknown = set(weights) - set(runs)
    if unknown:
        raise ParameterError("weights", f"keys among the run names {sorted(runs)}", sorted(unknown))
    rows, positions = union or _union(runs)
    scores = np.zeros(rows.shape[0])
    for (name, run), pos in zip(runs.items(), positions):
        normalized = _normalized(run.scores, norm)
        weight = float(weights.get(name, 1.0))
        floor = normalized.min() if normalized.size else 0.0
        contribution = np.full(rows.shape[0], floor)
        contribution[pos] = normalized
        scores += weight * contribution
    return rows, scores


#: Fusion methods by name.
FUSION: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {"rrf": rrf, "weighted": weighted_sum}


def fuse(runs: Mapping[str, Candidates], k: int, *, method: str = "rrf", allowed: np.ndarray | None = None,
         **params: object) -> Candidates:
    """Fuse ``runs`` with the named method and keep the best ``k``, each with every source's rank and score.

    ``allowed`` (a boolean array over all rows) keeps only the allowed rows of the fused ranking, in the order
    they have in it: the scores are fused over every row first, so a filter never reorders what it keeps.
    """
    if method not in FUSION:
        raise ParameterError("fusion", f"one of {sorted(FUSION)}", method, hint=suggestion(method, FUSION))
    union = _union(runs)
    rows, scores = FUSION[method](runs, union=union, **params)
    if allowed is not None:
        allowed = np.asarray(allowed)
        if allowed.dtype != np.bool_ or allowed.ndim != 1 or (rows.size and (rows[0] < 0 or rows[-1] >= allowed.shape[0])):
            raise ParameterError("allowed", "a boolean array with an entry for every row of the runs",
                                 f"{allowed.dtype} array of shape {allowed.shape}")
    n = rows.shape[0]
    ranks = []
    best_rank = np.full(n, np.iinfo(np.int64).max)
    for run, pos in zip(runs.values(), union[1]):
        rank = np.zeros(n, np.int64)
        rank[pos] = np.arange(1, len(run) + 1)
        ranks.append(rank)
        best_rank[pos] = np.minimum(best_rank[pos], rank[pos])
    if allowed is None:
        order = np.lexsort((rows, best_rank, -scores))[:k]
    else:
        chosen = np.flatnonzero(allowed[rows])
        order = chosen[np.lexsort((rows[chosen], best_rank[chosen], -scores[chosen]))[:k]]
    sources = {}
    for (name, run), rank in zip(runs.items(), ranks):
        at = rank[order]  # 1-based rank in this run, 0 where it did not retrieve the row
        raw = run.scores[np.maximum(at - 1, 0)] if len(run) else np.zeros(at.shape[0])
        sources[name] = SourceScores(at, np.where(at > 0, raw, np.nan))
    return Candidates(rows=rows[order], scores=scores[order], sources=sources)
