"""Query building for a conversation: historical query expansion (HQE), with an optional pluggable rewriter.

HQE (S.-C. Lin, J.-H. Yang, R. Nogueira, M.-F. Tsai, C.-J. Wang and J. Lin, "Query Reformulation using
Query History for Passage Retrieval in Conversational Search", 2020; the best automatic run at TREC CAsT
2019) keeps topic keywords from every earlier turn and subtopic keywords from the last few, chosen by how
much each word says about the collection, and adds them only when the current turn looks ambiguous.

Here a word's weight is its normalized inverse document frequency, ``log(N / df) / log(N)`` in [0, 1] over
the corpus's analyzed terms; a word the corpus does not hold weighs ``unknown_weight`` (0.3: "wifi" in a
corpus that writes "Wi-Fi" means nothing to BM25 but much to the dense model), and words of conversation
rather than of a topic (`CHAT_STOPWORDS`: "ok", "tried", "sorry", "same problem") weigh 0, since their
rarity in help articles would otherwise pass for meaning. A term of an earlier turn ``d`` turns back
scores ``weight * decay ** (d - 1)``; it is a *topic* keyword when that reaches ``topic_threshold``, a
*subtopic* keyword when the turn is among the last ``window`` and it reaches ``subtopic_threshold``. Error
codes, versions and the model numbers of the products in focus (tokens with a digit) always carry; other
products' names never do. The current turn is *ambiguous* when the weights of its own distinct terms
(product names aside) add up to less than ``clarity_threshold``; then the best ``max_terms`` keywords are
appended to it, in their original spelling. A clear turn, and the first one, are searched as they are.

The defaults were chosen on the demo conversations of seed 0 (``benchmarks/chat.py``, hybrid retrieval):
with these help-centre weights (topical words such as "drop" or "update" appear in tens of articles, so
their weights are 0.2 to 0.4) low thresholds did best, and HQE's gain comes from its gate, carrying only
into ambiguous turns; on follow-ups, nDCG@10 went from 0.57 (all turns concatenated) and 0.66 (the first
settings, without conversational stopwords or unknown words) to 0.72. Held-back seeds check them.

A `QueryRewriter` (an LLM, say; kbrank calls none) may add a second query; the chat retriever fuses the
two rankings with reciprocal rank fusion.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._params import check_int
from ..errors import ParameterError

__all__ = ["CHAT_STOPWORDS", "ChatQuery", "QueryBuilder", "QueryRewriter", "TermWeights"]

_WORD = re.compile(r"\S+")
_HAS_DIGIT = re.compile(r"\d")
#: Words of conversation rather than of a topic (greetings, thanks, yes and no, attempts, "the same problem"):
#: rare in help articles, so their IDF is high, yet they say nothing about what the customer needs.
CHAT_STOPWORDS = (
    "hi", "hello", "hey", "thanks", "thank", "please", "pls", "sorry", "ok", "okay", "yes", "yeah", "yep",
    "no", "nope", "sure", "still", "again", "also", "another", "question", "thing", "things", "stuff", "idea",
    "ideas", "luck", "try", "tried", "trying", "did", "done", "doing", "happen", "happens", "happened",
    "happening", "change", "changed", "nothing", "anything", "something", "else", "other", "same", "problem",
    "issue", "work", "works", "worked", "working", "help", "fix", "fixed", "mine", "urgent", "now")


@runtime_checkable
class QueryRewriter(Protocol):
    """Rewrites a conversation into one standalone query (or ``None`` to add nothing).

    ``turns`` are the conversation's ``{"speaker", "text"}`` mappings, oldest first, already redacted.
    """

    def rewrite(self, turns: Sequence[Mapping[str, str]]) -> str | None: ...


@dataclass(frozen=True)
class ChatQuery:
    """The query searched for a turn: ``text`` (the turn plus ``carried`` keywords), the ``turn`` itself,
    whether it looked ``ambiguous`` and its ``clarity`` (the weight of its own terms), and ``rewritten``,
    the rewriter's query when one was given."""

    text: str
    turn: str
    carried: tuple[str, ...] = ()
    ambiguous: bool = False
    clarity: float = 0.0
    rewritten: str | None = None


class TermWeights:
    """Normalized IDF per analyzed term: ``log(N / df) / log(N)``; built from a BM25 index or a corpus."""

    def __init__(self, analyzer: Any, weights: Mapping[str, float]) -> None:
        self.analyzer = analyzer
        self.weights = weights

    @classmethod
    def from_searcher(cls, searcher: Any) -> TermWeights:
        bm25 = getattr(searcher, "bm25_", None)
        corpus = searcher.corpus_
        n = max(len(corpus), 2)
        if bm25 is not None:
            terms, df = bm25.counts_.terms, np.asarray(bm25.df_, dtype=np.float64)
            analyzer = bm25.analyzer_
        else:
            analyzer = searcher.personalizer_.analyzer_
            counted: dict[str, int] = {}
            for tokens in analyzer.analyze_many(a.text for a in corpus):
                for term in set(tokens):
                    counted[term] = counted.get(term, 0) + 1
            terms, df = tuple(counted), np.fromiter(counted.values(), np.float64, count=len(counted))
        values = np.clip(np.log(n / np.maximum(df, 1.0)) / math.log(n), 0.0, 1.0)
        return cls(analyzer, dict(zip(terms, values.tolist())))

    def terms(self, text: str) -> list[tuple[str, str]]:
        """(term, the word it came from) for each analyzed term of ``text``, in order."""
        out = []
        for word in _WORD.findall(text):
            surface = word.strip(".,;:!?()[]{}\"'")
            for term in self.analyzer(surface):
                out.append((term, surface))
        return out

    def __call__(self, term: str) -> float:
        return self.weights.get(term, 0.0)


