"""Load a `Corpus` from JSONL, a BEIR folder, a pandas DataFrame or a list of dicts, and write it back.

Loading is all or nothing: the first bad record raises an error naming the file, line, field and value,
and no partial corpus is returned.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from .._frames import frame_records
from .._io import atomic_open, iter_jsonl
from ..errors import CorpusError
from .corpus import Corpus
from .records import article_from_record, article_to_record

__all__ = ["read_jsonl", "read_beir", "read_records", "read_dataframe", "write_jsonl"]


def read_jsonl(path: str | os.PathLike[str]) -> Corpus:
    """Read one article per line (fields as in `kbrank.corpus.records.FIELDS`)."""
    source = str(path)
    articles = [article_from_record(obj, source=source, line=n) for n, obj in iter_jsonl(path, error=CorpusError)]
    return _corpus(articles, source)


def read_beir(folder: str | os.PathLike[str]) -> Corpus:
    """Read ``corpus.jsonl`` from a BEIR folder (``_id``, ``title``, ``text``, ``metadata``)."""
    path = Path(folder)
    target = path / "corpus.jsonl" if path.is_dir() else path
    if not target.exists():
        raise CorpusError(
            "no corpus.jsonl in this folder", source=str(folder), fix="point at a BEIR data set folder"
        )
    return read_jsonl(target)


def read_records(records: Iterable[Any], *, source: str = "records") -> Corpus:
    """Read a list (or any iterable) of dicts; "line" in errors is the 1-based position."""
    articles = [article_from_record(r, source=source, line=n) for n, r in enumerate(records, start=1)]
    return _corpus(articles, source)


def read_dataframe(frame: Any, *, source: str = "DataFrame") -> Corpus:
    """Read a pandas DataFrame with one article per row; "line" in errors is the 1-based row number."""
    if not hasattr(frame, "to_dict") or not hasattr(frame, "columns"):
        raise CorpusError("expected a pandas DataFrame", source=source, value=type(frame).__name__)
    return read_records(frame_records(frame), source=source)


def _corpus(articles: list, source: str) -> Corpus:
    return Corpus(articles, source=source)


def write_jsonl(corpus: Corpus, path: str | os.PathLike[str]) -> None:
    """Write the corpus, one article per line, atomically (a failed write leaves the old file)."""
    with atomic_open(path, "w") as handle:
        for article in corpus:
            handle.write(json.dumps(article_to_record(article), ensure_ascii=False, sort_keys=False))
            handle.write("\n")
