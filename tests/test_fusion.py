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
