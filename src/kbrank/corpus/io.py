"""The corpus as a component of an index directory (``"corpus"``: one article record per JSONL line).

Every index directory that holds a corpus stores it once, here; the indexes of the directory share it.
"""

from __future__ import annotations

from typing import Any

from ..storage import IndexReader, IndexWriter
from .corpus import Corpus
from .records import article_from_record, article_to_record

__all__ = ["write_corpus", "read_corpus"]


def write_corpus(writer: IndexWriter, corpus: Corpus) -> None:
    writer.add_jsonl("corpus", (article_to_record(a) for a in corpus))
    writer.components["corpus"] = {"articles": len(corpus)}


def read_corpus(reader: IndexReader) -> Corpus:
    """The directory's corpus, every record validated as when it was first loaded."""
    from ..errors import CorpusError, IndexFormatError

    source = str(reader.file("corpus"))
    records: Any = reader.jsonl("corpus")
    try:
        return Corpus((article_from_record(obj, source=source, line=n) for n, obj in records), source=source)
    except CorpusError as exc:
        raise IndexFormatError(f"the stored corpus is invalid ({exc})", path=source, fix="rebuild the index") from None
