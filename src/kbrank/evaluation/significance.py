"""Paired significance tests over per-query metric values: one small pure function per test, chosen by name.

Both tests are two-sided and compare ``system[i]`` with ``baseline[i]`` for the same query ``i``. They return
NaN when there are fewer than two pairs, and 1.0 when every pair is equal.

References: M. D. Smucker, J. Allan and B. Carterette, "A comparison of statistical significance tests for
information retrieval evaluation", CIKM 2007.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from ..errors import ParameterError
from ._common import require

__all__ = ["SIGNIFICANCE_TESTS", "paired_t_test", "randomization_test", "significance_test"]


def _differences(baseline: np.ndarray, system: np.ndarray) -> np.ndarray:
    a = np.asarray(baseline, dtype=np.float64)
    b = np.asarray(system, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ParameterError("system", f"a 1-d array paired with the baseline's shape {a.shape}", b.shape)
    return b - a


def paired_t_test(baseline: np.ndarray, system: np.ndarray) -> float:
    """The two-sided p-value of Student's paired t-test (``scipy.stats.ttest_rel``).

    t = mean(d) / (sd(d) / sqrt(n)) with d = system - baseline, compared against a t distribution with n - 1
    degrees of freedom. When every difference is the same, the test is degenerate: 1.0 if they are all zero,
    else 0.0 (a constant, non-zero improvement).
    """
    d = _differences(baseline, system)
    if d.size < 2:
        return math.nan
    if np.all(d == d[0]):
        return 1.0 if d[0] == 0 else 0.0
    stats = require("scipy.stats")
    with warnings.catch_warnings():
        # Nearly constant differences make scipy warn about precision; the p-value is still the right one.
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_rel(system, baseline).pvalue)


def randomization_test(
    baseline: np.ndarray, system: np.ndarray, *, n_resamples: int = 10_000, seed: int = 0
) -> float:
    """The two-sided p-value of Fisher's paired randomization (sign-flip permutation) test.

    Under the null hypothesis each difference d_i = system_i - baseline_i is as likely to have the other sign.
    The p-value is (1 + #{resamples with |mean(s * d)| >= |mean(d)|}) / (1 + n_resamples) over random signs s,
    drawn from ``numpy.random.default_rng(seed)``, so a given seed always gives the same p-value.
    """
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ParameterError("n_resamples", "a positive integer", n_resamples)
    d = _differences(baseline, system)
    if d.size < 2:
        return math.nan
    observed = abs(float(np.mean(d)))
    if observed == 0.0 and not np.any(d):
        return 1.0
    tolerance = 1e-12 * max(1.0, observed)  # the same mean, summed in another order, must still count
    rng = np.random.default_rng(seed)
    at_least = 0
    chunk = max(1, min(n_resamples, 2_000_000 // d.size))
    remaining = n_resamples
    while remaining:
        size = min(chunk, remaining)
        signs = rng.integers(0, 2, size=(size, d.size), dtype=np.int8) * 2 - 1
        means = np.abs(signs @ d) / d.size
        at_least += int(np.count_nonzero(means >= observed - tolerance))
        remaining -= size
    return (1 + at_least) / (1 + n_resamples)


SIGNIFICANCE_TESTS: dict[str, Callable[..., float]] = {
    "t-test": paired_t_test,
    "randomization": randomization_test,
}


def significance_test(name: str) -> Callable[..., float]:
    """The test function registered under ``name`` ("t-test" or "randomization")."""
    try:
        return SIGNIFICANCE_TESTS[name]
    except (KeyError, TypeError):
        raise ParameterError("test", f"one of {list(SIGNIFICANCE_TESTS)}", name) from None
