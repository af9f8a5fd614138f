"""The compiled applicability of a saved corpus (`kbrank.applicability.Applicability`), stored beside it in the
index directory, so that a loaded index personalizes without parsing every article.

The ``"applicability"`` component (``{"articles": n, "kinds": [...], "corpus_ids_sha256": ...}``) and six
files, never pickled:

- ``applicability.indptr``: int64 (6, n + 1), the CSR row pointers of each attribute kind's article x
  vocabulary matrix, in `KINDS_OF_ATTRIBUTE` order (the matrices' values are all 1.0 and are not stored);
- ``applicability.indices``: int32, the column indices of the six matrices, one after the other;
- ``applicability.ranges``: int64 (3, m), the article row, product id and range id of each version-range entry;
- ``applicability.codes``: int16 (2, n), each article's status and kind code;
- ``applicability.dates``: int64 (2, n), each article's ``valid_until`` and ``updated_at`` day ordinals (0: none);
- ``applicability.strings``: JSON, ``{"vocab": {kind: [...]}, "specs": [...], "statuses": [...], "kinds": [...]}``.

The stored applicability belongs to the exact corpus saved with it: the component records the article count
and the sha256 of the ids file, and an edited corpus (a new `Corpus`) compiles its own. Loading opens the
files while the reader holds the directory (memory maps and the JSON's bytes, so a later save cannot take
them away) and checks and assembles them on first use (`StoredApplicability.load`), so a search without a
profile never pays for them. Every structural fault (a dtype, a shape, an index or code out of range, row
pointers that go back, a duplicate or an unlisted entry, bad JSON, an unknown status, a range that does not
parse) is an `IndexFormatError` naming the file, never a wrong answer. An index saved before this component
existed has none, and its personalizer compiles the applicability from the articles as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING, Any, Mapping, NoReturn

import numpy as np

from ..applicability import KINDS_OF_ATTRIBUTE, Applicability, parse_range
from ..errors import IndexFormatError, InputError
from .article import STATUSES

if TYPE_CHECKING:
    from pathlib import Path

    from ..storage import IndexReader, IndexWriter

__all__ = ["COMPONENT", "StoredApplicability", "ids_digest", "open_applicability", "write_applicability"]

COMPONENT = "applicability"
_ARRAYS = ("indptr", "indices", "ranges", "codes", "dates")
_STRINGS = "strings"
_REBUILD = "rebuild the index (`kbrank index`, or Searcher.build + save)"
_MAX_ORDINAL = dt.date.max.toordinal()


def _name(part: str) -> str:
    return f"{COMPONENT}.{part}"


def ids_digest(ids: bytes) -> str:
    """The sha256 of the ids file's bytes, as the manifest records it (binds a stored applicability to it)."""
    return hashlib.sha256(ids).hexdigest()


def write_applicability(writer: IndexWriter, applicability: Applicability, *, ids_sha256: str) -> None:
    """Add the files and the component of ``applicability`` (compiled from the corpus being saved, whose ids
    file has the digest ``ids_sha256``) to ``writer``."""
    a = applicability
    matrices = [a.matrices[kind] for kind in KINDS_OF_ATTRIBUTE]
    writer.add_array(_name("indptr"), np.stack([np.asarray(m.indptr, np.int64) for m in matrices]))
    writer.add_array(_name("indices"), np.concatenate([np.asarray(m.indices, np.int32) for m in matrices]))
    writer.add_array(_name("ranges"), np.stack([a.spec_rows, a.spec_products, a.spec_ids]).astype(np.int64))
    writer.add_array(_name("codes"), np.stack([a.status, a.kind]).astype(np.int16))
    writer.add_array(_name("dates"), np.stack([a.valid_until, a.updated_at]).astype(np.int64))
    strings = {"vocab": {kind: list(a.vocab[kind]) for kind in KINDS_OF_ATTRIBUTE}, "specs": list(a.specs),
               "statuses": list(a.statuses), "kinds": list(a.kinds)}
    text = json.dumps(strings, ensure_ascii=False).encode("utf-8")  # the articles' strings were checked on save

    def write(path: Path) -> None:
        path.write_bytes(text)

    writer.add_blob(_name(_STRINGS), "json", write)
    writer.components[COMPONENT] = {"articles": a.n_articles, "kinds": list(KINDS_OF_ATTRIBUTE),
                                    "corpus_ids_sha256": ids_sha256}


