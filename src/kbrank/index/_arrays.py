"""Array checks for validating loaded index files: one pass each, no temporary array as long as the input."""

from __future__ import annotations

import numpy as np

__all__ = ["all_finite", "row_sums"]


def all_finite(array: np.ndarray) -> bool:
    """No NaN or infinity in ``array`` (``min`` and ``max`` propagate NaN, so nothing as large is allocated)."""
    return array.size == 0 or bool(np.isfinite(array.min()) and np.isfinite(array.max()))


def row_sums(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """``values[indptr[r]:indptr[r + 1]].sum()`` for every row ``r`` of a valid CSR pointer array (int64).

    >>> row_sums(np.array([1, 2, 3]), np.array([0, 2, 2, 3])).tolist()
    [3, 0, 3]
    """
    sums = np.zeros(indptr.shape[0] - 1, np.int64)
    starts = indptr[:-1]
    filled = int(np.searchsorted(starts, values.shape[0], side="left"))  # rows from here on are empty
    if filled:
        sums[:filled] = np.add.reduceat(values, starts[:filled], dtype=np.int64)
        sums[np.flatnonzero(indptr[1:] == starts)] = 0  # reduceat gives an empty row its next value
    return sums
