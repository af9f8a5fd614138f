"""Array checks for validating loaded index files: one pass each, no temporary array as long as the input."""

from __future__ import annotations

import numpy as np

__all__ = ["all_finite"]


def all_finite(array: np.ndarray) -> bool:
    """No NaN or infinity in ``array`` (``min`` and ``max`` propagate NaN, so nothing as large is allocated)."""
    return array.size == 0 or bool(np.isfinite(array.min()) and np.isfinite(array.max()))
