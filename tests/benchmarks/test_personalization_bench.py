"""Smoke test of benchmarks/personalization.py in quick mode (BM25, a subset of customers, no speed section):
the JSON holds every field the report needs, and the default policy beats unpersonalized search on the subset.
Timings are never asserted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _shared_helpers import load_benchmark

bench = load_benchmark("personalization")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("personalization")
    measured = bench.run(mode="bm25", quick=True, customers=60, folds=2, n_resamples=500, levels=(0.0, 0.5),
                         speed_articles=None, generalization_seed=None, command="smoke test", log=lambda _: None)
    markdown = bench.write(measured, out, readme=None)
    assert (out / "personalization.md").read_text() == markdown
    return json.loads((out / "personalization.json").read_text())


def test_the_json_has_every_field(result: dict[str, Any]) -> None:
    assert {"config", "machine", "segments", "learned", "robustness", "speed", "targets"} <= set(result)
    assert result["config"]["mode"] == "bm25" and result["config"]["folds"] == 2
    assert "overall" in result["segments"] and set(result["segments"]) <= {*bench.SEGMENTS, "overall"}
    fields = {"ndcg@10", "harm_rate", "inapplicable_top3", "not_relevant_top3", "inapplicable_top3_consenting"}
    for block in result["segments"].values():
        assert block["queries"] > 0
        assert set(block["systems"]) == {*bench.SYSTEMS, *bench.ABLATIONS}
        for name, row in block["systems"].items():
            assert fields <= set(row)
            if name != "unpersonalized":
                assert {"delta", "p_t-test", "p_randomization"} <= set(row)
    assert set(result["learned"]["coefficients"]["learned_judgments"]) >= {"owned_product", "version_near_miss"}
    assert [p["level"] for p in result["robustness"]] == [0.0, 0.5]
    assert result["speed"] == {"skipped": "quick mode"}
    assert all({"name", "measured", "met"} <= set(t) for t in result["targets"])


def test_the_policy_beats_unpersonalized_on_the_subset(result: dict[str, Any]) -> None:
    overall = result["segments"]["overall"]["systems"]
    assert overall["policy"]["ndcg@10"] > overall["unpersonalized"]["ndcg@10"] + 0.15
    assert overall["policy"]["p_t-test"] < 0.01 and overall["policy"]["p_randomization"] < 0.01
    assert overall["learned_judgments"]["ndcg@10"] > overall["unpersonalized"]["ndcg@10"]
    assert overall["unpersonalized"]["harm_rate"] == 0.0  # the baseline cannot harm itself
    zero = result["robustness"][0]["systems"]
    assert zero["policy"]["ndcg@10"] == pytest.approx(overall["policy"]["ndcg@10"])
