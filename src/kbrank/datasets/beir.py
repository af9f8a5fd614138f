"""Read a BEIR data set folder: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from .._io import iter_jsonl
from ..corpus import Corpus
from ..errors import InputError, ParameterError

if TYPE_CHECKING:
    from ..evaluation import Qrels

__all__ = ["BeirDataset", "load_beir", "read_beir_queries"]


@dataclass(frozen=True)
class BeirDataset:
    corpus: Corpus
    queries: Mapping[str, str]  # query id -> text, only the queries judged in the split
    qrels: Qrels
    split: str


def read_beir_queries(path: str | os.PathLike[str]) -> dict[str, str]:
    """Query id -> text from a BEIR ``queries.jsonl`` (``_id``, ``text``)."""
    queries = {}
    for line, record in iter_jsonl(path):
        if not isinstance(record, dict) or not isinstance(record.get("_id"), str) or not isinstance(record.get("text"), str):
            raise InputError("expected an object with string '_id' and 'text'", source=str(path), line=line,
                             fix="write BEIR queries as {\"_id\": ..., \"text\": ...}")
        queries[record["_id"]] = record["text"]
    return queries


def load_beir(folder: str | os.PathLike[str], *, split: str = "test", corpus: Corpus | None = None) -> BeirDataset:
    """Load a BEIR folder; ``queries`` keeps the queries that the split's qrels judge.

    ``corpus`` reuses a `Corpus` already read from this folder (``load_beir(folder, split="dev",
    corpus=test.corpus)`` loads a second split without reading ``corpus.jsonl`` again).
    """
    from ..evaluation import read_beir_qrels

    root = Path(folder)
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.exists():
        available = sorted(p.stem for p in (root / "qrels").glob("*.tsv")) if (root / "qrels").is_dir() else []
        raise InputError(f"no qrels for split {split!r}", source=str(root), field="split", value=split,
                         fix=f"use one of {available}" if available else "point at a BEIR data set folder")
    qrels = read_beir_qrels(qrels_path)
    queries = read_beir_queries(root / "queries.jsonl")
    missing = [q for q in qrels if q not in queries]
    if missing:
        raise InputError(f"{len(missing)} judged queries have no text in queries.jsonl", source=str(root),
                         value=missing[:3], fix="use the queries.jsonl that belongs to these qrels")
    if corpus is not None and not isinstance(corpus, Corpus):
        raise ParameterError("corpus", "None or the Corpus read from this folder", type(corpus).__name__)
    return BeirDataset(corpus=Corpus.from_beir(root) if corpus is None else corpus,
                       queries={q: queries[q] for q in qrels}, qrels=qrels, split=split)
