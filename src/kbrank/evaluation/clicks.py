"""Click logs simulated from graded judgments with a position-based click model, for tests and benchmarks.

A `ClickSession` is one search as logged: what was shown, what was clicked and which click "solved it". It is
what `kbrank.personalize.LearnedReranker.fit_clicks` learns from (any object with the same four attributes
is accepted there, so personalization does not import evaluation).

Under the position-based model (Joachims et al., 2017, "Unbiased Learning-to-Rank with Biased Feedback"), a
result at rank r is looked at with probability ``(1 / r) ** eta``, and a result looked at is clicked with a
probability set by its relevance. Clicks are therefore biased towards the top; the learner corrects for it by
inverse propensity weighting.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .._params import check_int
from ..errors import ParameterError
from .runs import Rankings, as_rankings

__all__ = ["ClickSession", "simulate_clicks"]


@dataclass(frozen=True)
class ClickSession:
    """One search as logged: the article ids shown (best first), and per position whether it was clicked and
    whether that click solved the problem ("this solved it")."""

    query_id: str
    shown: tuple[str, ...]
    clicked: tuple[bool, ...]
    solved: tuple[bool, ...]

    def __post_init__(self) -> None:
        if not len(self.shown) == len(self.clicked) == len(self.solved):
            raise ParameterError("ClickSession", "shown, clicked and solved of the same length",
                                 (len(self.shown), len(self.clicked), len(self.solved)))


def _probabilities(name: str, values: Sequence[float]) -> np.ndarray:
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        out = np.empty(0)
    if out.ndim != 1 or out.size == 0 or not ((out >= 0) & (out <= 1)).all():
        raise ParameterError(name, "a non-empty sequence of probabilities in [0, 1], one per grade (0, 1, 2, ...)",
                             values)
    return out


def simulate_clicks(rankings: Rankings, qrels: Mapping[str, Mapping[str, int]], *,
                    sessions_per_query: int = 10, eta: float = 1.0,
                    click_probability: Sequence[float] = (0.05, 0.5, 0.9),
                    solve_probability: Sequence[float] = (0.0, 0.3, 0.7),
                    seed: int = 0) -> tuple[ClickSession, ...]:
    """Click logs drawn from graded judgments with a position-based model (deterministic for a ``seed``).

    ``rankings`` maps each query id to what was shown, best first (a list of article ids, or a `Run`). In each
    session of each query (queries in sorted order), the result at rank r is looked at with probability
    ``(1 / r) ** eta``; a result looked at is clicked with ``click_probability[grade]`` (grade 0 for an
    unjudged article, or a negative grade: a small noise rate; grades above the last entry use the last), and a click solves the
    problem with ``solve_probability[grade]``.

    >>> sessions = simulate_clicks({"q1": ["a", "b"]}, {"q1": {"a": 2}}, sessions_per_query=3, seed=1)
    >>> len(sessions), sessions[0].shown
    (3, ('a', 'b'))
    """
    check_int("sessions_per_query", sessions_per_query, 1)
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not eta >= 0:
        raise ParameterError("eta", "a number >= 0 (0 = every position is looked at)", eta)
    clicks = _probabilities("click_probability", click_probability)
    solves = _probabilities("solve_probability", solve_probability)
    if solves.size != clicks.size:
        raise ParameterError("solve_probability", f"one probability per grade, as click_probability ({clicks.size})",
                             solve_probability)
    shown_by_query = as_rankings(rankings, "rankings")
    rng = np.random.default_rng(seed)
    out = []
    for query_id in sorted(shown_by_query):
        shown = tuple(shown_by_query[query_id])
        if not shown:
            continue
        top = len(clicks) - 1
        grades = np.asarray([max(0, min(int(qrels.get(query_id, {}).get(a, 0)), top)) for a in shown])
        examine = (1.0 / np.arange(1, len(shown) + 1)) ** eta
        for _ in range(sessions_per_query):
            clicked = (rng.random(len(shown)) < examine) & (rng.random(len(shown)) < clicks[grades])
            solved = clicked & (rng.random(len(shown)) < solves[grades])
            out.append(ClickSession(query_id, shown, tuple(clicked.tolist()), tuple(solved.tolist())))
    return tuple(out)
