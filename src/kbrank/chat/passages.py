"""Grounded passages: the best passage of each retrieved article, with a stable citation id and a receipt.

An article's passages are the word windows `kbrank.index.passages` defines (the dense index's own
passages when the searcher has one, else the same windows cut on the fly). The best one is the passage the
dense model scores highest for the query; without a dense index, the one whose distinct query terms weigh
most (normalized IDF, see `kbrank.chat.query.TermWeights`), the earlier passage on ties. A passage is
``article.text[start:end]`` and its citation id is ``"<article id>:<start>-<end>"``: the same article and
offsets give the same id on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ChatPassage", "PassageReceipt", "best_passages", "citation_id"]


def citation_id(article_id: str, start: int, end: int) -> str:
    """The stable id of a passage: ``"kb-0001:0-512"``."""
    return f"{article_id}:{start}-{end}"


@dataclass(frozen=True)
class PassageReceipt:
    """Why a passage is here: the ``query`` searched, the product ``focus`` (a sentence) and the products
    the search was ``restricted_to``, how the ``passage`` was chosen, and the search ``result`` (a
    `kbrank.results.Result`: each retriever's rank and score, the fused score, every profile rule that moved
    it, with its reason)."""

    query: str
    focus: str
    restricted_to: tuple[str, ...]
    passage: str
    result: Any

    def reasons(self) -> tuple[str, ...]:
        """Human-readable lines, most important first."""
        hits = ", ".join(f"{name} #{hit.rank}" for name, hit in self.result.sources.items() if hit.rank)
        lines = [f"rank {self.result.rank} for \u201c{self.query}\u201d ({hits or 'retrieved'})"]
        lines.append(("restricted to " + ", ".join(self.restricted_to) + "; " if self.restricted_to else "")
                     + self.focus)
        lines += [f"{c.delta:+.2f} {c.rule}: {c.reason}" for c in self.result.contributions]
        lines.append(self.passage)
        return tuple(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "focus": self.focus, "restricted_to": list(self.restricted_to),
                "passage": self.passage, "search": self.result.to_dict()}


@dataclass(frozen=True)
class ChatPassage:
    """One grounded passage: its article, character offsets into ``article.text``, text, citation id,
    score (the article's search score) and receipt."""

    rank: int
    article_id: str
    title: str
    url: str
    start: int
    end: int
    text: str
    citation_id: str
    score: float
    receipt: PassageReceipt

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "id": self.article_id, "title": self.title, "url": self.url,
                "start": self.start, "end": self.end, "text": self.text, "citation_id": self.citation_id,
                "score": self.score, "receipt": self.receipt.to_dict()}


def _dense_choice(searcher: Any, query: Any, rows: Sequence[int]) -> dict[int, tuple[int, int, str]]:
    dense = searcher.dense_
    passages = dense.passages_
    mask = np.zeros(len(searcher.corpus_), bool)
    mask[list(rows)] = True
    hits = dense.search_passages(query, int(passages.counts()[list(rows)].sum()), mask=mask)
    counts = passages.counts()
    first = passages.indptr
    out: dict[int, tuple[int, int, str]] = {}
    for p, row, score, start, end in zip(hits.passage_rows.tolist(), hits.article_rows.tolist(),
                                         hits.scores.tolist(), hits.starts.tolist(), hits.ends.tolist()):
        if row not in out:
            how = (f"passage {p - first[row] + 1} of {counts[row]}, the closest to the query by the dense "
                   f"model (cosine {score:.2f})")
            out[row] = (start, end, how)
    return out


def _lexical_choice(searcher: Any, weights: Any, query: str,
                    rows: Sequence[int]) -> dict[int, tuple[int, int, str]]:
    from ..index.passages import PassageSplitter

    dense = getattr(searcher, "dense_", None)
    splitter = dense.splitter_ if dense is not None else PassageSplitter()
    wanted = {term for term, _ in weights.terms(query)}
    out: dict[int, tuple[int, int, str]] = {}
    for row in rows:
        article = searcher.corpus_[row]
        spans = splitter.spans(article)
        scored = []
        for start, end in spans:
            found = wanted.intersection(weights.analyzer(article.text[start:end]))
            scored.append(sum(weights(t) for t in found))
        best = int(np.argmax(scored)) if scored else 0
        start, end = spans[best]
        out[row] = (start, end, f"passage {best + 1} of {len(spans)}, the one holding the most query words")
    return out


def best_passages(searcher: Any, weights: Any, query: str, results: Any, *, focus: str,
                  restricted_to: Sequence[str], first_rank: int = 1,
                  query_vector: Any = None) -> tuple[ChatPassage, ...]:
    """The best passage of each of ``results`` (a `kbrank.results.Results`), in their order
    (``query_vector``: the query already encoded, for the dense index)."""
    corpus = searcher.corpus_
    rows = [corpus.row(r.article_id) for r in results]
    if not rows:
        return ()
    if getattr(searcher, "dense_", None) is not None:
        chosen = _dense_choice(searcher, query if query_vector is None else query_vector, rows)
    else:
        chosen = _lexical_choice(searcher, weights, query, rows)
    out = []
    for rank, (row, result) in enumerate(zip(rows, results), start=first_rank):
        start, end, how = chosen[row]
        article = corpus[row]
        receipt = PassageReceipt(query=query, focus=focus, restricted_to=tuple(restricted_to), passage=how,
                                 result=result)
        out.append(ChatPassage(rank=rank, article_id=article.id, title=article.title, url=article.url,
                               start=start, end=end, text=article.text[start:end],
                               citation_id=citation_id(article.id, start, end), score=result.score,
                               receipt=receipt))
    return tuple(out)
