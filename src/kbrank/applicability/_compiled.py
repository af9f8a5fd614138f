"""The applicability of a whole corpus, compiled into sparse article x attribute matrices and a table of version
ranges, so matching a profile is a few sparse products and one check per distinct (range, product) pair."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Iterable, Mapping, Protocol, Sequence

import numpy as np

from ._versions import parse_range, version_in

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["KINDS_OF_ATTRIBUTE", "Applicability", "Compilable", "compile_applicability"]

#: The restricted attributes of a scope, in the order the compiled matrices use.
KINDS_OF_ATTRIBUTE = ("products", "platforms", "regions", "locales", "audience", "tags")


def _membership(values: list[tuple[str, ...]]) -> tuple[tuple[str, ...], sp.csr_matrix]:
    import scipy.sparse as sp

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


def _codes(values: Iterable[str]) -> tuple[tuple[str, ...], np.ndarray]:
    names: dict[str, int] = {}
    codes = np.asarray([names.setdefault(v, len(names)) for v in values], np.int16)
    return tuple(names), codes


@dataclass(frozen=True)
class Applicability:
    """The compiled applicability of a corpus (rows align with the corpus); see `compile_applicability`."""

    n_articles: int
    vocab: Mapping[str, tuple[str, ...]]  # attribute kind -> vocabulary
    matrices: Mapping[str, "sp.csr_matrix"]  # attribute kind -> articles x vocabulary (1.0 = listed)
    spec_rows: np.ndarray  # int64, article row of each version-range entry
    spec_products: np.ndarray  # int64, product id (in vocab["products"]) of each entry
    spec_ids: np.ndarray  # int64, index into `specs`
    specs: tuple[str, ...]  # distinct range strings
    statuses: tuple[str, ...]
    status: np.ndarray  # int16, index into `statuses`
    kinds: tuple[str, ...]
    kind: np.ndarray  # int16, index into `kinds`
    valid_until: np.ndarray  # int64 day ordinal, 0 = no end
    updated_at: np.ndarray  # int64 day ordinal, 0 = unknown

    def take(self, rows: np.ndarray) -> Applicability:
        """The applicability of the given articles only, in that order (to explain a few results without
        touching the rest of the corpus)."""
        rows = np.asarray(rows, dtype=np.int64)
        position = np.full(self.n_articles, -1, np.int64)
        position[rows] = np.arange(rows.size)
        entries = np.flatnonzero(position[self.spec_rows] >= 0) if self.spec_rows.size else np.empty(0, np.int64)
        return Applicability(
            n_articles=int(rows.size), vocab=self.vocab, matrices={k: m[rows] for k, m in self.matrices.items()},
            spec_rows=position[self.spec_rows[entries]], spec_products=self.spec_products[entries],
            spec_ids=self.spec_ids[entries], specs=self.specs, statuses=self.statuses, status=self.status[rows],
            kinds=self.kinds, kind=self.kind[rows], valid_until=self.valid_until[rows],
            updated_at=self.updated_at[rows])

    def restricted(self, kind: str) -> np.ndarray:
        """Articles that list at least one value of this attribute kind."""
        out: np.ndarray = np.diff(self.matrices[kind].indptr) > 0
        return out

    def indicator(self, kind: str, values: Iterable[str]) -> np.ndarray:
        """A 0/1 vector over the vocabulary of ``kind`` for the given values (unknown values are ignored)."""
        index = self.vocab_index[kind]
        out = np.zeros(self.matrices[kind].shape[1])
        hits = [index[v] for v in values if v in index]
        out[hits] = 1.0
        return out

    def lists_any(self, kind: str, values: Iterable[str]) -> np.ndarray:
        """Articles that list at least one of ``values`` (a sparse matrix-vector product)."""
        out: np.ndarray = (self.matrices[kind] @ self.indicator(kind, values)) > 0
        return out

    def has_status(self, status: str) -> np.ndarray:
        out: np.ndarray = self.status == (self.statuses.index(status) if status in self.statuses else -1)
        return out

    def has_kind(self, kind: str) -> np.ndarray:
        out: np.ndarray = self.kind == (self.kinds.index(kind) if kind in self.kinds else -1)
        return out

    def version_verdicts(self, versions: Mapping[str, Sequence[str | None]]) -> tuple[np.ndarray, np.ndarray]:
        """(match, near_miss) per article for the owned ``versions`` (product -> versions owned).

        An article matches when it has a range for an owned product and some owned version is in it; it is a
        near miss when it has such a range, every owned version is known and outside it, and nothing else
        matched. Each distinct (range, product) pair is checked once.
        """
        n, products = self.n_articles, self.vocab["products"]
        owned = np.array([i for i, p in enumerate(products) if versions.get(p)], dtype=np.int64)
        if self.spec_rows.size == 0 or owned.size == 0:
            return np.zeros(n, bool), np.zeros(n, bool)
        relevant = np.flatnonzero(np.isin(self.spec_products, owned))
        keys = self.spec_ids[relevant] * len(products) + self.spec_products[relevant]
        unique, inverse = np.unique(keys, return_inverse=True)
        verdict = np.zeros(unique.shape[0], np.int8)  # 1 match, -1 miss, 0 unknown
        for i, key in enumerate(unique.tolist()):
            spec, product = self.specs[key // len(products)], products[key % len(products)]
            answers = [version_in(spec, v) for v in versions[product]]
            verdict[i] = 1 if True in answers else (-1 if all(a is False for a in answers) else 0)
        entry_verdict = verdict[inverse]
        match = np.bincount(self.spec_rows[relevant[entry_verdict == 1]], minlength=n) > 0
        miss = np.bincount(self.spec_rows[relevant[entry_verdict == -1]], minlength=n) > 0
        return match, miss & ~match

    def upper_bounded(self, products: Iterable[str]) -> np.ndarray:
        """Articles with an upper-bounded range ("fixed in 2.4") for any of ``products``."""
        out = np.zeros(self.n_articles, bool)
        wanted = set(products)
        ids = [i for i, p in enumerate(self.vocab["products"]) if p in wanted]
        if not ids or self.spec_rows.size == 0:
            return out
        entries = np.flatnonzero(np.isin(self.spec_products, np.asarray(ids, np.int64)))
        bounded = np.fromiter((parse_range(self.specs[i]).upper_bounded for i in self.spec_ids[entries].tolist()),
                              bool, count=entries.size)
        out[self.spec_rows[entries[bounded]]] = True
        return out

    @cached_property
    def vocab_index(self) -> Mapping[str, Mapping[str, int]]:
        """kind -> value -> its column in ``matrices[kind]`` (``vocab`` inverted once, not per look-up)."""
        return MappingProxyType({kind: MappingProxyType({v: i for i, v in enumerate(values)})
                                 for kind, values in self.vocab.items()})

    @cached_property
    def _entries_by_product(self) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """product id -> (article rows of its range entries, ascending, the distinct spec ids, each entry's
        index into them): the version-range table grouped by product once, so one product's verdicts touch
        only its own entries, and a few articles' entries are found by binary search."""
        order = np.argsort(self.spec_products, kind="stable")
        products = self.spec_products[order]
        starts = np.flatnonzero(np.r_[True, products[1:] != products[:-1]]) if products.size else np.empty(0, int)
        groups = {}
        for start, stop in zip(starts.tolist(), [*starts[1:].tolist(), products.size]):
            entries = order[start:stop]
            entries = entries[np.argsort(self.spec_rows[entries], kind="stable")]
            specs, inverse = np.unique(self.spec_ids[entries], return_inverse=True)
            groups[int(products[start])] = (self.spec_rows[entries], specs, inverse.reshape(-1))
        return groups

    def range_verdict_rows(self, product: str, versions: Sequence[str | None],
                           among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, rows) of the articles whose range for ``product`` contains some of ``versions``, and of those
        whose range excludes every one of them, all known: `version_verdicts` for one product, as article
        rows. Each distinct range of the product is checked once; with ``among`` (article rows), only the
        ranges of those articles are checked, and only those rows are returned."""
        group = self._entries_by_product.get(self.vocab_index["products"].get(product, -1))
        if group is None or not versions:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        rows, specs, inverse = group
        needed = range(specs.size)
        if among is not None:  # each asked row's entries: a run of the ascending rows, found by binary search
            wanted = np.unique(np.asarray(among, dtype=rows.dtype))
            first, stop = np.searchsorted(rows, wanted, "left"), np.searchsorted(rows, wanted, "right")
            counts = stop - first
            at = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
            rows, inverse = rows[at], inverse[at]
            needed = np.unique(inverse).tolist()
        verdict = np.zeros(specs.size, np.int8)  # 1 match, -1 miss, 0 unknown
        for i in needed:
            answers = [version_in(self.specs[int(specs[i])], v) for v in versions]
            verdict[i] = 1 if True in answers else (-1 if all(a is False for a in answers) else 0)
        entry_verdict = verdict[inverse]
        return rows[entry_verdict == 1], rows[entry_verdict == -1]

    def upper_bounded_rows(self, product: str) -> np.ndarray:
        """Rows of the articles with an upper-bounded range ("fixed in 2.4") for ``product``."""
        group = self._entries_by_product.get(self.vocab_index["products"].get(product, -1))
        if group is None:
            return np.empty(0, np.int64)
        rows, specs, inverse = group
        bounded = np.fromiter((parse_range(self.specs[i]).upper_bounded for i in specs.tolist()), bool,
                              count=specs.size)
        out: np.ndarray = rows[bounded[inverse]]
        return out


def in_sorted(sorted_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Whether each of ``rows`` is in ``sorted_rows`` (a binary search per row)."""
    if sorted_rows.size == 0:
        return np.zeros(np.shape(rows), bool)
    at = np.minimum(np.searchsorted(sorted_rows, rows), sorted_rows.size - 1)
    found: np.ndarray = sorted_rows[at] == rows
    return found


