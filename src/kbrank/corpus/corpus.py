"""`Corpus`: an ordered, immutable collection of articles with an id <-> row mapping.

Rows are the positions used by every index and by `Candidates`; ids appear only at the edges. Editing
methods (`with_added`, `with_replaced`, `without`) return a new corpus and never change this one.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Iterator, Sequence, overload

from ..errors import CorpusError, UnknownArticleError, did_you_mean
from .article import Article

__all__ = ["Corpus"]


class Corpus(Sequence[Article]):
    """An ordered, immutable sequence of uniquely identified articles.

    >>> c = Corpus([Article(id="a", title="one"), Article(id="b", title="two")])
    >>> c.row("b"), c[0].id, len(c)
    (1, 'a', 2)
    """

    __slots__ = ("_articles", "_rows")
    _articles: Sequence[Article]  # a tuple, or the lazily parsed articles of a saved corpus
    _rows: dict[str, int]

    def __init__(self, articles: Iterable[Article], *, source: str | None = None,
                 lines: Sequence[int] | None = None) -> None:
        items = tuple(articles)
        rows: dict[str, int] = {}
        where = "line" if lines is not None else "row"
        for row, article in enumerate(items):
            line = lines[row] if lines is not None else row + 1
            if not isinstance(article, Article):
                raise CorpusError(
                    "expected an Article", source=source, line=line, value=article, fix="build Article objects"
                )
            if article.id in rows:
                first = lines[rows[article.id]] if lines is not None else rows[article.id] + 1
                raise CorpusError(
                    f"duplicate article id (first seen at {where} {first})",
                    source=source,
                    line=line,
                    field="id",
                    value=article.id,
                    fix="give every article a unique id",
                )
            rows[article.id] = row
        if not items:
            raise CorpusError(
                "the corpus is empty", source=source, fix="give at least one article (check the path and filters)"
            )
        self._articles = items
        self._rows = rows

    @classmethod
    def _of_checked(cls, articles: Sequence[Article], rows: dict[str, int]) -> Corpus:
        """A corpus over ``articles`` whose ids are already known to be unique (``rows``: id -> row), without
        touching the articles: the saved corpus of an index directory (`kbrank.corpus.io.read_corpus`) parses
        each one on first use."""
        corpus = cls.__new__(cls)
        corpus._articles = articles
        corpus._rows = rows
        return corpus

    # -- sequence protocol -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._articles)

    @overload
    def __getitem__(self, row: int) -> Article: ...
    @overload
    def __getitem__(self, row: slice) -> tuple[Article, ...]: ...
    def __getitem__(self, row: int | slice) -> Article | tuple[Article, ...]:
        if isinstance(row, slice):
            return tuple(self._articles[row])
        return self._articles[row]

    def __iter__(self) -> Iterator[Article]:
        return iter(self._articles)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Article):
            return self._rows.get(item.id) is not None and self._articles[self._rows[item.id]] == item
        return item in self._rows

    def __eq__(self, other: object) -> bool:
        return other is self or (isinstance(other, Corpus) and len(self) == len(other) and tuple(self) == tuple(other))

    def __hash__(self) -> int:
        return hash(self.ids)

    def __repr__(self) -> str:
        return f"Corpus({len(self)} articles)"

    # -- ids and rows ------------------------------------------------------------------------------
    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._rows)

    def row(self, article_id: str) -> int:
        """The row of an article id; raises `UnknownArticleError` with a "did you mean"."""
        try:
            return self._rows[article_id]
        except KeyError:
            raise UnknownArticleError(article_id, suggestion=did_you_mean(article_id, self._rows)) from None

    def get(self, article_id: str) -> Article:
        return self._articles[self.row(article_id)]

    # -- edits return a new corpus -----------------------------------------------------------------
    def with_added(self, articles: Iterable[Article]) -> Corpus:
        """A new corpus with ``articles`` appended (their ids must be new)."""
        return Corpus((*self._articles, *articles))

    def with_replaced(self, articles: Iterable[Article]) -> Corpus:
        """A new corpus where each given article replaces the one with its id, keeping its row."""
        items = list(self._articles)
        for article in articles:
            items[self.row(article.id)] = article
        return Corpus(items)

    def without(self, article_ids: Iterable[str]) -> Corpus:
        """A new corpus without the given ids; the remaining articles keep their order."""
        drop = {self.row(article_id) for article_id in article_ids}
        return Corpus(a for row, a in enumerate(self._articles) if row not in drop)

    # -- loading and writing (see kbrank.corpus.loaders) ------------------------------------------
    @classmethod
    def from_jsonl(cls, path: str | os.PathLike[str]) -> Corpus:
        """One article per line of a JSON Lines file (fields as in `kbrank.corpus.records.FIELDS`)."""
        from .loaders import jsonl_articles

        articles, lines = jsonl_articles(path)
        return cls(articles, source=str(path), lines=lines)

    @classmethod
    def from_beir(cls, folder: str | os.PathLike[str]) -> Corpus:
        """``corpus.jsonl`` of a BEIR folder (``_id``, ``title``, ``text``, ``metadata``)."""
        from .loaders import beir_corpus_file

        return cls.from_jsonl(beir_corpus_file(folder))

    @classmethod
    def from_records(cls, records: Iterable[Any], *, source: str = "records") -> Corpus:
        """A list (or any iterable) of dicts; "line" in errors is the 1-based position."""
        from .loaders import record_articles

        articles, lines = record_articles(records, source=source)
        return cls(articles, source=source, lines=lines)

    @classmethod
    def from_dataframe(cls, frame: Any, *, source: str = "DataFrame") -> Corpus:
        """A pandas DataFrame with one article per row (missing cells are absent fields)."""
        from .loaders import frame_articles

        articles, lines = frame_articles(frame, source=source)
        return cls(articles, source=source, lines=lines)

    def to_jsonl(self, path: str | os.PathLike[str]) -> None:
        """Write one article per line, atomically."""
        from .loaders import write_jsonl

        write_jsonl(self, path)
