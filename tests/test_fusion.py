from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kbrank import ParameterError
from kbrank.candidates import Candidates
from kbrank.retrieval.fusion import fuse, rrf, weighted_sum


def _c(rows, scores):
    return Candidates(rows=np.array(rows), scores=np.array(scores, float))


def test_rrf_formula_and_sources() -> None:
    runs = {"bm25": _c([3, 1, 2], [9, 5, 1]), "dense": _c([1, 4], [0.9, 0.8])}
    fused = fuse(runs, k=10, method="rrf", constant=60)
    expected = {3: 1 / 61, 1: 1 / 62 + 1 / 61, 2: 1 / 63, 4: 1 / 62}
    assert fused.rows.tolist() == [1, 3, 4, 2]
    np.testing.assert_allclose(fused.scores, [expected[r] for r in fused.rows.tolist()])
    assert fused.sources["bm25"].ranks.tolist() == [2, 1, 0, 3]
    assert np.isnan(fused.sources["dense"].scores[1])


def test_rrf_ties_broken_by_best_rank_then_row() -> None:
    runs = {"a": _c([5, 7], [2, 1]), "b": _c([7, 5], [2, 1])}  # 5 and 7 tie exactly
    assert fuse(runs, k=2).rows.tolist() == [5, 7]
    runs = {"a": _c([9], [1.0]), "b": _c([2], [1.0])}  # same score, same best rank: lower row first
    assert fuse(runs, k=2).rows.tolist() == [2, 9]


def test_weighted_minmax_and_zero_range_guard() -> None:
    runs = {"bm25": _c([1, 2], [10, 0]), "dense": _c([2, 3], [0.5, 0.5])}
    rows, scores = weighted_sum(runs, weights={"bm25": 2.0})
    got = dict(zip(rows.tolist(), scores.tolist()))
    assert got == {1: 2.0 + 1.0, 2: 0.0 + 1.0, 3: 0.0 + 1.0}
    rows, scores = weighted_sum(runs, norm="zscore")
    assert np.isfinite(scores).all()


def test_bad_names_are_explained() -> None:
    with pytest.raises(ParameterError, match="fusion must be one of .*Did you mean 'rrf'"):
        fuse({}, k=3, method="rff")
    with pytest.raises(ParameterError, match="weights must be keys among the run names"):
        weighted_sum({"a": _c([1], [1])}, weights={"b": 1.0})


@given(st.lists(st.integers(0, 30), unique=True, max_size=20), st.lists(st.integers(0, 30), unique=True, max_size=20))
def test_fusion_is_deterministic_and_covers_the_union(a, b) -> None:
    runs = {"x": _c(a, np.linspace(1, 0, len(a))), "y": _c(b, np.linspace(1, 0, len(b)))}
    for method in ("rrf", "weighted"):
        first, second = fuse(runs, k=100, method=method), fuse(runs, k=100, method=method)
        assert first.rows.tolist() == second.rows.tolist()
        assert sorted(first.rows.tolist()) == sorted(set(a) | set(b))
        assert np.all(np.diff(first.scores) <= 1e-12)
    rows, _ = rrf(runs)
    assert rows.tolist() == sorted(set(a) | set(b))


def _rrf_reference(runs: dict, constant: float = 30.0) -> list[tuple[int, float, tuple]]:
    """Plain Python: every row's RRF score and its sort key (score down, best rank up, row up)."""
    scores: dict[int, float] = {}
    best: dict[int, int] = {}
    for run in runs.values():
        for rank, row in enumerate(run.rows.tolist(), start=1):
            scores[row] = scores.get(row, 0.0) + 1.0 / (constant + rank)
            best[row] = min(best.get(row, rank), rank)
    return sorted(((row, s, (-s, best[row], row)) for row, s in scores.items()), key=lambda item: item[2])


@given(st.lists(st.integers(0, 40), unique=True, max_size=25), st.lists(st.integers(0, 40), unique=True, max_size=25),
       st.lists(st.booleans(), min_size=41, max_size=41), st.integers(0, 60))
