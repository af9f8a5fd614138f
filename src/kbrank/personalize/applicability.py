"""Applicability compiled once per corpus: who each article is for, as sparse article x attribute matrices.

An article applies to the products it lists (none = every product), per product to a PEP 440 version
range, and to the platforms, regions, locales and audience it lists (none = unrestricted). It is compiled
at index time into:

- one boolean CSR matrix per attribute kind (``products``, ``platforms``, ``regions``, ``locales``,
  ``audience``, ``tags``), articles x vocabulary, plus a "restricted" flag per article;
- a table of version ranges, one entry per (article, product, specifier), with the distinct specifier
  strings kept once, so a profile's versions are tested against each distinct range once;
- per-article codes for status and kind, and the validity window as day ordinals.

Matching a profile is then a few sparse matrix-vector products (see `kbrank.personalize.facts`), never a
Python loop over articles. Saved beside the other indexes (``write_applicability``/``read_applicability``).

Versions that are not PEP 440 (firmware strings such as ``FW_2.3.1`` or ``2.3.1-build7``) fall back to
their first dotted number run (``2.3.1``); a version with no number at all counts as unknown, which
neither matches nor misses a range (see `parse_version`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

import numpy as np
import scipy.sparse as sp

from ..corpus import Corpus
from ..corpus.article import STATUSES

__all__ = ["Applicability", "compile_applicability", "parse_version", "version_in", "KINDS_OF_ATTRIBUTE",
           "write_applicability", "read_applicability"]

KINDS_OF_ATTRIBUTE = ("products", "platforms", "regions", "locales", "audience", "tags")
_NUMBER_RUN = re.compile(r"\d+(?:\.\d+)*")


@lru_cache(maxsize=4096)
def parse_version(text: str | None) -> Any:
    """A `packaging.version.Version`, using the first dotted number run for non-PEP 440 strings; else None."""
    if not text:
        return None
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text)
    except InvalidVersion:
        match = _NUMBER_RUN.search(text)
        return Version(match.group(0)) if match else None


@lru_cache(maxsize=65536)
def version_in(spec: str, version: str) -> bool | None:
    """Whether ``version`` satisfies the specifier set ``spec`` (pre-releases included); None if unknown."""
    from packaging.specifiers import SpecifierSet

    parsed = parse_version(version)
    if parsed is None:
        return None
    return SpecifierSet(spec).contains(parsed, prereleases=True)


def _membership(values: list[tuple[str, ...]]) -> tuple[tuple[str, ...], sp.csr_matrix]:
    vocab: dict[str, int] = {}
    indptr, indices = [0], []
    for items in values:
        for item in dict.fromkeys(items):
            indices.append(vocab.setdefault(item, len(vocab)))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float64)
    matrix = sp.csr_matrix((data, np.asarray(indices, np.int32), np.asarray(indptr, np.int64)),
                           shape=(len(values), max(len(vocab), 1)))
    return tuple(vocab), matrix


@dataclass(frozen=True)
class Applicability:
    """The compiled applicability of a corpus (rows align with the corpus)."""

    n_articles: int
    vocab: dict[str, tuple[str, ...]]  # attribute kind -> vocabulary
    matrices: dict[str, sp.csr_matrix]  # attribute kind -> articles x vocabulary (1.0 = listed)
    spec_rows: np.ndarray  # int64, article row of each version-range entry
    spec_products: np.ndarray  # int64, product id (in vocab["products"]) of each entry
    spec_ids: np.ndarray  # int64, index into `specs`
    specs: tuple[str, ...]  # distinct specifier strings
    status: np.ndarray  # int8, index into STATUSES
    kinds: tuple[str, ...]
    kind: np.ndarray  # int16, index into `kinds`
    valid_until: np.ndarray  # int64 day ordinal, 0 = no end
    updated_at: np.ndarray  # int64 day ordinal, 0 = unknown

    def restricted(self, kind: str) -> np.ndarray:
        """Articles that list at least one value of this attribute kind."""
        return np.diff(self.matrices[kind].indptr) > 0

    def indicator(self, kind: str, values: Iterable[str]) -> np.ndarray:
        """A 0/1 vector over the vocabulary of ``kind`` for the given values (unknown values are ignored)."""
        vocab = self.vocab[kind]
        out = np.zeros(self.matrices[kind].shape[1])
        index = {v: i for i, v in enumerate(vocab)}
        for value in values:
            if value in index:
                out[index[value]] = 1.0
        return out

    def lists_any(self, kind: str, values: Iterable[str]) -> np.ndarray:
        """Articles that list at least one of ``values`` (a sparse matrix-vector product)."""
        return (self.matrices[kind] @ self.indicator(kind, values)) > 0


def compile_applicability(corpus: Corpus) -> Applicability:
    """Compile every article's applicability (one pass over the corpus, at index time)."""
    vocab, matrices = {}, {}
    for kind in KINDS_OF_ATTRIBUTE:
        vocab[kind], matrices[kind] = _membership([getattr(a, kind) for a in corpus])
    product_id = {p: i for i, p in enumerate(vocab["products"])}
    spec_index: dict[str, int] = {}
    rows, products, ids = [], [], []
    for row, article in enumerate(corpus):
        for product, spec in article.versions.items():
            if product in product_id:  # the loaders refuse a range for a product the article does not list
                rows.append(row)
                products.append(product_id[product])
                ids.append(spec_index.setdefault(spec, len(spec_index)))
    kinds: dict[str, int] = {}
    kind = np.asarray([kinds.setdefault(a.kind, len(kinds)) for a in corpus], np.int16)
    return Applicability(
        n_articles=len(corpus),
        vocab=vocab,
        matrices=matrices,
        spec_rows=np.asarray(rows, np.int64),
        spec_products=np.asarray(products, np.int64),
        spec_ids=np.asarray(ids, np.int64),
        specs=tuple(spec_index),
        status=np.asarray([STATUSES.index(a.status) for a in corpus], np.int8),
        kinds=tuple(kinds),
        kind=kind,
        valid_until=np.asarray([a.valid_until.toordinal() if a.valid_until else 0 for a in corpus], np.int64),
        updated_at=np.asarray([a.updated_at.toordinal() if a.updated_at else 0 for a in corpus], np.int64),
    )


