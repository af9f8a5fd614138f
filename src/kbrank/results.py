"""`Result` and `Results`: what a search returns at the edge, with article ids and the reasons for each rank.

Rows become ids here, and nowhere earlier. Each result keeps what every source said about it
(rank and score per retriever, the fused score); personalization adds its rule contributions later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

__all__ = ["Result", "Results", "SourceHit"]


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

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "id": self.article_id, "title": self.title, "url": self.url,
                "score": self.score,
                "sources": {n: {"rank": s.rank, "score": s.score} for n, s in self.sources.items()}}


@dataclass(frozen=True)
class Results:
    query: str
    mode: str
    items: tuple[Result, ...]

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
        return {"query": self.query, "mode": self.mode, "results": [r.to_dict() for r in self.items]}
