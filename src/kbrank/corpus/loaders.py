"""Read articles from JSONL, a BEIR folder, a pandas DataFrame or a list of dicts, and write them back.

`Corpus.from_jsonl` and friends call these. Loading is all or nothing: the first bad record raises an error
naming the file, line, field and value, and no partial corpus is returned. Each reader also returns the line
(or row) of every article, so the corpus can report a duplicate id where it is in the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from .._frames import frame_records
from .._io import atomic_open, iter_jsonl
from ..errors import CorpusError
from .article import Article
from .records import article_from_record, article_to_record

__all__ = ["jsonl_articles", "beir_corpus_file", "record_articles", "frame_articles", "write_jsonl"]


Lines = list[int]


def jsonl_articles(path: str | os.PathLike[str]) -> tuple[list[Article], Lines]:
    """The articles of a JSONL file (fields as in `kbrank.corpus.records.FIELDS`) and the line of each."""
    source = str(path)
    articles, lines = [], []
    for n, obj in iter_jsonl(path, error=CorpusError):
        articles.append(article_from_record(obj, source=source, line=n, parsed_text=True))
        lines.append(n)
    return articles, lines


def beir_corpus_file(folder: str | os.PathLike[str]) -> Path:
    """``corpus.jsonl`` of a BEIR folder (``_id``, ``title``, ``text``, ``metadata``), or the file given."""
    path = Path(folder)
    target = path / "corpus.jsonl" if path.is_dir() else path
    if not target.exists():
        raise CorpusError("no corpus.jsonl in this folder", source=str(folder), fix="point at a BEIR data set folder")
    return target


def record_articles(records: Iterable[Any], *, source: str = "records") -> tuple[list[Article], Lines]:
    """The articles of a list (or any iterable) of dicts; "line" in errors is the 1-based position."""
    if isinstance(records, (str, bytes)) or not hasattr(records, "__iter__"):
        raise CorpusError("expected a list of article records", source=source, value=type(records).__name__,
                          fix="pass a list of dicts, or use Corpus.from_jsonl for a file")
    articles = [article_from_record(r, source=source, line=n) for n, r in enumerate(records, start=1)]
    return articles, list(range(1, len(articles) + 1))


def frame_articles(frame: Any, *, source: str = "DataFrame") -> tuple[list[Article], Lines]:
    """The articles of a pandas DataFrame with one article per row; "line" in errors is the 1-based row."""
    if not hasattr(frame, "to_dict") or not hasattr(frame, "columns"):
        raise CorpusError("expected a pandas DataFrame", source=source, value=type(frame).__name__)
    return record_articles(frame_records(frame), source=source)


def write_jsonl(articles: Iterable[Article], path: str | os.PathLike[str]) -> None:
    """Write articles, one per line, atomically (a failed write leaves the old file)."""
    with atomic_open(path, "w") as handle:
        for article in articles:
            handle.write(json.dumps(article_to_record(article), ensure_ascii=False, sort_keys=False))
            handle.write("\n")
