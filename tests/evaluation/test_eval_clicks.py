"""Click simulation lives in evaluation and hands personalization plain click logs: its arguments are checked,
it reads runs as well as rankings, and LearnedReranker.fit_clicks accepts any object shaped like a ClickSession."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

from kbrank.errors import ParameterError
from kbrank.evaluation import ClickSession, Run, simulate_clicks
from kbrank.personalize.learned import BASE_FEATURES, LearnedReranker, QueryExamples

RANKINGS = {"q1": ["a", "b", "c", "d"], "q2": ["e", "f"]}
QRELS = {"q1": {"b": 2, "c": 1}, "q2": {"e": 2}}


def test_a_run_is_read_in_its_order_and_simulated_alike() -> None:
    assert simulate_clicks(Run.from_rankings(RANKINGS), QRELS, seed=4) == simulate_clicks(RANKINGS, QRELS, seed=4)


def test_negative_and_high_grades_are_clamped_to_the_probability_table() -> None:
    sessions = simulate_clicks({"q": ["bad", "top"]}, {"q": {"bad": -1, "top": 7}}, sessions_per_query=4000, seed=2,
                               eta=0.0, click_probability=(0.1, 0.5, 0.9))
    rate = np.mean([s.clicked for s in sessions], axis=0)
    np.testing.assert_allclose(rate, [0.1, 0.9], atol=0.03)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sessions_per_query": 0}, "sessions_per_query must be an integer >= 1"),
    ({"sessions_per_query": True}, "sessions_per_query must be an integer >= 1"),
    ({"eta": -1.0}, "eta must be a number >= 0"),
    ({"click_probability": (0.1, 1.5, 0.2)}, r"click_probability must be a non-empty sequence of probabilities"),
    ({"click_probability": ()}, r"click_probability must be a non-empty sequence of probabilities"),
    ({"solve_probability": (0.0, 0.5)}, r"solve_probability must be one probability per grade, as click_probability \(3\)"),
])
def test_bad_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        simulate_clicks(RANKINGS, QRELS, **kwargs)


def _examples() -> list[QueryExamples]:
    rng = np.random.default_rng(0)
    out = []
    for query_id, shown in RANKINGS.items():
        features = rng.random((len(shown), len(BASE_FEATURES)))
        out.append(QueryExamples(query_id, tuple(shown), np.arange(len(shown)), features))
    return out


def test_fit_clicks_takes_any_click_log_of_the_same_shape() -> None:
    sessions = simulate_clicks(RANKINGS, QRELS, sessions_per_query=30, seed=1)
    Log = namedtuple("Log", "query_id shown clicked solved")
    logs = [Log(s.query_id, list(s.shown), list(s.clicked), list(s.solved)) for s in sessions]
    ours = LearnedReranker().fit_clicks(_examples(), sessions)
    theirs = LearnedReranker().fit_clicks(_examples(), logs)
    np.testing.assert_array_equal(ours.coef_, theirs.coef_)
    assert ours.popularity_ == theirs.popularity_


def test_fit_clicks_refuses_a_malformed_log_with_its_position() -> None:
    good = ClickSession("q1", ("a", "b"), (True, False), (False, False))
    Log = namedtuple("Log", "query_id shown clicked solved")
    with pytest.raises(ParameterError, match=r"sessions\[1\] must be a string query_id and shown, clicked and solved"):
        LearnedReranker().fit_clicks(_examples(), [good, Log("q1", ("a", "b"), (True,), (False, False))])
    with pytest.raises(ParameterError, match=r"sessions\[0\] must be a click log with query_id, shown, clicked"):
        LearnedReranker().fit_clicks(_examples(), [("q1", ("a",), (True,), (False,))])
