"""`LearnedPersonalizer`: a drop-in `Personalizer` whose promote and demote deltas are replaced by a fitted
`LearnedReranker`'s score (the policy keeps its hides).

Because the model is linear, the article block (everything but the retrieval features) folds into one number
per article when the plan is built (cached per profile, like the policy's deltas; for corpora above
`FULL_DELTAS_UP_TO` articles, per candidate instead); a query then costs one small matrix-vector product over
its candidates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Sequence

import numpy as np

from ...applicability import Applicability
from ...candidates import Candidates, SourceScores
from ...errors import ParameterError
from ..facts import FACTS, dense_facts
from ..features import RETRIEVAL_FEATURES, article_ages, article_features, retrieval_columns, version_features
from ..personalizer import DEFAULT_CACHE_BYTES, Contribution, Personalizer, Plan, check_view
from ..policy import Policy
from ..receipts import reason_for
from .model import POPULARITY, LearnedReranker
from .training import _bounds, _feature_plan

__all__ = ["LearnedPersonalizer"]


class LearnedPersonalizer(Personalizer):
    """A `Personalizer` whose promote/demote deltas are replaced by a fitted `LearnedReranker`'s score.

    Parameters (keyword-only) are the `Personalizer`'s plus ``reranker`` (a fitted `LearnedReranker`). The
    policy (``policy``, default `default_policy`) contributes only its hide rules. See the module docstring.
    """

    def __init__(self, *, reranker: LearnedReranker, policy: Policy | None = None, today: dt.date | None = None,
                 product_aliases: Mapping[str, Sequence[str]] | None = None, analyzer: Any = None,
                 usage_half_life_days: float = 30.0, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        super().__init__(policy=policy, today=today, product_aliases=product_aliases, analyzer=analyzer,
                         usage_half_life_days=usage_half_life_days, cache_bytes=cache_bytes)
        self.reranker = reranker

    def fit(self, corpus: Any, applicability: Applicability | None = None) -> LearnedPersonalizer:
        if not isinstance(self.reranker, LearnedReranker):
            raise ParameterError("reranker", "a fitted LearnedReranker", type(self.reranker).__name__)
        self.reranker._check_fitted()
        names = self.reranker.feature_names_
        if names[:len(RETRIEVAL_FEATURES)] != RETRIEVAL_FEATURES:
            raise ParameterError("reranker", f"a model whose first features are {RETRIEVAL_FEATURES}",
                                 names[:len(RETRIEVAL_FEATURES)])
        super().fit(corpus, applicability)
        self.hide_policy_ = Policy(tuple(r for r in self.policy_.rules if r.action == "hide"))
        self.bounds_ = _bounds(self.applicability_)
        weights, self.constant_ = self.reranker.effective_weights()
        split = len(RETRIEVAL_FEATURES)
        self.retrieval_weights_ = weights[:split]
        self.article_names_ = names[split:]
        self.article_weights_ = weights[split:]
        known = self.reranker.popularity_
        self.popularity_vector_ = np.asarray([known.get(a.id, 0.0) for a in corpus], dtype=np.float64)
        return self

    def _ages(self) -> np.ndarray:
        """Article ages for today's date (computed once per date)."""
        today = self.today or dt.date.today()
        cached = getattr(self, "_ages_cache", None)
        if cached is None or cached[0] != today:
            self._ages_cache = (today, article_ages(self.applicability_, today))
        return self._ages_cache[1]

    def _block(self, rows: np.ndarray, view: Any, plan: Plan) -> np.ndarray:
        """The article features of ``rows`` (rows x features), computed for those rows only."""
        return article_features(_feature_plan(self, view, plan, self.bounds_, rows), self._ages()[rows],
                                self.article_names_, {POPULARITY: self.popularity_vector_[rows]})

    def _make_plan(self, view: Any, named: tuple[str, ...], columns: dict[str, np.ndarray | None]) -> Plan:
        """The policy's hide mask and, per article, the learned score of its article features."""
        facts = dense_facts(columns, self.applicability_.n_articles)
        facts.update(version_features(self.applicability_, self.bounds_, view, named))
        hides = self.hide_policy_.apply({name: facts[name] for name in FACTS})
        block = article_features(facts, self._ages(), self.article_names_, {POPULARITY: self.popularity_vector_})
        return Plan(named=named, hide=hides.hide, delta=(block @ self.article_weights_).astype(np.float32))

    def _row_deltas(self, rows: np.ndarray, view: Any, plan: Plan) -> np.ndarray:
        """The learned score of the article features (float32) at each of ``rows``."""
        scores: np.ndarray = (self._block(rows, view, plan) @ self.article_weights_).astype(np.float32)
        return scores

    def rerank(self, candidates: Candidates, plan: Plan, k: int, view: Any = None) -> tuple[Candidates, np.ndarray]:
        """The best ``k`` candidates by learned score; hidden rows are dropped. Returns them (scores are the
        learned scores; sources keep the retrieval ranks) and each one's normalized retrieval score."""
        check_view(plan, view)
        keep = ~plan.hide[candidates.rows]
        if not keep.all():
            sources = {n: SourceScores(s.ranks[keep], s.scores[keep]) for n, s in candidates.sources.items()}
            candidates = Candidates(candidates.rows[keep], candidates.scores[keep], sources)
        if len(candidates) == 0:
            return Candidates.empty(), np.empty(0)
        rows = candidates.rows
        columns = retrieval_columns(candidates)
        final = self.deltas(rows, view, plan) + self.constant_
        for weight, column in zip(self.retrieval_weights_.tolist(), columns):
            if weight:
                final += weight * column
        order = np.argsort(-final, kind="stable")[:k]  # ties keep the retrieval order
        return (Candidates(rows=rows[order], scores=final[order],
                           sources={n: SourceScores(s.ranks[order], s.scores[order])
                                    for n, s in candidates.sources.items()}),
                columns[0][order])

    def rerank_and_explain(self, candidates: Candidates, plan: Plan, k: int,
                           view: Any) -> tuple[Candidates, np.ndarray, list[tuple[Contribution, ...]]]:
        reranked, base = self.rerank(candidates, plan, k, view)
        return reranked, base, self.explain(reranked.rows, view, plan)

    def explain(self, rows: np.ndarray, view: Any, plan: Plan) -> list[tuple[Contribution, ...]]:
        """For each of ``rows``: the article features that moved it (``learned:<feature>``, its term ``w x``,
        and why), computed for those rows only."""
        rows = np.asarray(rows, dtype=np.int64)
        values = self._block(rows, view, plan)
        out = []
        for j, row in enumerate(rows.tolist()):
            article = self.corpus_[row]
            terms = []
            for name, weight, value in zip(self.article_names_, self.article_weights_.tolist(), values[j].tolist()):
                delta = weight * value
                if abs(delta) > 1e-12:
                    terms.append(Contribution(f"learned:{name}", "promote" if delta > 0 else "demote", delta,
                                              self._reason(name, article, view, plan)))
            out.append(tuple(terms))
        return out

    @staticmethod
    def _reason(name: str, article: Any, view: Any, plan: Plan) -> str:
        if name in FACTS:
            return reason_for(name, article, view, plan.named)
        if name in ("version_gap_below", "version_gap_above"):
            return reason_for("version_near_miss", article, view, plan.named)
        if name == "article_age_years":
            return f"last updated {article.updated_at.isoformat()}" if article.updated_at else "date unknown"
        return "often opened by other customers"
