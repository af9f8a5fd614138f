"""Passages: long articles split into overlapping word windows, kept as character offsets.

A passage is ``article.text[start:end]``: the article's row and two character offsets, so a search hit
can be shown (or handed to a chat model) without storing the text twice. Windows hold ``words`` words
and start every ``stride`` words, so consecutive passages share ``words - stride`` words and every word
is in at least one passage. The last window ends at the last word (it may be shorter). An article
without words still gets one empty passage, so every article can be found.

`Passages` stores all passages of a corpus as parallel arrays sorted by article row, then by position
in the article: passage rows are the ids faiss sees, and ``article_rows`` maps them back to articles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..candidates import frozen_array
from ..corpus import Article
from ..errors import ParameterError

__all__ = ["Passages", "PassageHits", "PassageSplitter", "split_words"]

_WORD = re.compile(r"\S+")


def split_words(text: str, *, words: int, stride: int) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of windows of ``words`` words, one starting every ``stride`` words.

    >>> text = "one two three four five"
    >>> [text[s:e] for s, e in split_words(text, words=3, stride=2)]
    ['one two three', 'three four five']
    """
    spans = [m.span() for m in _WORD.finditer(text)]
    if not spans:
        return [(0, 0)]
    out = []
    first = 0
    while True:
        last = min(first + words, len(spans)) - 1
        out.append((spans[first][0], spans[last][1]))
        if last == len(spans) - 1:
            return out
        first += stride


@dataclass(frozen=True)
class PassageSplitter:
    """How articles become passages: ``words`` per window, a new window every ``stride`` words.

    With ``title=True`` the article's title is put before every passage after the first when it is
    encoded (the first already starts with it), so a passage from the middle of an article still says
    what the article is about. Offsets always point into ``article.text``; only the encoded text differs.
    """

    words: int = 128
    stride: int = 96
    title: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.words, int) or isinstance(self.words, bool) or self.words < 1:
            raise ParameterError("passage_words", "an integer >= 1", self.words)
        if not isinstance(self.stride, int) or isinstance(self.stride, bool) or not 1 <= self.stride <= self.words:
            raise ParameterError("passage_stride", f"an integer between 1 and passage_words ({self.words})",
                                 self.stride, hint="a stride above the window size would skip words")

    def spans(self, article: Article) -> list[tuple[int, int]]:
        return split_words(article.text, words=self.words, stride=self.stride)

    def texts(self, article: Article, spans: Sequence[tuple[int, int]]) -> list[str]:
        """The texts to encode for ``spans`` of ``article``."""
        text = article.text
        out = [text[s:e] for s, e in spans]
        if self.title and article.title:
            out[1:] = [f"{article.title}: {chunk}" for chunk in out[1:]]
        return out


@dataclass(frozen=True)
class Passages:
    """All passages of a corpus: ``article_rows``, ``starts`` and ``ends`` (int64), sorted by article row.

    >>> p = Passages.from_spans([[(0, 5), (3, 9)], [(0, 0)]])
    >>> p.article_rows.tolist(), p.indptr.tolist()
    ([0, 0, 1], [0, 2, 3])
    """

    article_rows: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    def __post_init__(self) -> None:
        for name in ("article_rows", "starts", "ends"):
            object.__setattr__(self, name, frozen_array(getattr(self, name), np.int64))
        if not (self.article_rows.shape == self.starts.shape == self.ends.shape) or self.article_rows.ndim != 1:
            raise ValueError("Passages arrays must be 1-d and of equal length")
        if self.article_rows.size and np.any(np.diff(self.article_rows) < 0):
            raise ValueError("Passages.article_rows must be sorted")

    @classmethod
    def from_spans(cls, spans_per_article: Sequence[Sequence[tuple[int, int]]], *, first_row: int = 0) -> Passages:
        """Passages of consecutive articles (rows ``first_row``, ``first_row + 1``, ...)."""
        counts = [len(spans) for spans in spans_per_article]
        flat = [span for spans in spans_per_article for span in spans]
        bounds = np.array(flat, dtype=np.int64).reshape(-1, 2)
        rows = np.repeat(np.arange(first_row, first_row + len(counts), dtype=np.int64), counts)
        return cls(article_rows=rows, starts=bounds[:, 0], ends=bounds[:, 1])

    def __len__(self) -> int:
        return int(self.article_rows.shape[0])

    @property
    def n_articles(self) -> int:
        return int(self.article_rows[-1]) + 1 if len(self) else 0

    @property
    def indptr(self) -> np.ndarray:
        """``indptr[r]:indptr[r + 1]`` are the passage rows of article ``r``."""
        return np.searchsorted(self.article_rows, np.arange(self.n_articles + 1), side="left")

    def counts(self) -> np.ndarray:
        """Passages per article."""
        return np.diff(self.indptr)

    def rows_of(self, article_rows: np.ndarray) -> np.ndarray:
        """The passage rows of the given articles, article by article, in passage order."""
        article_rows = np.asarray(article_rows, dtype=np.int64)
        indptr = self.indptr
        lengths = indptr[article_rows + 1] - indptr[article_rows]
        offsets = np.repeat(indptr[article_rows] - np.cumsum(lengths) + lengths, lengths)
        return offsets + np.arange(int(lengths.sum()), dtype=np.int64)


@dataclass(frozen=True)
class PassageHits:
    """Passages found by a search, best first (ties by passage row): one entry per passage.

    ``passage_rows`` index `Passages`; ``article_rows`` index the corpus; ``starts``/``ends`` are
    character offsets into that article's ``text``.
    """

    passage_rows: np.ndarray
    article_rows: np.ndarray
    scores: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    def __post_init__(self) -> None:
        for name in ("passage_rows", "article_rows", "starts", "ends"):
            object.__setattr__(self, name, frozen_array(getattr(self, name), np.int64))
        object.__setattr__(self, "scores", frozen_array(self.scores, np.float64))

    def __len__(self) -> int:
        return int(self.passage_rows.shape[0])

    @classmethod
    def empty(cls) -> PassageHits:
        nothing = np.empty(0, np.int64)
        return cls(nothing, nothing, np.empty(0), nothing, nothing)