def open_applicability(reader: IndexReader, n_articles: int, *, ids_file: str) -> StoredApplicability | None:
    """The directory's stored applicability for its corpus of ``n_articles`` (files opened, not yet checked),
    or ``None`` when the index has none (saved by an earlier kbrank, or with other attribute kinds)."""
    record = reader.components.get(COMPONENT)
    if record is None:
        return None
    where = str(reader.path / "manifest.json")
    if not isinstance(record, Mapping) or set(record) != {"articles", "kinds", "corpus_ids_sha256"}:
        raise IndexFormatError(f"components.{COMPONENT} is not an object with 'articles', 'kinds' and "
                               "'corpus_ids_sha256'", path=where, fix=_REBUILD)
    if record["kinds"] != list(KINDS_OF_ATTRIBUTE):
        return None  # written for other attribute kinds: compile from the articles instead
    entry = reader.manifest["files"].get(ids_file) or {}
    if type(record["articles"]) is not int or record["articles"] != n_articles \
            or record["corpus_ids_sha256"] != entry.get("sha256"):
        raise IndexFormatError(f"components.{COMPONENT} was not saved with this corpus ({record['articles']!r} "
                               f"articles, the corpus has {n_articles})", path=where, fix=_REBUILD)
    arrays = {part: reader.array(_name(part), mmap=True) for part in _ARRAYS}
    path = reader.file(_name(_STRINGS))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IndexFormatError(f"cannot read the stored applicability ({exc.strerror or exc})", path=str(path),
                               fix=_REBUILD) from None
    paths = {part: str(reader.file(_name(part))) for part in _ARRAYS}
    return StoredApplicability(n_articles, arrays, raw, {**paths, _STRINGS: str(path)})


def _sorted_keys(rows: np.ndarray, columns: np.ndarray, vocab: tuple[str, ...]) -> np.ndarray:
    """One sorted int64 key per (row, column) pair (equal pairs, equal keys: duplicates sit side by side)."""
    keys = rows * max(len(vocab), 1) + columns.astype(np.int64)
    keys.sort()
    return keys