class Compilable(Protocol):
    """What `compile_applicability` reads of an article (a `kbrank.Article` has all of it)."""

    @property
    def products(self) -> tuple[str, ...]: ...
    @property
    def versions(self) -> Mapping[str, str]: ...
    @property
    def platforms(self) -> tuple[str, ...]: ...
    @property
    def regions(self) -> tuple[str, ...]: ...
    @property
    def locales(self) -> tuple[str, ...]: ...
    @property
    def audience(self) -> tuple[str, ...]: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def status(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def valid_until(self) -> dt.date | None: ...
    @property
    def updated_at(self) -> dt.date | None: ...


def compile_applicability(articles: Sequence[Compilable]) -> Applicability:
    """Compile every article's scope and lifecycle (status, kind, validity) in one pass, at index time.

    ``articles`` is a `kbrank.Corpus` or any sequence of objects with the `Scope` attributes plus ``tags``,
    ``status``, ``kind``, ``valid_until`` and ``updated_at``.
    """
    vocab, matrices = {}, {}
    for kind in KINDS_OF_ATTRIBUTE:
        vocab[kind], matrices[kind] = _membership([tuple(getattr(a, kind)) for a in articles])
    product_id = {p: i for i, p in enumerate(vocab["products"])}
    spec_index: dict[str, int] = {}
    rows, products, ids = [], [], []
    for row, article in enumerate(articles):
        for product, spec in article.versions.items():
            if product in product_id:  # a range for a product the article does not list is refused on load
                rows.append(row)
                products.append(product_id[product])
                ids.append(spec_index.setdefault(spec, len(spec_index)))
    statuses, status_codes = _codes(a.status for a in articles)
    kinds, kind_codes = _codes(a.kind for a in articles)
    return Applicability(
        n_articles=len(articles), vocab=vocab, matrices=matrices, spec_rows=np.asarray(rows, np.int64),
        spec_products=np.asarray(products, np.int64), spec_ids=np.asarray(ids, np.int64),
        specs=tuple(spec_index), statuses=statuses, status=status_codes, kinds=kinds, kind=kind_codes,
        valid_until=np.asarray([a.valid_until.toordinal() if a.valid_until else 0 for a in articles], np.int64),
        updated_at=np.asarray([a.updated_at.toordinal() if a.updated_at else 0 for a in articles], np.int64),
    )
