"""The corpus as a component of an index directory (``"corpus"``: one article record per JSONL line, and
``"corpus_ids"``: the articles' ids in order, one JSON array).

Every index directory that holds a corpus stores it once, here; the indexes of the directory share it.
Saving checks that each article reads back as the loaders would read it (types, versions, dates) and
that its text can be stored (no lone UTF-16 surrogates), so a save that succeeds always loads; a bad
article stops the save with a `CorpusError` naming it, and nothing is left behind.

Loading is lazy: `read_corpus` reads the ids (unique, one per line) and where each line starts (found while
the reader checks the file's sha256), and returns a `Corpus` whose articles are parsed from their line, and
validated as when they were first loaded, on first use (`SavedArticles`). A search that shows ten articles
parses ten lines. Personalization reads every article's applicability, which is saved compiled beside the
corpus (`kbrank.corpus.applicability_io`, read with `saved_applicability`), so it parses no article either;
an index saved without it compiles it from the articles (parsing them all, once). An index saved before
``"corpus_ids"`` existed loads too: its ids are read from the start of each line.
"""

from __future__ import annotations

import json
import operator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .._io import unencodable_field
from ..errors import CorpusError, IndexFormatError, InputError, ParameterError
from ..storage import IndexReader, IndexWriter
from .applicability_io import StoredApplicability, ids_digest, open_applicability, write_applicability
from .article import Article
from .corpus import Corpus
from .records import article_from_record, article_to_record

if TYPE_CHECKING:
    from ..applicability import Applicability
    from ..storage.lines import JsonlLines

__all__ = ["write_corpus", "read_corpus", "saved_applicability", "SavedArticles"]

#: The manifest names of the corpus's two files.
RECORDS, IDS = "corpus", "corpus_ids"
_REBUILD = "rebuild the index"
_ID_PREFIX = b'{"id": "'  # how kbrank writes every record (article_to_record puts the id first)


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


def write_corpus(writer: IndexWriter, corpus: Corpus, *, applicability: Applicability | None = None) -> None:
    """Add the corpus and its compiled applicability (``applicability``, compiled here unless given; it must be
    `compile_applicability` of ``corpus``) to ``writer``."""
    writer.add_jsonl(RECORDS, _saved_records(corpus), unencodable=_unencodable(corpus))
    ids = json.dumps(list(corpus.ids), ensure_ascii=False).encode("utf-8")  # every id was checked just above

    def write(path: Path) -> None:
        path.write_bytes(ids)

    writer.add_blob(IDS, "json", write)
    writer.components[RECORDS] = {"articles": len(corpus)}
    if applicability is None:
        from ..applicability import compile_applicability

        applicability = compile_applicability(corpus)
    if applicability.n_articles != len(corpus):
        raise ParameterError("applicability", f"the compiled applicability of these {len(corpus)} articles",
                             f"one of {applicability.n_articles} articles")
    write_applicability(writer, applicability, ids_sha256=ids_digest(ids))


def read_corpus(reader: IndexReader) -> Corpus:
    """The directory's corpus; each article is parsed, and validated as when it was first loaded, on first use."""
    lines = reader.jsonl_lines(RECORDS)
    source = str(lines.path)
    ids = _stored_ids(reader, len(lines)) if reader.has(IDS) else _ids_from_lines(lines, source)
    if not ids:
        raise IndexFormatError("the stored corpus is empty", path=source, fix=_REBUILD)
    rows = dict(zip(ids, range(len(ids))))
    if len(rows) != len(ids):
        first: dict[str, int] = {}
        twice = next(row for row, article_id in enumerate(ids) if first.setdefault(article_id, row) != row)
        raise IndexFormatError(f"the stored corpus lists article id {ids[twice]!r} twice (lines "
                               f"{lines.line(first[ids[twice]])} and {lines.line(twice)})", path=source, fix=_REBUILD)
    stored = open_applicability(reader, len(ids), ids_file=IDS) if reader.has(IDS) else None
    return Corpus._of_checked(SavedArticles(lines, ids, source=source, applicability=stored), rows)


