"""The corpus as a component of an index directory (``"corpus"``: one article record per JSONL line).

Every index directory that holds a corpus stores it once, here; the indexes of the directory share it.
Saving checks that each article reads back as the loaders would read it (types, versions, dates) and
that its text can be stored (no lone UTF-16 surrogates), so a save that succeeds always loads; a bad
article stops the save with a `CorpusError` naming it, and nothing is left behind.
"""

from __future__ import annotations

from typing import Any, Iterator

from .._io import unencodable_field
from ..errors import CorpusError
from ..storage import IndexReader, IndexWriter
from .corpus import Corpus
from .records import article_from_record, article_to_record

__all__ = ["write_corpus", "read_corpus"]


def _saved_records(corpus: Corpus) -> Iterator[dict[str, Any]]:
    for row, article in enumerate(corpus):
        where = f"article {article.id!r} (row {row + 1})"
        try:
            record = article_to_record(article)
            article_from_record(record, source="the corpus being saved", line=row + 1)
        except CorpusError as exc:
            raise CorpusError(f"{where} cannot be saved: {exc.problem}", field=exc.field, fix=exc.fix) from None
        except (AttributeError, TypeError, ValueError) as exc:
            raise CorpusError(f"{where} cannot be saved: a field has the wrong type ({exc})",
                              fix="build articles with the types Article documents (or load them with a loader)"
                              ) from None
        yield record


def _unencodable(corpus: Corpus) -> Any:
    def error(number: int, record: dict[str, Any], reason: str) -> CorpusError:
        return CorpusError(f"article {corpus[number - 1].id!r} (row {number}) cannot be saved: it {reason}",
                           field=unencodable_field(record), fix="replace the character (or value) before saving")

    return error


def write_corpus(writer: IndexWriter, corpus: Corpus) -> None:
    writer.add_jsonl("corpus", _saved_records(corpus), unencodable=_unencodable(corpus))
    writer.components["corpus"] = {"articles": len(corpus)}


def read_corpus(reader: IndexReader) -> Corpus:
    """The directory's corpus, every record validated as when it was first loaded."""
    from ..errors import IndexFormatError, InputError

    source = str(reader.file("corpus"))
    records: Any = reader.jsonl("corpus")
    try:
        return Corpus((article_from_record(obj, source=source, line=n) for n, obj in records), source=source)
    except InputError as exc:  # CorpusError, VersionSpecError
        raise IndexFormatError(f"the stored corpus is invalid ({exc})", path=source, fix="rebuild the index") from None