class QueryBuilder:
    """HQE for the customer turns of a conversation; see the module docstring for the parameters.

    Parameters (keyword-only, stored unchanged): ``topic_threshold`` (0.1), ``subtopic_threshold`` (0.05),
    ``window`` (2 turns), ``decay`` (0.9 per turn back), ``clarity_threshold`` (0.4), ``max_terms`` (10),
    ``unknown_weight`` (0.3: the weight of a word the corpus does not hold, such as "wifi" in a corpus that
    writes "Wi-Fi"; the dense model still understands it),
    ``stopwords`` (words of conversation that never count or carry; `CHAT_STOPWORDS` by default).
    """

    def __init__(self, *, topic_threshold: float = 0.1, subtopic_threshold: float = 0.05, window: int = 2,
                 decay: float = 0.9, clarity_threshold: float = 0.4, max_terms: int = 10,
                 unknown_weight: float = 0.3, stopwords: Collection[str] | None = None) -> None:
        self.topic_threshold = topic_threshold
        self.subtopic_threshold = subtopic_threshold
        self.window = window
        self.decay = decay
        self.clarity_threshold = clarity_threshold
        self.max_terms = max_terms
        self.unknown_weight = unknown_weight
        self.stopwords = stopwords

    def fit(self, weights: TermWeights, name_terms: Mapping[str, Collection[str]]) -> QueryBuilder:
        """``name_terms``: product -> the analyzed terms of its names (kept out of the clarity and carried
        only for the products in focus)."""
        for name in ("topic_threshold", "subtopic_threshold", "decay", "clarity_threshold", "unknown_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                raise ParameterError(name, "a number between 0 and 100", value)
        for name in ("window", "max_terms"):
            value = getattr(self, name)
            check_int(name, value, 0)
        words = CHAT_STOPWORDS if self.stopwords is None else self.stopwords
        if isinstance(words, str) or not all(isinstance(w, str) for w in words):
            raise ParameterError("stopwords", "a collection of words", words)
        self.stopwords_ = frozenset(t for w in words for t in weights.analyzer(w)) | frozenset(words)
        self.weights_ = weights
        self.name_terms_ = {p: frozenset(t) for p, t in name_terms.items()}
        self._all_names = frozenset().union(*self.name_terms_.values()) if self.name_terms_ else frozenset()
        return self

    def _weight(self, term: str) -> float:
        if term in self.stopwords_:
            return 0.0
        if term not in self.weights_.weights:
            return 0.0 if _HAS_DIGIT.search(term) else self.unknown_weight
        return self.weights_(term)

    def build(self, texts: Sequence[str], focus: Collection[str] = ()) -> ChatQuery:
        """The query for the last of the customer's ``texts``, given the products in ``focus``."""
        current = texts[-1]
        own = self.weights_.terms(current)
        present = {term for term, _ in own}
        clarity = sum(self._weight(t) for t in present if t not in self._all_names)
        ambiguous = len(texts) > 1 and clarity < self.clarity_threshold
        if not ambiguous:
            return ChatQuery(text=current, turn=current, ambiguous=False, clarity=clarity)
        allowed_names = frozenset().union(*(self.name_terms_.get(p, ()) for p in focus))
        scores: dict[str, tuple[float, str]] = {}
        for back, text in enumerate(reversed(texts[:-1]), start=1):
            for term, surface in self.weights_.terms(text):
                if term in present or (term in self._all_names and term not in allowed_names):
                    continue
                weight = self._weight(term) * self.decay ** (back - 1)
                entity = bool(_HAS_DIGIT.search(term))
                keep = entity or (weight > 0 and (weight >= self.topic_threshold or (
                    back <= self.window and weight >= self.subtopic_threshold)))
                if keep and (term not in scores or scores[term][0] < weight + entity):
                    scores[term] = (weight + entity, surface)  # entities first
        best = sorted(scores.items(), key=lambda item: (-item[1][0], item[0]))[: self.max_terms]
        carried = tuple(dict.fromkeys(surface for _, (_, surface) in best))
        text = current if not carried else f"{current} {' '.join(carried)}"
        return ChatQuery(text=text, turn=current, carried=carried, ambiguous=True, clarity=clarity)
