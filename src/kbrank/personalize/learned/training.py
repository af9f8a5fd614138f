"""Training data for the learned reranker: each training query's candidates and their features
(`collect_examples`), and the click-log shape `LearnedReranker.fit_clicks` reads (`ClickLog`).

The features are those of `kbrank.personalize.features`, in the order of `BASE_FEATURES`: the retrieval block
(per candidate, from `Candidates`), then the article block (per article, from the profile's facts).
Candidates are taken exactly as ``Searcher.search(text, profile=view)`` reranks them: the policy's hides
applied before retrieval, ``rerank_depth`` deep.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Protocol, Sequence

import numpy as np

from ...applicability import Applicability
from ..features import (
    ARTICLE_FEATURES,
    RETRIEVAL_FEATURES,
    article_ages,
    article_features,
    retrieval_features,
    spec_bounds,
    version_features,
)
from ..personalizer import Personalizer, Plan, is_personalized

__all__ = ["BASE_FEATURES", "ClickLog", "QueryExamples", "collect_examples", "propensity"]

BASE_FEATURES = (*RETRIEVAL_FEATURES, *ARTICLE_FEATURES)


@dataclass(frozen=True)
class QueryExamples:
    """One training query: its candidates (article ids and corpus rows, in retrieval order) and their features
    (candidates x `BASE_FEATURES`)."""

    query_id: str
    article_ids: tuple[str, ...]
    rows: np.ndarray
    features: np.ndarray


class ClickLog(Protocol):
    """One logged search as `LearnedReranker.fit_clicks` reads it: the article ids shown (best first) and,
    per position, whether it was clicked and whether that click solved the problem.

    `kbrank.evaluation.ClickSession` (what `kbrank.evaluation.simulate_clicks` draws) is one; any object
    with these four attributes is too, so personalization never imports evaluation.
    """

    @property
    def query_id(self) -> str: ...
    @property
    def shown(self) -> Sequence[str]: ...
    @property
    def clicked(self) -> Sequence[bool]: ...
    @property
    def solved(self) -> Sequence[bool]: ...


def propensity(ranks: np.ndarray, eta: float, clip: float) -> np.ndarray:
    """The chance that a result at 1-based ``rank`` is looked at, ``(1 / rank) ** eta``, clipped below at ``clip``.

    The inverse of this is the weight of a click at that rank in `LearnedReranker.fit_clicks` (the learner's
    correction; `kbrank.evaluation.simulate_clicks` draws examinations from the same unclipped model)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.maximum((1.0 / ranks) ** eta, clip)


def _feature_plan(personalizer: Personalizer, view: Any, plan: Plan, bounds: np.ndarray,
                  rows: np.ndarray) -> dict[str, np.ndarray]:
    """Every article feature of ``rows`` for this view (facts and version gaps, computed for those rows)."""
    facts = personalizer.facts(view, plan.named, rows)
    facts.update(version_features(personalizer.applicability_.take(rows), bounds, view, plan.named))
    return facts


def _bounds(app: Applicability) -> np.ndarray:
    return np.asarray([spec_bounds(s) for s in app.specs], dtype=np.float64).reshape(-1, 2)


def collect_examples(searcher: Any, queries: Iterable[tuple[str, str, Any]]) -> list[QueryExamples]:
    """The candidates of each ``(query_id, text, view)`` as ``searcher.search(text, profile=view)`` reranks
    them (the policy's hides applied before retrieval, ``rerank_depth`` deep), with their features.

    Views that do not personalize (no consent) are skipped: they are never reranked.
    """
    personalizer = searcher.personalizer_
    app = personalizer.applicability_
    bounds = _bounds(app)
    ages = article_ages(app, personalizer.today or dt.date.today())
    out = []
    for query_id, text, view in queries:
        if not is_personalized(view):
            continue
        plan = personalizer.plan(view, text)
        pool = searcher.candidates(text, max(searcher.rerank_depth, 10), mask=~plan.hide,
                                   query_vector=searcher.query_vector(text))
        if len(pool) == 0:
            continue
        facts = _feature_plan(personalizer, view, plan, bounds, pool.rows)
        block = article_features(facts, ages[pool.rows], ARTICLE_FEATURES)
        features = np.hstack([retrieval_features(pool), block])
        out.append(QueryExamples(query_id, tuple(personalizer.corpus_[r].id for r in pool.rows.tolist()),
                                 pool.rows, features))
    return out

