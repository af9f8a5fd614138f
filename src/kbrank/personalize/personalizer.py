"""`Personalizer`: turns a profile view and a query into a hide mask and score deltas, then reranks.

Per request: the view's facts over all articles (cached per view and query mention), the policy's effect
(a hide mask, one delta per article), then, for the candidates, a gather and a sort. The hide mask is
handed to the retrievers as their ``mask``, so hidden articles never take a top-k place.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..analysis import Analyzer
from ..corpus import Corpus
from ..errors import NotFittedError
from ..retrieval.candidates import Candidates
from .applicability import Applicability, compile_applicability
from .facts import profile_facts
from .policy import Policy, PolicyEffect, default_policy
from .receipts import reason_for

__all__ = ["Personalizer", "Plan", "Contribution", "is_personalized"]


@dataclass(frozen=True)
class Contribution:
    """One rule that moved (or hid) a result: its name, action, score delta and reason."""

    rule: str
    action: str
    delta: float
    reason: str


@dataclass(frozen=True)
class Plan:
    """Everything a query needs from the profile: which articles to hide, and each article's delta."""

    view: Any
    named: tuple[str, ...]
    facts: Mapping[str, np.ndarray]
    effect: PolicyEffect

    @property
    def hide(self) -> np.ndarray:
        return self.effect.hide


def is_personalized(view: Any) -> bool:
    """A view that may personalize: present, personalized (consented), and holding owned products."""
    return view is not None and bool(getattr(view, "personalized", False)) and hasattr(view, "owned")


def _view_key(view: Any) -> str:
    data = view.to_dict() if hasattr(view, "to_dict") else repr(view)
    return json.dumps(data, sort_keys=True, default=str)


class Personalizer:
    """Rerank candidates for one customer with a `Policy` (default: `default_policy`).

    Parameters (keyword-only): ``policy``; ``today`` (the date validity windows and usage recency are
    measured from; default: the current date); ``product_aliases`` (product id -> names a query may use,
    such as ``{"router-x200": ["X200", "Router X200"]}``; by default each product id and its parts that
    contain a digit, so ``router-x200`` is named by "x200"); ``analyzer`` (to match aliases in queries);
    ``usage_half_life_days`` (30); ``cache_size`` (profiles whose facts are kept, 256).
    """

    def __init__(self, *, policy: Policy | None = None, today: dt.date | None = None,
                 product_aliases: Mapping[str, Sequence[str]] | None = None, analyzer: Analyzer | None = None,
                 usage_half_life_days: float = 30.0, cache_size: int = 256) -> None:
        self.policy = policy
        self.today = today
        self.product_aliases = product_aliases
        self.analyzer = analyzer
        self.usage_half_life_days = usage_half_life_days
        self.cache_size = cache_size

    def fit(self, corpus: Corpus, applicability: Applicability | None = None) -> Personalizer:
        self.corpus_ = corpus
        self.applicability_ = applicability or compile_applicability(corpus)
        self.policy_ = self.policy or default_policy()
        analyzer = self.analyzer or Analyzer()
        aliases: dict[tuple[str, ...], set[str]] = {}
        for product in self.applicability_.vocab["products"]:
            names = list((self.product_aliases or {}).get(product, ()))
            names += [product] + [part for part in product.split("-") if any(c.isdigit() for c in part)]
            for name in names:
                tokens = tuple(analyzer(name))
                if tokens:
                    aliases.setdefault(tokens, set()).add(product)
        self.aliases_ = aliases
        self._alias_widths = sorted({len(alias) for alias in aliases})
        self.analyzer_ = analyzer
        self._cache: OrderedDict[tuple[str, tuple[str, ...]], Plan] = OrderedDict()
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "applicability_"):
            raise NotFittedError("this Personalizer is not fitted; call fit(corpus)")

    def named_products(self, query: str) -> tuple[str, ...]:
        """Products the query names, by their aliases (whole-token matches)."""
        self._check_fitted()
        tokens = tuple(self.analyzer_(query))
        found: set[str] = set()
        for width in self._alias_widths:  # one dict look-up per token window, whatever the catalog's size
            for i in range(len(tokens) - width + 1):
                products = self.aliases_.get(tokens[i:i + width])
                if products:
                    found |= products
        return tuple(sorted(found))

    def plan(self, view: Any, query: str, *, named: Sequence[str] = ()) -> Plan:
        """The hide mask and deltas for this view and query (cached per view and named products).

        ``named`` adds products that the query text does not name but its context did (a conversation
        about the X200 whose latest turn is "it still blinks red"); they count exactly as named ones.
        """
        self._check_fitted()
        named = tuple(sorted(set(self.named_products(query)) | set(named)))
        key = (_view_key(view), named)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        today = self.today or dt.date.today()
        facts = profile_facts(self.applicability_, view, today=today, named=named,
                              usage_half_life_days=self.usage_half_life_days)
        plan = self._make_plan(view, named, facts)
        self._cache[key] = plan
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return plan

    def _make_plan(self, view: Any, named: tuple[str, ...], facts: dict[str, np.ndarray]) -> Plan:
        """The plan for a view whose facts are computed (subclasses change how facts become scores)."""
        return Plan(view=view, named=named, facts=facts, effect=self.policy_.apply(facts))

    def rerank(self, candidates: Candidates, plan: Plan, k: int) -> tuple[Candidates, np.ndarray]:
        """The best ``k`` candidates by normalized retrieval score + policy delta; hidden rows are dropped.

        Returns the reranked candidates (scores are the personalized scores; sources keep the retrieval
        ranks) and, aligned with them, the normalized retrieval score each started from.
        """
        rows, scores = candidates.rows, candidates.scores
        keep = ~plan.effect.hide[rows]
        rows, scores = rows[keep], scores[keep]
        sources = {n: (s.ranks[keep], s.scores[keep], s) for n, s in candidates.sources.items()}
        if rows.size == 0:
            return Candidates.empty(), np.empty(0)
        low, span = scores.min(), scores.max() - scores.min()
        base = np.ones_like(scores) if span <= 0 else (scores - low) / span
        final = base + plan.effect.delta[rows]
        order = np.lexsort((np.arange(rows.size), -final))[:k]  # ties keep the retrieval order
        from ..retrieval.candidates import SourceScores

        return (Candidates(rows=rows[order], scores=final[order],
                           sources={n: SourceScores(r[order], s[order]) for n, (r, s, _) in sources.items()}),
                base[order])

    def contributions(self, row: int, plan: Plan) -> tuple[Contribution, ...]:
        """The rules that moved one article, with their deltas and reasons."""
        article = self.corpus_[row]
        out = []
        for i, rule in enumerate(self.policy_.rules):
            delta = float(plan.effect.contributions[i, row])
            if rule.action != "hide" and delta != 0.0:
                out.append(Contribution(rule.name, rule.action, delta,
                                        reason_for(rule.when, article, plan.view, plan.named)))
        return tuple(out)

    def hidden_reasons(self, row: int, plan: Plan) -> tuple[Contribution, ...]:
        """Why an article is hidden: every hide rule that fires on it."""
        article = self.corpus_[row]
        out = []
        for rule in self.policy_.rules:
            if rule.action != "hide":
                continue
            value = plan.facts[rule.when][row]
            if value and not any(plan.facts[u][row] for u in rule.unless):
                out.append(Contribution(rule.name, "hide", 0.0, reason_for(rule.when, article, plan.view, plan.named)))
        return tuple(out)