_ARRAYS = ("spec_rows", "spec_products", "spec_ids", "status", "kind", "valid_until", "updated_at")


def write_applicability(writer: Any, applicability: Applicability, prefix: str = "applicability") -> None:
    """Add the compiled applicability to an index directory (``kbrank.index.storage.IndexWriter``)."""
    for name in _ARRAYS:
        writer.add_array(f"{prefix}.{name}", getattr(applicability, name))
    for kind in KINDS_OF_ATTRIBUTE:
        matrix = applicability.matrices[kind]
        writer.add_array(f"{prefix}.{kind}.indptr", matrix.indptr.astype(np.int64))
        writer.add_array(f"{prefix}.{kind}.indices", matrix.indices.astype(np.int32))
    writer.add_jsonl(f"{prefix}.vocab", ({"kind": k, "values": list(v)} for k, v in applicability.vocab.items()))
    writer.components[prefix] = {"articles": applicability.n_articles, "specs": list(applicability.specs),
                                 "kinds": list(applicability.kinds)}


def read_applicability(reader: Any, prefix: str = "applicability") -> Applicability:
    """Read what `write_applicability` wrote (checksums were verified by the reader)."""
    meta = reader.components[prefix]
    vocab = {record["kind"]: tuple(record["values"]) for _, record in reader.jsonl(f"{prefix}.vocab")}
    n = int(meta["articles"])
    matrices = {}
    for kind in KINDS_OF_ATTRIBUTE:
        indptr = np.asarray(reader.array(f"{prefix}.{kind}.indptr", mmap=False))
        indices = np.asarray(reader.array(f"{prefix}.{kind}.indices", mmap=False))
        matrices[kind] = sp.csr_matrix((np.ones(indices.shape[0]), indices, indptr),
                                       shape=(n, max(len(vocab[kind]), 1)))
    arrays = {name: np.asarray(reader.array(f"{prefix}.{name}", mmap=False)) for name in _ARRAYS}
    return Applicability(n_articles=n, vocab=vocab, matrices=matrices, specs=tuple(meta["specs"]),
                         kinds=tuple(meta["kinds"]), **arrays)
