"""Features of the learned reranker: one row per (query, candidate), in two blocks.

*Retrieval features* (`RETRIEVAL_FEATURES`) depend on the query and are computed per candidate from
`Candidates` (see `retrieval_features`):

==========================  ===========================================================================
``retrieval_score``         the fused score, min-max scaled to [0, 1] over the candidates (the policy's base)
``retrieval_rank``          1 / (1-based position among the candidates)
``<source>_score``          the source's raw score, min-max scaled over the candidates it retrieved; 0 if absent
``<source>_rank``           1 / (1-based rank in that source); 0 if the source did not retrieve it
==========================  ===========================================================================

for each source in `SOURCES` (``bm25``, ``dense``); a BM25-only searcher fills the dense columns with zeros.

*Article features* (`ARTICLE_FEATURES`) depend on the profile view and the products the query names, not on
the query's words, so they are computed over all articles once per plan (see `article_features`) and, for a
linear model, folded into one number per article:

==========================  ===========================================================================
every fact of `FACTS`       as `kbrank.personalize.facts.profile_facts` computes it
``version_gap_below``       log(1 + g): the customer's version is older than the article's range by g
                            (in minor releases: 1.0 -> 1.2 is 2, 1.9 -> 2.0 is 91); 0 when inside or unranged
``version_gap_above``       the same when the customer's version is newer than the range ("fixed in 2.4,
                            you run 2.5"); the closest owned version counts
``article_age_years``       years since ``updated_at``, measured from ``today`` (0 when unknown)
==========================  ===========================================================================

Range bounds and version numbers come from the one applicability model (`kbrank.applicability.VersionRange.bounds`
and `version_number`: major x 100 + minor + micro / 100, so that gaps can be measured); the exact inside/outside
decision is `version_in`'s.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Iterable, Mapping

import numpy as np

from ..applicability import Applicability, parse_range, parse_version, version_in, version_number
from ..candidates import Candidates, minmax
from .facts import FACTS, focus_versions

__all__ = ["SOURCES", "RETRIEVAL_FEATURES", "ARTICLE_FEATURES", "VERSION_FEATURES", "retrieval_features",
           "retrieval_columns", "article_features", "version_features", "spec_bounds", "version_number",
           "article_ages"]

SOURCES = ("bm25", "dense")
RETRIEVAL_FEATURES = ("retrieval_score", "retrieval_rank",
                      *(f"{source}_{what}" for source in SOURCES for what in ("score", "rank")))
VERSION_FEATURES = ("version_gap_below", "version_gap_above")
ARTICLE_FEATURES = (*FACTS, *VERSION_FEATURES, "article_age_years")
_OUTSIDE_FLOOR = 0.01  # an excluded bound reached exactly ("<2.4" and 2.4.0) still counts one patch release


def spec_bounds(spec: str) -> tuple[float, float]:
    """(lower, upper) of a version range as version numbers; NaN where the range is open."""
    return parse_range(spec).bounds


def _gap(spec: str, bounds: tuple[float, float], version: str | None) -> tuple[float, float]:
    """(below, above) distance of one version from one range, 0 inside; (nan, nan) if the version is unknown."""
    inside = version_in(spec, version)
    parsed = parse_version(version)
    if inside is None or parsed is None:
        return math.nan, math.nan
    if inside:
        return 0.0, 0.0
    number = version_number(parsed)
    lower, upper = bounds
    if not math.isnan(lower) and number <= lower:
        return max(lower - number, _OUTSIDE_FLOOR), 0.0
    if not math.isnan(upper) and number >= upper:
        return 0.0, max(number - upper, _OUTSIDE_FLOOR)
    return _OUTSIDE_FLOOR, 0.0  # excluded by "!=" or a pre-release rule: just outside


def version_features(app: Applicability, bounds: np.ndarray, view: Any,
                     named: Iterable[str]) -> dict[str, np.ndarray]:
    """The `VERSION_FEATURES` over all articles for this view and query mention (``bounds``: `spec_bounds`
    of each of ``app.specs``, shape (n_specs, 2)); each distinct (range, product) pair is measured once."""
    n = app.n_articles
    named = set(named)
    out = {name: np.zeros(n) for name in VERSION_FEATURES}
    if app.spec_rows.size == 0:
        return out
    products = app.vocab["products"]
    versions = focus_versions(view, named)
    owned_ids = np.array([i for i, p in enumerate(products) if p in versions], dtype=np.int64)
    relevant = np.flatnonzero(np.isin(app.spec_products, owned_ids))
    if relevant.size:
        keys = app.spec_ids[relevant] * len(products) + app.spec_products[relevant]
        unique, inverse = np.unique(keys, return_inverse=True)
        gaps = np.zeros((unique.shape[0], 2))
        for i, key in enumerate(unique.tolist()):
            spec_id, product = divmod(key, len(products))
            pairs = [_gap(app.specs[spec_id], tuple(bounds[spec_id]), v) for v in versions[products[product]]]
            known = [pair for pair in pairs if not math.isnan(pair[0])]
            if known:
                gaps[i] = min(known, key=sum)  # the closest owned version
        rows, entry_gaps = app.spec_rows[relevant], gaps[inverse]
        order = np.lexsort((entry_gaps.sum(axis=1), rows))  # per article, its closest entry first
        first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
        out["version_gap_below"][rows[first]] = np.log1p(entry_gaps[first, 0])
        out["version_gap_above"][rows[first]] = np.log1p(entry_gaps[first, 1])
    return out


def article_ages(app: Applicability, today: dt.date) -> np.ndarray:
    """Years since each article's ``updated_at`` (0 when unknown or in the future)."""
    days = np.where(app.updated_at > 0, today.toordinal() - app.updated_at, 0)
    return np.maximum(days, 0) / 365.25


def article_features(facts: Mapping[str, np.ndarray], ages: np.ndarray, names: Iterable[str],
                     extra: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """The article block, articles x ``names``: each name from ``facts`` (which also holds the version
    features when the plan carries them), ``article_age_years`` from ``ages``, others from ``extra``."""
    columns = []
    for name in names:
        if name == "article_age_years":
            columns.append(ages)
        elif name in facts:
            columns.append(facts[name])
        else:
            columns.append((extra or {})[name])
    return np.column_stack(columns) if columns else np.zeros((ages.shape[0], 0))


def retrieval_columns(candidates: Candidates) -> list[np.ndarray]:
    """The `RETRIEVAL_FEATURES` of each candidate, one array per feature (see the module docstring).

    A source's scores are NaN where it did not retrieve the candidate (rank 0), as `SourceScores` holds them.
    """
    n = len(candidates)
    columns = [minmax(candidates.scores), 1.0 / np.arange(1, n + 1)]
    for source in SOURCES:
        hits = candidates.sources.get(source)
        if hits is None:
            columns += [np.zeros(n), np.zeros(n)]
            continue
        ranks = hits.ranks
        columns.append(minmax(hits.scores))
        columns.append(np.divide(1.0, ranks, out=np.zeros(n), where=ranks > 0))
    return columns


def retrieval_features(candidates: Candidates) -> np.ndarray:
    """The retrieval block, candidates x `RETRIEVAL_FEATURES`, in candidate order (see the module docstring)."""
    if len(candidates) == 0:
        return np.zeros((0, len(RETRIEVAL_FEATURES)))
    return np.column_stack(retrieval_columns(candidates))
