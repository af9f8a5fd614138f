"""`Candidates`: the one currency between retrieval stages (rows and scores, best first).

Rows index the corpus; article ids appear only at the edges (`Results`, files). A hybrid stage also
keeps, per source ("bm25", "dense"), the rank and score each candidate had there, for explanation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np

from .errors import ParameterError

__all__ = ["Candidates", "SourceScores", "check_k", "frozen_array", "minmax", "top_k"]


def minmax(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to [0, 1] by their minimum and maximum: the one min-max rule of kbrank.

    NaN (a missing value) becomes 0; when all present values are equal, they become 1 (no range to divide).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values.copy()
    low, high = np.fmin.reduce(values), np.fmax.reduce(values)
    if not high > low:  # also when every value is NaN
        out: np.ndarray = np.where(np.isnan(values), 0.0, 1.0)
        return out
    scaled: np.ndarray = np.fmax((values - low) / (high - low), 0.0)  # fmax(NaN, 0) is 0
    return scaled


def check_k(k: object) -> int:
    """``k`` as an int, or `ParameterError`: the one check of "how many results" for every search."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ParameterError("k", "an integer >= 0", k)
    return int(k)


def check_mask(mask: object, n: int) -> np.ndarray:
    """``mask`` as a boolean array of shape ``(n,)``, or `ParameterError`: the one check of a search filter."""
    array = np.asarray(mask)
    if array.dtype != np.bool_ or array.shape != (n,):
        raise ParameterError("mask", f"a boolean array of shape ({n},)", f"{array.dtype} array of shape {array.shape}")
    return array


_DTYPES: dict[object, np.dtype] = {t: np.dtype(t) for t in (np.int64, np.float64, np.int32, np.bool_)}


def frozen_array(values: object, dtype: type[np.generic]) -> np.ndarray:
    """A read-only copy of ``values`` as ``dtype`` (how the immutable row-aligned records hold their arrays)."""
    want = _DTYPES.get(dtype) or np.dtype(dtype)  # comparing with a dtype object, not a type, is fast
    if type(values) is np.ndarray and values.dtype == want:
        out: np.ndarray = values.copy()  # twice as fast as np.array(..., copy=True) for short arrays
    else:
        out = np.array(values, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class SourceScores:
    """What one source said about each candidate: 1-based rank (0 = not retrieved) and score (NaN = absent)."""

    ranks: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "ranks", frozen_array(self.ranks, np.int64))
        object.__setattr__(self, "scores", frozen_array(self.scores, np.float64))


