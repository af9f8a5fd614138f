"""Disambiguation: when to ask "is this about your X200 router or your C10 camera?", and the question itself.

Clarifying questions help only when they are needed and well chosen (on ClariQ, asking nothing scored
nDCG@3 0.145, the best question 0.258 and the worst 0.025). The safe, strong form is an option question
built from the customer's own products, each option carrying the passages it would lead to.

When to ask (`contenders`): only for a personalized view whose customer has at least two active products,
when the conversation names no single product and the turn is a clear new question (not a follow-up that
carries an earlier topic). Among the top ``depth`` results that apply to the customer (no demotion of
-0.5 or worse, such as "fixed in 2.4, you run 2.5"), each of their products is scored by its best
article's similarity to the query: the dense model's cosine when the searcher has a dense index, else the
BM25 score divided by the best BM25 score. The *lead* is the best similarity of any applicable result,
general articles included. A product is a contender when its best article is within ``margin`` of the lead
(0.09 cosine, or 0.25 of the BM25 scale); two contenders or more make the question, the contenders its
options. Rank-based votes were tried first: a product with many near-duplicate articles (a router with an
article per firmware range) outvotes one with a single, equally good article, so the similarity of each
product's best article separates "needs asking" from "does not" far better. The margin was chosen on the
openers of 700 generated conversations of seed 0 (230 openers, 131 needing a question; hybrid search):
0.08 gave precision 0.95 and recall 0.89, 0.09 gave 0.90 and 0.92, 0.10 gave 0.86 and 0.92.
Agreeing top results, or a customer with one product, never ask.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MARGINS", "Clarification", "ClarificationOption", "contenders", "question_for"]


@dataclass(frozen=True)
class ClarificationOption:
    """One answer the customer can give: their ``product`` (id and display ``label``), the ``similarity`` of
    its best article to the question, and the ``passages`` (`ChatPassage`) it would lead to."""

    product: str
    label: str
    similarity: float
    passages: tuple[Any, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"product": self.product, "label": self.label, "similarity": self.similarity,
                "passages": [p.to_dict() for p in self.passages]}


@dataclass(frozen=True)
class Clarification:
    """A question to ask instead of guessing: ``question`` and its ``options`` (only the customer's own
    products), and ``reason``, why it is asked. Append `as_turn` to the conversation: the next turn's
    answer ("the camera", "my X200", "the second one") then resolves it."""

    question: str
    options: tuple[ClarificationOption, ...]
    reason: str

    @property
    def products(self) -> tuple[str, ...]:
        return tuple(o.product for o in self.options)

    def as_turn(self) -> dict[str, Any]:
        """The assistant's turn asking the question, carrying the option product ids."""
        return {"speaker": "assistant", "text": self.question, "options": list(self.products)}

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "reason": self.reason,
                "options": [o.to_dict() for o in self.options]}


def question_for(labels: Sequence[str]) -> str:
    """``"Is this about your A or your B?"`` (``"your A, your B or your C"`` for three)."""
    named = [f"your {label}" for label in labels]
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]
    return f"Is this about {listed}?"


def _similarities(results: Sequence[Any]) -> tuple[list[float | None], str]:
    if any(r.sources.get("dense") is not None and r.sources["dense"].score is not None for r in results):
        return [None if r.sources.get("dense") is None else r.sources["dense"].score
                for r in results], "dense"
    values = [None if r.sources.get("bm25") is None else r.sources["bm25"].score for r in results]
    top = max((v for v in values if v is not None), default=0.0)
    return [None if v is None or top <= 0 else v / top for v in values], "bm25"


#: The default ``margin`` per similarity: dense cosine, or BM25 relative to the best BM25 score.
MARGINS = {"dense": 0.09, "bm25": 0.25}


def contenders(results: Sequence[Any], products_of: Mapping[str, Collection[str]],
               candidates: Collection[str], *, depth: int = 20, margin: float | None = None,
               max_options: int = 4) -> tuple[list[tuple[str, float]], float, str]:
    """(contenders as (product, similarity of its best article), best first; the lead; the similarity used).

    ``products_of`` maps an article id to the products it lists; ``candidates`` are the products that may
    be options (the customer's active ones, or those in focus). Fewer than two contenders: no question.
    """
    top = list(results)[:depth]
    values, source = _similarities(top)
    allowed = MARGINS[source] if margin is None else margin
    best: dict[str, float] = {}
    lead = -math.inf
    for result, value in zip(top, values):
        if value is None or any(c.delta <= -0.5 for c in result.contributions):
            continue
        lead = max(lead, value)
        for product in products_of.get(result.article_id, ()):
            if product in candidates:
                best[product] = max(best.get(product, -math.inf), value)
    close = sorted(((p, v) for p, v in best.items() if v >= lead - allowed),
                   key=lambda item: (-item[1], item[0]))
    return close[:max_options], lead, source
