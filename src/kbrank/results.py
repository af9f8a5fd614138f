"""`Result` and `Results`: what a search returns at the edge, with article ids and the reasons for each rank.

Rows become ids here, and nowhere earlier. Each result keeps what every source said about it
(rank and score per retriever, the fused score); personalization adds its rule contributions later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

__all__ = ["Result", "Results", "SourceHit", "HiddenResult"]


@dataclass(frozen=True)
class SourceHit:
    """One retriever's view of a result: 1-based rank (None if it did not retrieve it) and raw score."""

    rank: int | None
    score: float | None


@dataclass(frozen=True)
class Result:
    rank: int
    article_id: str
    title: str
    url: str
    score: float
    sources: Mapping[str, SourceHit] = field(default_factory=dict)
    fused_score: float | None = None  # the retrieval (fused) score before personalization
    retrieval_score: float | None = None  # that score min-max normalized over the candidates
    contributions: tuple[Any, ...] = ()  # kbrank.personalize.Contribution: rule, action, delta, reason

    def to_dict(self) -> dict[str, Any]:
        out = {"rank": self.rank, "id": self.article_id, "title": self.title, "url": self.url,
               "score": self.score,
               "sources": {n: {"rank": s.rank, "score": s.score} for n, s in self.sources.items()}}
        if self.retrieval_score is not None:
            out["fused_score"] = self.fused_score
            out["retrieval_score"] = self.retrieval_score
            out["contributions"] = [{"rule": c.rule, "action": c.action, "delta": c.delta, "reason": c.reason}
                                    for c in self.contributions]
        return out


@dataclass(frozen=True)
class HiddenResult:
    """An article the profile hid that would otherwise have ranked ``retrieval_rank``, and why."""

    article_id: str
    title: str
    retrieval_rank: int
    reasons: tuple[Any, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.article_id, "title": self.title, "retrieval_rank": self.retrieval_rank,
                "reasons": [{"rule": c.rule, "reason": c.reason} for c in self.reasons]}


@dataclass(frozen=True)
class Results:
    query: str
    mode: str
    items: tuple[Result, ...]
    personalized: bool = False
    hidden: tuple[HiddenResult, ...] = ()
    notice: str | None = None  # e.g. why results are not personalized, or that a fallback was used

    def __iter__(self) -> Iterator[Result]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Result:
        return self.items[i]

    @property
    def ids(self) -> list[str]:
        return [r.article_id for r in self.items]

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "mode": self.mode, "personalized": self.personalized, "notice": self.notice,
                "results": [r.to_dict() for r in self.items], "hidden": [h.to_dict() for h in self.hidden]}