def test_an_allowed_filter_keeps_the_fused_order_of_the_allowed_rows(a, b, allowed, k) -> None:
    runs = {"bm25": _c(a, np.linspace(9, 1, len(a))), "dense": _c(b, np.linspace(0.9, 0.1, len(b)))}
    mask = np.array(allowed)
    kept = fuse(runs, k, allowed=mask)
    expected = [row for row, _, _ in _rrf_reference(runs) if mask[row]][:k]
    assert kept.rows.tolist() == expected
    for name, run in runs.items():  # each source's rank and raw score, for the kept rows only
        where = {row: i for i, row in enumerate(run.rows.tolist())}
        assert kept.sources[name].ranks.tolist() == [where[r] + 1 if r in where else 0 for r in expected]
        raw = kept.sources[name].scores
        assert [None if np.isnan(x) else x for x in raw.tolist()] == \
            [float(run.scores[where[r]]) if r in where else None for r in expected]
    unfiltered = fuse(runs, 100)
    assert unfiltered.rows.tolist() == [row for row, _, _ in _rrf_reference(runs)]


def _weighted_reference(runs: dict, weights: dict, norm: str) -> dict[int, float]:
    """Plain Python: each run's scores normalized, a missing row given the run's lowest value, summed in run
    order."""
    total: dict[int, float] = {}
    rows = sorted({r for run in runs.values() for r in run.rows.tolist()})
    for name, run in runs.items():
        values = run.scores.tolist()
        if norm == "minmax":
            low, high = (min(values), max(values)) if values else (0.0, 0.0)
            scaled = [(v - low) / (high - low) if high > low else 1.0 for v in values]
        else:
            mean = sum(values) / len(values) if values else 0.0
            std = float(np.std(values)) if values else 0.0
            scaled = [(v - mean) / std if std > 0 else 0.0 for v in values]
        lowest = min(scaled) if scaled else 0.0
        mine = dict(zip(run.rows.tolist(), scaled))
        weight = weights.get(name, 1.0)
        for row in rows:
            total[row] = total.get(row, 0.0) + weight * mine.get(row, lowest)
    return total


@given(st.lists(st.integers(0, 30), unique=True, max_size=15), st.lists(st.integers(0, 30), unique=True, max_size=15),
       st.floats(0.1, 3.0), st.sampled_from(["minmax", "zscore"]))
def test_weighted_fusion_equals_a_plain_check(a, b, weight, norm) -> None:
    runs = {"bm25": _c(a, np.linspace(7, 2, len(a)) ** 2), "dense": _c(b, np.linspace(0.9, 0.2, len(b)))}
    expected = _weighted_reference(runs, {"dense": weight}, norm)
    rows, scores = weighted_sum(runs, weights={"dense": weight}, norm=norm)
    assert rows.tolist() == sorted(expected)
    np.testing.assert_allclose(scores, [expected[r] for r in rows.tolist()], rtol=1e-12, atol=1e-12)
    fused = fuse(runs, 100, method="weighted", weights={"dense": weight}, norm=norm)
    assert dict(zip(fused.rows.tolist(), fused.scores.tolist())) == dict(zip(rows.tolist(), scores.tolist()))


def test_a_filter_that_does_not_cover_the_rows_is_refused() -> None:
    runs = {"bm25": _c([3, 1], [2.0, 1.0]), "dense": _c([7], [0.5])}
    for bad in (np.ones(5, bool), np.ones((8, 1), bool), np.ones(8, np.int8)):
        with pytest.raises(ParameterError, match="allowed must be a boolean array"):
            fuse(runs, 3, allowed=bad)
    with pytest.raises(ParameterError, match="allowed"):
        fuse({"bm25": _c([-1], [1.0])}, 3, allowed=np.ones(8, bool))
    with pytest.raises(ParameterError, match="norm"):
        fuse({"bm25": Candidates.empty()}, 3, method="weighted", norm="max")
    assert len(fuse({"bm25": Candidates.empty(), "dense": Candidates.empty()}, 3)) == 0