@dataclass(frozen=True)
class Candidates:
    """Rows and scores sorted by score (descending), ties broken by row (ascending).

    >>> c = Candidates(rows=np.array([4, 2]), scores=np.array([1.5, 0.5]))
    >>> len(c), c.rows.tolist()
    (2, [4, 2])
    """

    rows: np.ndarray
    scores: np.ndarray
    sources: Mapping[str, SourceScores] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", frozen_array(self.rows, np.int64))
        object.__setattr__(self, "scores", frozen_array(self.scores, np.float64))
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))
        if self.rows.shape != self.scores.shape or self.rows.ndim != 1:
            raise ValueError("Candidates.rows and .scores must be 1-d arrays of equal length")  # internal misuse

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    @classmethod
    def adopt(cls, rows: np.ndarray, scores: np.ndarray) -> Candidates:
        """Candidates without sources that take ownership of ``rows`` (int64) and ``scores`` (float64), 1-d
        arrays of equal length already best first, instead of copying them: they are made read-only in place.
        For a search's hot path (copying and checking cost a query at 10k articles about a tenth of its time);
        the caller must hold no other writable reference to them, or their base."""
        if (rows.dtype != _DTYPES[np.int64] or scores.dtype != _DTYPES[np.float64] or rows.ndim != 1
                or rows.shape != scores.shape):  # internal misuse
            raise ValueError("Candidates.adopt needs 1-d int64 rows and float64 scores of equal length")
        rows.setflags(write=False)
        scores.setflags(write=False)
        out = object.__new__(cls)
        object.__setattr__(out, "rows", rows)
        object.__setattr__(out, "scores", scores)
        object.__setattr__(out, "sources", _NO_SOURCES)
        return out

    @classmethod
    def adopt_rows(cls, rows: np.ndarray, scores: np.ndarray, sizes: Sequence[int]) -> list[Candidates]:
        """`adopt` for each row of 2-d ``rows``/``scores`` (a batch search's output, each row best first):
        result ``i`` holds the first ``sizes[i]`` entries of row ``i``. Checked and made read-only once, for
        the whole arrays, so each result costs a fraction of a separate `adopt` (about 1 µs instead of 2.7)."""
        if (rows.dtype != _DTYPES[np.int64] or scores.dtype != _DTYPES[np.float64] or rows.ndim != 2
                or rows.shape != scores.shape or len(sizes) != rows.shape[0]):  # internal misuse
            raise ValueError("Candidates.adopt_rows needs 2-d int64 rows and float64 scores of equal shape and "
                             "one size per row")
        rows.setflags(write=False)  # the row views below inherit it
        scores.setflags(write=False)
        width = rows.shape[1]
        new, assign = object.__new__, object.__setattr__
        out = []
        for row, score, size in zip(rows, scores, sizes):
            if not 0 <= size <= width:
                raise ValueError(f"Candidates.adopt_rows: size {size} outside [0, {width}]")  # internal misuse
            if size != width:
                row, score = row[:size], score[:size]
            item = new(cls)
            assign(item, "rows", row)
            assign(item, "scores", score)
            assign(item, "sources", _NO_SOURCES)
            out.append(item)
        return out

    @classmethod
    def empty(cls) -> Candidates:
        return cls(rows=np.empty(0, np.int64), scores=np.empty(0, np.float64))

    def head(self, k: int) -> Candidates:
        """The first ``k`` candidates (sources sliced alike)."""
        return Candidates(
            rows=self.rows[:k],
            scores=self.scores[:k],
            sources={n: SourceScores(s.ranks[:k], s.scores[:k]) for n, s in self.sources.items()},
        )


_NO_SOURCES: Mapping[str, SourceScores] = MappingProxyType({})


def top_k(scores: np.ndarray, k: int, *, mask: np.ndarray | None = None, eligible: np.ndarray | None = None) -> Candidates:
    """The ``k`` best rows of a full score vector, deterministic under ties (lower row first).

    ``mask`` (boolean, one per row) removes rows *before* the top-k is taken, so a filtered top-10 still
    has 10 rows whenever 10 rows pass. ``eligible`` is a second boolean filter with the same meaning (for
    example "matched at least one query term"). Uses ``argpartition`` on the negated scores, which stays
    fast when most scores are equal (see PERF-NOTES: the ``argpartition(s, -k)`` idiom degenerates).
    """
    scores = np.asarray(scores, dtype=np.float64)
    keep = None
    if mask is not None:
        keep = np.asarray(mask, dtype=bool)
    if eligible is not None:
        keep = eligible if keep is None else (keep & eligible)
    if keep is not None:
        rows = np.flatnonzero(keep)
        values = scores[rows]
    else:
        rows = None
        values = scores
    n = values.shape[0]
    if k <= 0 or n == 0:
        return Candidates.empty()
    if k < n:
        part = np.argpartition(-values, k - 1)[:k]
        threshold = values[part].min()
        # Rows strictly above the k-th score, then the lowest-numbered ties at it: deterministic.
        above = np.flatnonzero(values > threshold)
        ties = np.flatnonzero(values == threshold)[: k - above.shape[0]]
        chosen = np.concatenate([above, ties])
    else:
        chosen = np.arange(n)
    order = np.lexsort((chosen, -values[chosen]))
    chosen = chosen[order]
    picked_rows = chosen if rows is None else rows[chosen]
    return Candidates(rows=picked_rows, scores=values[chosen])
