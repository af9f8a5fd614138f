"""BM25 term statistics, one small pure function per variant, computed exactly as rank_bm25 computes them.

An entry's weight (the amount a (term, article) pair adds to a query's score) is computed at query time by
the compiled kernels (`kbrank.index._bm25_kernels.weight`) from three numbers: the term's ``idf``, the
entry's count ``tf`` and the ``norm`` of the article's length, computed here once per distinct length. For
Okapi and BM25+ the factor after ``idf`` depends only on (``tf``, length), so `factor_table` tabulates it
for small counts, computed with the same operations: the kernels then multiply instead of divide. The float expressions follow
rank_bm25 0.2.2 operation by operation, so float64 scores are bit-for-bit identical to
``rank_bm25.BM25*.get_scores``:

- Okapi: ``idf * (tf * (k1 + 1) / (tf + norm))`` with ``norm = k1 * (1 - b + b * dl / avgdl)``,
  ``idf = ln(N - df + 0.5) - ln(df + 0.5)``, a negative idf replaced by ``epsilon * mean(idf)``;
- BM25L: ``ctd = tf / norm``, ``idf * tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)`` with
  ``norm = 1 - b + b * dl / avgdl`` and ``idf = ln(N + 1) - ln(df + 0.5)`` (rank_bm25 multiplies by ``tf``,
  Lv and Zhai's formula does not, so articles without the term get 0; kbrank follows rank_bm25);
- BM25+: ``idf * (delta + tf * (k1 + 1) / (norm + tf))`` with ``norm = k1 * (1 - b + b * dl / avgdl)`` and
  ``idf = ln((N + 1) / df)``; an article without the term gets the *base* ``idf * delta``.

References:
- Okapi BM25: S. Robertson and H. Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond", 2009.
- BM25L: Y. Lv and C. Zhai, "When Documents Are Very Long, BM25 Fails!", SIGIR 2011.
- BM25+: Y. Lv and C. Zhai, "Lower-Bounding Term Frequency Normalization", CIKM 2011.
- rank_bm25 (D. Brown, 2020) replaces a negative Okapi IDF by ``epsilon * mean(idf)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["TermStats", "factor_table", "VARIANTS", "VARIANT_CODES", "VARIANT_DEFAULTS"]


@dataclass(frozen=True)
class TermStats:
    idf: np.ndarray  # float64 per term
    base: np.ndarray | None  # float64 per term added to articles without the term; None for "nothing"
    norm: np.ndarray  # float64 per distinct article length (ascending), the variant's length term


def _logs(values: np.ndarray) -> np.ndarray:
    """``math.log`` of each value (Python's libm, as rank_bm25 uses), computed once per distinct value."""
    uniq, inverse = np.unique(values, return_inverse=True)
    return np.array([math.log(v) for v in uniq.tolist()], dtype=np.float64)[inverse]


def _length_norm(dl: np.ndarray, avgdl: float, b: float) -> np.ndarray:
    # rank_bm25 writes 1 - self.b + self.b * doc_len / self.avgdl, which Python evaluates as below.
    return (1 - b) + (b * dl) / avgdl


def okapi(df: np.ndarray, lengths: np.ndarray, n_docs: int, avgdl: float, *, k1: float, b: float,
          epsilon: float) -> TermStats:
    """Term ids must be in the order rank_bm25 first meets the terms: the mean is summed in that order."""
    idf = _logs(n_docs - df + 0.5) - _logs(df + 0.5)
    if idf.size:
        average = np.cumsum(idf)[-1] / idf.size  # cumsum adds sequentially, like rank_bm25's loop
        idf = np.where(idf < 0, epsilon * average, idf)
    return TermStats(idf=idf, base=None, norm=k1 * _length_norm(lengths, avgdl, b))


def bm25l(df: np.ndarray, lengths: np.ndarray, n_docs: int, avgdl: float, *, k1: float, b: float,
          delta: float) -> TermStats:
    idf = math.log(n_docs + 1) - _logs(df + 0.5)
    return TermStats(idf=idf, base=None, norm=_length_norm(lengths, avgdl, b))


def bm25plus(df: np.ndarray, lengths: np.ndarray, n_docs: int, avgdl: float, *, k1: float, b: float,
             delta: float) -> TermStats:
    idf = _logs((n_docs + 1) / df.astype(np.float64))
    return TermStats(idf=idf, base=idf * (delta + 0.0), norm=k1 * _length_norm(lengths, avgdl, b))


def factor_table(variant: str, norm: np.ndarray, k1p1: float, delta: float, max_count: int,
                 budget: int = 1 << 16) -> np.ndarray:
    """The factor after ``idf`` for counts ``1..T`` and each length class, flattened as ``[(tf - 1) * n + c]``,
    with rank_bm25's operations (Okapi ``tf * (k1 + 1) / (tf + norm)``, BM25+ ``delta + tf * (k1 + 1) /
    (norm + tf)``); ``T`` is the largest count, capped so that the table has at most ``budget`` entries.
    Empty for BM25L, whose ``idf`` is multiplied first."""
    n = max(norm.shape[0], 1)
    top = min(max_count, budget // n)
    if variant == "bm25l" or top < 1:
        return np.empty(0)
    f = np.arange(1, top + 1, dtype=np.float64)[:, None]
    table = f * k1p1 / (f + norm[None, :]) if variant == "okapi" else delta + f * k1p1 / (norm[None, :] + f)
    return np.ascontiguousarray(table).ravel()


#: Variant name -> statistics function.
VARIANTS: dict[str, Callable[..., TermStats]] = {"okapi": okapi, "bm25l": bm25l, "bm25+": bm25plus}
#: Variant name -> the code the compiled kernels branch on.
VARIANT_CODES: dict[str, int] = {"okapi": 0, "bm25l": 1, "bm25+": 2}
#: Each variant's extra parameter and rank_bm25's default for it.
VARIANT_DEFAULTS: dict[str, dict[str, float]] = {"okapi": {"epsilon": 0.25}, "bm25l": {"delta": 0.5}, "bm25+": {"delta": 1}}
