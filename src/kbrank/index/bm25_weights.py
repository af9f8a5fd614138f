"""BM25 term weights, one small pure function per variant, computed exactly as rank_bm25 computes them.

Each function returns, for every (article, term) entry, the amount that entry adds to a query's score, and
for every term the *base* amount it adds to articles that do not contain it (none for Okapi and BM25L;
BM25+ gives every article a floor of ``idf * delta``). The float expressions follow rank_bm25 0.2.2 operation by operation, so
float64 scores are bit-for-bit identical to ``rank_bm25.BM25*.get_scores``.

Inputs, per entry: ``tf`` (term count), ``dl`` (article length) and ``term`` (term id); per term: ``df``
(document frequency) and ``order`` (term ids in the order rank_bm25 first meets them).

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

__all__ = ["TermWeights", "VARIANTS", "VARIANT_DEFAULTS"]


@dataclass(frozen=True)
class TermWeights:
    idf: np.ndarray  # float64 per term
    entry: np.ndarray  # float64 per (article, term) entry
    base: np.ndarray | None  # float64 per term added to articles without the term; None for "nothing"


def _logs(values: np.ndarray) -> np.ndarray:
    """``math.log`` of each value (Python's libm, as rank_bm25 uses), computed once per distinct value."""
    uniq, inverse = np.unique(values, return_inverse=True)
    return np.array([math.log(v) for v in uniq.tolist()], dtype=np.float64)[inverse]


def _length_norm(dl: np.ndarray, avgdl: float, b: float) -> np.ndarray:
    # rank_bm25 writes 1 - self.b + self.b * doc_len / self.avgdl, which Python evaluates as below.
    return (1 - b) + (b * dl) / avgdl


def okapi(tf: np.ndarray, dl: np.ndarray, term: np.ndarray, df: np.ndarray, order: np.ndarray, n_docs: int,
          avgdl: float, *, k1: float, b: float, epsilon: float) -> TermWeights:
    """w = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)), idf = ln(N - df + 0.5) - ln(df + 0.5).

    A negative idf becomes ``epsilon * mean(idf)``, the mean summed in rank_bm25's order.
    """
    idf = _logs(n_docs - df + 0.5) - _logs(df + 0.5)
    if idf.size:
        average = np.cumsum(idf[order])[-1] / idf.size  # cumsum adds sequentially, like rank_bm25's loop
        idf = np.where(idf < 0, epsilon * average, idf)
    entry = idf[term] * (tf * (k1 + 1) / (tf + k1 * _length_norm(dl, avgdl, b)))
    return TermWeights(idf=idf, entry=entry, base=None)


def bm25l(tf: np.ndarray, dl: np.ndarray, term: np.ndarray, df: np.ndarray, order: np.ndarray, n_docs: int,
          avgdl: float, *, k1: float, b: float, delta: float) -> TermWeights:
    """ctd = tf / (1 - b + b * dl / avgdl); w = idf * tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta),
    idf = ln(N + 1) - ln(df + 0.5).

    rank_bm25 multiplies by ``tf`` (Lv and Zhai's formula does not), so articles without the term get 0.
    kbrank follows rank_bm25, as its reference.
    """
    idf = math.log(n_docs + 1) - _logs(df + 0.5)
    ctd = tf / _length_norm(dl, avgdl, b)
    entry = idf[term] * tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)
    return TermWeights(idf=idf, entry=entry, base=None)


def bm25plus(tf: np.ndarray, dl: np.ndarray, term: np.ndarray, df: np.ndarray, order: np.ndarray, n_docs: int,
             avgdl: float, *, k1: float, b: float, delta: float) -> TermWeights:
    """w = idf * (delta + tf * (k1 + 1) / (k1 * (1 - b + b * dl / avgdl) + tf)), idf = ln((N + 1) / df).
    An article without the term gets idf * delta."""
    idf = _logs((n_docs + 1) / df.astype(np.float64))
    entry = idf[term] * (delta + (tf * (k1 + 1)) / (k1 * _length_norm(dl, avgdl, b) + tf))
    base = idf * (delta + 0.0)
    return TermWeights(idf=idf, entry=entry, base=base)


#: Variant name -> weight function.
VARIANTS: dict[str, Callable[..., TermWeights]] = {"okapi": okapi, "bm25l": bm25l, "bm25+": bm25plus}
#: Each variant's extra parameter and rank_bm25's default for it.
VARIANT_DEFAULTS: dict[str, dict[str, float]] = {"okapi": {"epsilon": 0.25}, "bm25l": {"delta": 0.5}, "bm25+": {"delta": 1}}