class StoredApplicability:
    """The opened files of a stored applicability; `load` checks them and assembles the `Applicability` once."""

    __slots__ = ("n_articles", "_arrays", "_raw", "_paths", "_loaded")

    def __init__(self, n_articles: int, arrays: dict[str, np.ndarray], raw: bytes, paths: dict[str, str]) -> None:
        self.n_articles = n_articles
        self._arrays = arrays
        self._raw = raw
        self._paths = paths
        self._loaded: Applicability | None = None

    def load(self) -> Applicability:
        """The applicability, equal to `compile_applicability` of the saved corpus; `IndexFormatError` when a
        file is damaged or crafted."""
        if self._loaded is None:
            self._loaded = self._assemble()
        return self._loaded

    def _fail(self, part: str, problem: str) -> NoReturn:
        raise IndexFormatError(f"the stored applicability is invalid: {problem}", path=self._paths[part],
                               fix=_REBUILD)

    def _array(self, part: str, dtype: type, shape: tuple[int | None, ...]) -> np.ndarray:
        """The array of ``part`` copied into memory, after checking its dtype and shape (``None``: any extent)."""
        array = self._arrays[part]
        if array.dtype != np.dtype(dtype) or array.ndim != len(shape) \
                or any(e is not None and e != got for e, got in zip(shape, array.shape)):
            expected = ", ".join("any" if e is None else str(e) for e in shape)
            self._fail(part, f"{part} is {array.dtype} of shape {array.shape}, expected {np.dtype(dtype)} of "
                             f"shape ({expected})")
        return np.array(array)

    def _codes_in(self, part: str, what: str, values: np.ndarray, size: int) -> None:
        if values.size and (int(values.min()) < 0 or int(values.max()) >= size):
            self._fail(part, f"{what} out of range (0 to {size - 1})")

    def _strings(self) -> dict[str, Any]:
        try:
            data = json.loads(self._raw)
        except (ValueError, RecursionError) as exc:
            self._fail(_STRINGS, f"not valid JSON ({exc})")
        if not isinstance(data, dict) or set(data) != {"vocab", "specs", "statuses", "kinds"} \
                or not isinstance(data["vocab"], dict) or set(data["vocab"]) != set(KINDS_OF_ATTRIBUTE):
            self._fail(_STRINGS, "expected an object with 'vocab' (one list per attribute kind), 'specs', "
                                 "'statuses' and 'kinds'")
        lists = {f"vocab.{kind}": data["vocab"][kind] for kind in KINDS_OF_ATTRIBUTE}
        lists.update((key, data[key]) for key in ("specs", "statuses", "kinds"))
        for key, values in lists.items():
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values) \
                    or len(set(values)) != len(values):
                self._fail(_STRINGS, f"{key!r} is not a list of distinct strings")
        unknown = [s for s in data["statuses"] if s not in STATUSES]
        if unknown or "" in data["kinds"]:
            self._fail(_STRINGS, f"unknown status {unknown[0]!r} (known: {', '.join(STATUSES)})" if unknown
                       else "an empty article kind")
        for spec in data["specs"]:
            try:
                parse_range(spec)
            except InputError as exc:
                self._fail(_STRINGS, f"version range {spec!r} does not parse ({exc})")
        return data

    def _assemble(self) -> Applicability:
        import scipy.sparse as sp

        n = self.n_articles
        data = self._strings()
        vocab = {kind: tuple(data["vocab"][kind]) for kind in KINDS_OF_ATTRIBUTE}
        indptr = self._array("indptr", np.int64, (len(KINDS_OF_ATTRIBUTE), n + 1))
        if (indptr[:, 0] != 0).any() or (np.diff(indptr, axis=1) < 0).any():
            self._fail("indptr", "row pointers that do not start at 0 or go back")
        if (indptr[:, -1] > self._arrays["indices"].size).any():
            self._fail("indptr", "row pointers past the end of the indices")
        ends = np.concatenate([[0], np.cumsum(indptr[:, -1])])
        indices = self._array("indices", np.int32, (int(ends[-1]),))
        matrices, listed = {}, {}
        for i, kind in enumerate(KINDS_OF_ATTRIBUTE):
            columns = indices[ends[i]:ends[i + 1]]
            self._codes_in("indices", f"a {kind} index", columns, len(vocab[kind]))
            keys = _sorted_keys(np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr[i])), columns, vocab[kind])
            if (keys[1:] == keys[:-1]).any():
                self._fail("indices", f"an article lists the same {kind} value twice")
            listed[kind] = keys
            matrices[kind] = sp.csr_matrix((np.ones(columns.size), columns, indptr[i]),
                                           shape=(n, max(len(vocab[kind]), 1)))
        ranges = self._array("ranges", np.int64, (3, None))
        rows, products, spec_ids = ranges
        self._codes_in("ranges", "a version range's article row", rows, n)
        self._codes_in("ranges", "a version range's product", products, len(vocab["products"]))
        self._codes_in("ranges", "a version range's id", spec_ids, len(data["specs"]))
        keys, known = _sorted_keys(rows, products, vocab["products"]), listed["products"]
        found = np.searchsorted(known, keys).clip(max=max(known.size - 1, 0))
        if (keys[1:] == keys[:-1]).any() or (keys.size and (known.size == 0 or (known[found] != keys).any())):
            self._fail("ranges", "a version range for a product its article does not list, or listed twice")
        codes = self._array("codes", np.int16, (2, n))
        self._codes_in("codes", "a status code", codes[0], len(data["statuses"]))
        self._codes_in("codes", "a kind code", codes[1], len(data["kinds"]))
        dates = self._array("dates", np.int64, (2, n))
        if ((dates < 0) | (dates > _MAX_ORDINAL)).any():
            self._fail("dates", f"a day ordinal out of range (0 for none, or 1 to {_MAX_ORDINAL})")
        return Applicability(
            n_articles=n, vocab=vocab, matrices=matrices, spec_rows=np.ascontiguousarray(rows),
            spec_products=np.ascontiguousarray(products), spec_ids=np.ascontiguousarray(spec_ids),
            specs=tuple(data["specs"]), statuses=tuple(data["statuses"]), status=np.ascontiguousarray(codes[0]),
            kinds=tuple(data["kinds"]), kind=np.ascontiguousarray(codes[1]), valid_until=np.ascontiguousarray(dates[0]),
            updated_at=np.ascontiguousarray(dates[1]))