def saved_applicability(corpus: Corpus) -> Applicability | None:
    """The compiled applicability stored with ``corpus`` when it is a saved corpus exactly as loaded (checked
    and assembled on first use), else ``None``: an edited corpus is a new `Corpus`, and compiles its own."""
    articles = corpus._articles
    if isinstance(articles, SavedArticles) and articles._applicability is not None:
        return articles._applicability.load()
    return None


def _stored_ids(reader: IndexReader, count: int) -> list[str]:
    """The ids of ``"corpus_ids"``: a JSON array of ``count`` non-blank strings."""
    path = reader.file(IDS)
    try:
        ids = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise IndexFormatError(f"cannot read the corpus's ids ({exc})", path=str(path), fix=_REBUILD) from None
    if not isinstance(ids, list) or not all(isinstance(i, str) and i.strip() for i in ids):
        raise IndexFormatError("the corpus's ids are not a JSON array of non-blank strings", path=str(path),
                               fix=_REBUILD)
    if len(ids) != count:
        raise IndexFormatError(f"the corpus's ids list {len(ids)} articles, its records {count}", path=str(path),
                               fix=_REBUILD)
    return ids


def _ids_from_lines(lines: JsonlLines, source: str) -> list[str]:
    """The ids of an index saved before ``"corpus_ids"``: read from the start of each line where it is plain
    (``{"id": "...`` without escapes, as kbrank writes it), else from the parsed record."""
    ids = []
    for i in range(len(lines)):
        raw = lines.raw(i)
        end = raw.find(b'"', len(_ID_PREFIX))
        if raw.startswith(_ID_PREFIX) and end > len(_ID_PREFIX) and b"\\" not in raw[:end]:
            try:
                ids.append(raw[len(_ID_PREFIX):end].decode("utf-8"))
                continue
            except UnicodeDecodeError:
                pass  # the full parse below names the line
        ids.append(_parse(lines, i, source).id)
    return ids


def _parse(lines: JsonlLines, row: int, source: str) -> Article:
    line = lines.line(row)
    try:
        return article_from_record(lines.record(row), source=source, line=line, parsed_text=True)
    except IndexFormatError:
        raise
    except InputError as exc:  # CorpusError, VersionSpecError
        raise IndexFormatError(f"the stored corpus is invalid ({exc})", path=source, fix=_REBUILD) from None


class SavedArticles(Sequence[Article]):
    """The articles of a saved corpus, in order: each is parsed from its line on first use, then kept.

    An article whose line is damaged, fails the loaders' checks or holds another id than the corpus's id list
    raises `IndexFormatError` when it is first used.
    """

    __slots__ = ("_lines", "_ids", "_source", "_parsed", "_applicability")

    def __init__(self, lines: JsonlLines, ids: Sequence[str], *, source: str,
                 applicability: StoredApplicability | None = None) -> None:
        self._lines = lines
        self._applicability = applicability  # the compiled applicability saved with these articles, if any
        self._ids = ids
        self._source = source
        self._parsed: list[Article | None] = [None] * len(ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, row: Any) -> Any:  # an Article for a row, a tuple of them for a slice
        if isinstance(row, slice):
            return tuple(self[i] for i in range(*row.indices(len(self))))
        row = operator.index(row)
        if row < 0:
            row += len(self._ids)
        if not 0 <= row < len(self._ids):
            raise IndexError("article row out of range")
        article = self._parsed[row]
        if article is None:
            article = _parse(self._lines, row, self._source)
            if article.id != self._ids[row]:
                raise IndexFormatError(f"line {self._lines.line(row)} holds article {article.id!r}, the corpus's "
                                       f"ids say {self._ids[row]!r}", path=self._source, fix=_REBUILD)
            self._parsed[row] = article
        return article

    def __iter__(self) -> Iterator[Article]:
        for row in range(len(self._ids)):
            yield self[row]

    def __repr__(self) -> str:
        parsed = sum(article is not None for article in self._parsed)
        return f"SavedArticles({len(self)} articles, {parsed} parsed, from {self._source})"
