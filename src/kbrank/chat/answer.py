"""Answerers: turn a packed context into a reply. kbrank calls no model; a deployer plugs one in.

`Answerer` is the one narrow interface: ``answer(question, context) -> Answer``. The default,
`ExtractiveAnswerer`, is deterministic and offline: it quotes the best passage's best sentences (those
holding the most distinct query terms, earlier ones first on ties, in their original order) and cites it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..errors import ParameterError
from .context import ChatContext

__all__ = ["NO_ANSWER", "Answer", "Answerer", "ExtractiveAnswerer"]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
NO_ANSWER = "I could not find a help article that applies to this. Could you describe it in other words?"


@dataclass(frozen=True)
class Answer:
    """A reply: its ``text`` (with citation markers such as ``[1]``), the citation numbers it uses, and the
    name of the answerer that wrote it."""

    text: str
    citations: tuple[int, ...]
    answerer: str


@runtime_checkable
class Answerer(Protocol):
    """Writes a reply to ``question`` from ``context`` (a `ChatContext`), citing its numbered passages."""

    def answer(self, question: str, context: ChatContext) -> Answer: ...


class ExtractiveAnswerer:
    """The best passage's ``max_sentences`` best sentences, with its citation marker.

    Parameters (keyword-only, stored unchanged): ``max_sentences`` (2) and ``analyzer`` (a
    `kbrank.Analyzer`; default settings when ``None``).
    """

    name = "extractive"

    def __init__(self, *, max_sentences: int = 2, analyzer: Any = None) -> None:
        self.max_sentences = max_sentences
        self.analyzer = analyzer

    def _analyzer(self) -> Any:
        if self.analyzer is None:
            from ..analysis import Analyzer

            self.analyzer = Analyzer()
        return self.analyzer

    def answer(self, question: str, context: ChatContext) -> Answer:
        most = self.max_sentences
        if isinstance(most, bool) or not isinstance(most, int) or most < 1:
            raise ParameterError("max_sentences", "an integer >= 1", self.max_sentences)
        if not context.citations:
            return Answer(NO_ANSWER, (), self.name)
        best = context.citations[0]
        body = best.text
        if best.title and body.startswith(best.title):  # an article's first passage opens with its title
            body = body[len(best.title):].strip()
        sentences = [s.strip() for s in _SENTENCE_END.split(body) if s.strip()]
        if not sentences:
            return Answer(f"See \u201c{best.title}\u201d [{best.number}].", (best.number,), self.name)
        analyze = self._analyzer()
        wanted = set(analyze(question))
        overlap = [len(wanted.intersection(analyze(sentence))) for sentence in sentences]
        scored = sorted(range(len(sentences)), key=lambda i: (-overlap[i], i))
        chosen = sorted(scored[: self.max_sentences])
        text = " ".join(sentences[i] for i in chosen) + f" [{best.number}]"
        return Answer(text, (best.number,), self.name)
