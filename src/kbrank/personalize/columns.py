"""`ArticleColumns`: per-article boolean columns of one compiled corpus, each computed once and then reused.

A profile's facts (`kbrank.personalize.facts`) are unions and intersections of a few columns over all
articles: "lists product p", "lists platform q", "is restricted by region", "its range for p contains one of
these versions". Customers share products, versions, platforms and regions, so a customer's first query
(a cold plan) finds most of its columns already computed: the plan becomes a handful of boolean ``|`` and
``&`` over arrays, not sparse products and version checks over the whole corpus.

The columns are kept in a `ByteBoundedCache` (`COLUMN_CACHE_BYTES`, 1 byte per article per column; the
version verdicts as the int32 rows they hold, since a product's ranges cover a fraction of the corpus). Keys
are catalog values (a product id, a region), except the version verdicts, keyed by a product and the
versions a customer owns of it: that pair can help identify a customer, so the `Personalizer` empties this
cache on every erasure, with its plan cache. `RowColumns` gives the same columns at a few rows (a rerank's
candidates, receipts): gathered from the full ones where they are kept, else computed at those rows only.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Callable, Hashable, Iterable, Sequence

import numpy as np

from .._cache import ByteBoundedCache
from ..applicability import Applicability
from ..applicability._compiled import in_sorted

__all__ = ["ArticleColumns", "RowColumns", "COLUMN_CACHE_BYTES"]

#: The default bound of a personalizer's column cache: 32 MB (320 columns at 100k articles).
COLUMN_CACHE_BYTES = 32 * 2**20


class ArticleColumns:
    """Boolean columns over the articles of ``app`` (see the module docstring); ``cache_bytes=0`` keeps none."""

    def __init__(self, app: Applicability, *, cache_bytes: int = COLUMN_CACHE_BYTES) -> None:
        self.app = app
        self.n = app.n_articles
        self.cache: ByteBoundedCache[np.ndarray] = ByteBoundedCache(cache_bytes)
        self.keep_verdicts = True

    def keeping_catalog_columns_only(self) -> ArticleColumns:
        """A handle on the same cache that computes the version verdicts (keyed by a customer's versions)
        without keeping them: for a view whose gateway cannot empty this cache on erasure."""
        handle = copy.copy(self)
        handle.keep_verdicts = False
        return handle

    def _column(self, key: Hashable, compute: Callable[[], np.ndarray], *, keep: bool = True,
                dtype: type = bool) -> np.ndarray:
        column = self.cache.get(key)
        if column is None:
            column = np.ascontiguousarray(compute(), dtype=dtype)
            column.setflags(write=False)
            if keep:
                self.cache.put(key, column, max(column.nbytes, 64))  # an empty one still counts
        return column

    def _rows(self, rows: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n, bool)
        out[rows] = True
        return out

    def restricted(self, kind: str) -> np.ndarray:
        """Articles that list at least one value of ``kind``."""
        return self._column(("restricted", kind), lambda: self.app.restricted(kind))

    def listing(self, kind: str, value: str) -> np.ndarray:
        """Articles that list ``value`` of ``kind``."""
        return self._column(("lists", kind, value), lambda: self.app.lists_any(kind, [value]))

    def lists_any(self, kind: str, values: Iterable[str]) -> np.ndarray:
        """Articles that list at least one of ``values`` (a union of `listing` columns)."""
        out = np.zeros(self.n, bool)
        for value in sorted(set(values)):
            np.logical_or(out, self.listing(kind, value), out=out)
        return out

    def has_status(self, status: str) -> np.ndarray:
        return self._column(("status", status), lambda: self.app.has_status(status))

    def has_kind(self, kind: str) -> np.ndarray:
        return self._column(("kind", kind), lambda: self.app.has_kind(kind))

    def expired(self, today: dt.date) -> np.ndarray:
        """Articles whose ``valid_until`` is before ``today``."""
        day = today.toordinal()
        return self._column(("expired", day),
                            lambda: (self.app.valid_until > 0) & (self.app.valid_until < day))

    @staticmethod
    def _versions_key(versions: Sequence[str | None]) -> tuple[str | None, ...]:
        return tuple(sorted(set(versions), key=lambda v: (v is None, v or "")))

    def kept(self, key: Hashable) -> np.ndarray | None:
        """A column already computed and kept, or None (nothing is computed)."""
        return self.cache.get(key)

    def verdicts_at(self, product: str, versions: Sequence[str | None],
                    rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(match, miss) at ``rows``: gathered from the full verdicts when they are kept (a plan computed
        them), otherwise checked for the ranges of those rows only (a few rows of a large corpus: computing
        the full verdicts would cost more than the whole rerank)."""
        key = self._versions_key(versions)
        match_kept, miss_kept = self.kept(("version-match", product, key)), self.kept(("version-miss", product, key))
        if match_kept is not None and miss_kept is not None:
            return in_sorted(match_kept, rows), in_sorted(miss_kept, rows)
        match_rows, miss_rows = self.app.range_verdict_rows(product, list(key), among=rows)
        return in_sorted(np.sort(match_rows), rows), in_sorted(np.sort(miss_rows), rows)

    def _verdicts(self, product: str, versions: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, rows): the articles whose range for ``product`` contains one of ``versions``, and those whose
        range excludes all of them (kept as sorted row numbers: a product's ranges cover a fraction of the
        corpus)."""
        key = self._versions_key(versions)
        made: list[np.ndarray] = []

        def compute(which: int) -> np.ndarray:
            if not made:
                made.extend(np.sort(rows) for rows in self.app.range_verdict_rows(product, list(key)))
            return made[which]

        return (self._column(("version-match", product, key), lambda: compute(0), keep=self.keep_verdicts,
                             dtype=np.int32),
                self._column(("version-miss", product, key), lambda: compute(1), keep=self.keep_verdicts,
                             dtype=np.int32))

    def version_verdicts(self, versions: dict[str, list[str | None]]) -> tuple[np.ndarray, np.ndarray]:
        """(match, near_miss) per article, as `Applicability.version_verdicts` computes them."""
        match, miss = np.zeros(self.n, bool), np.zeros(self.n, bool)
        for product in sorted(versions):
            if versions[product]:
                match_rows, miss_rows = self._verdicts(product, versions[product])
                match[match_rows] = True
                miss[miss_rows] = True
        return match, miss & ~match

    def upper_bounded(self, products: Iterable[str]) -> np.ndarray:
        """Articles with an upper-bounded range for any of ``products``."""
        out = np.zeros(self.n, bool)
        for product in sorted(set(products)):
            np.logical_or(out, self._upper_bounded(product), out=out)
        return out

    def _upper_bounded(self, product: str) -> np.ndarray:
        return self._column(("upper-bounded", product), lambda: self._rows(self.app.upper_bounded_rows(product)))

    def tag_weights(self, vector: np.ndarray) -> np.ndarray:
        """The articles x tags membership matrix times ``vector`` (a weight per tag)."""
        out: np.ndarray = self.app.matrices["tags"] @ vector
        return out

    def clear(self) -> int:
        return self.cache.clear()


class SparseRows:
    """A few rows of a CSR matrix, for products with a vector (``rows_matrix @ vector``).

    scipy's fancy row indexing plus the product took about 0.15 ms for 100 rows, mostly its own checks; this
    gathers the rows' entries with numpy once. Each row's products are added in the matrix's entry order,
    starting from 0.0, as scipy's CSR product adds them, so the results are the same floats."""

    def __init__(self, matrix: Any, rows: np.ndarray) -> None:
        indptr = matrix.indptr
        starts, counts = indptr[rows], indptr[rows + 1] - indptr[rows]
        self.n = int(rows.size)
        self.owner = np.repeat(np.arange(self.n), counts)
        entry = np.arange(int(counts.sum())) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
        self.columns = matrix.indices[entry]
        self.values = np.asarray(matrix.data[entry], np.float64)

    def __matmul__(self, vector: np.ndarray) -> np.ndarray:
        products = self.values * np.asarray(vector, np.float64)[self.columns]
        out: np.ndarray = np.bincount(self.owner, weights=products, minlength=self.n)
        return out.astype(np.float64, copy=False)  # no entries at all: bincount gives integers


class RowColumns:
    """The columns of ``full`` at ``rows`` only (gathered from the full columns, which are cached)."""

    def __init__(self, full: ArticleColumns, rows: np.ndarray) -> None:
        self.full, self.rows = full, np.asarray(rows, dtype=np.int64)
        self.app = full.app
        self.n = int(self.rows.size)
        self._matrices: dict[str, Any] = {}

    def restricted(self, kind: str) -> np.ndarray:
        return self.full.restricted(kind)[self.rows]

    def listing(self, kind: str, value: str) -> np.ndarray:
        """Gathered from the full column when it is kept; otherwise computed at these rows only (a value
        column over a large corpus costs milliseconds, and the plan did not need it)."""
        column = self.full.kept(("lists", kind, value))
        if column is not None:
            return column[self.rows]
        out: np.ndarray = (self._matrix(kind) @ self.app.indicator(kind, [value])) > 0
        return out

    def _matrix(self, kind: str) -> SparseRows:
        """The articles x values matrix of ``kind`` at these rows (sliced once per kind)."""
        matrix = self._matrices.get(kind)
        if matrix is None:
            matrix = self._matrices[kind] = SparseRows(self.app.matrices[kind], self.rows)
        return matrix

    def lists_any(self, kind: str, values: Iterable[str]) -> np.ndarray:
        out = np.zeros(self.n, bool)
        for value in sorted(set(values)):
            out |= self.listing(kind, value)
        return out

    def has_status(self, status: str) -> np.ndarray:
        return self.full.has_status(status)[self.rows]

    def has_kind(self, kind: str) -> np.ndarray:
        return self.full.has_kind(kind)[self.rows]

    def expired(self, today: dt.date) -> np.ndarray:
        return self.full.expired(today)[self.rows]

    def version_verdicts(self, versions: dict[str, list[str | None]]) -> tuple[np.ndarray, np.ndarray]:
        match, miss = np.zeros(self.n, bool), np.zeros(self.n, bool)
        for product in sorted(versions):
            if versions[product]:
                match_at, miss_at = self.full.verdicts_at(product, versions[product], self.rows)
                match |= match_at
                miss |= miss_at
        return match, miss & ~match

    def upper_bounded(self, products: Iterable[str]) -> np.ndarray:
        return self.full.upper_bounded(products)[self.rows]

    def tag_weights(self, vector: np.ndarray) -> np.ndarray:
        out: np.ndarray = self._matrix("tags") @ vector
        return out
