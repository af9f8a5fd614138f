"""Smoke test of benchmarks/chat.py on a small run (BM25, 30 conversations): the JSON holds what the report
needs, the report renders, the chat retriever beats the last turn alone on follow-ups. Timings never
asserted."""

from __future__ import annotations

import json

import pytest
from _shared_helpers import load_benchmark

bench = load_benchmark("chat")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("chat")
    measured = bench.run(
        mode="bm25",
        seeds=[0],
        n_conversations=30,
        tracking_names=200,
        command="smoke test",
        cache=out / "cache",
        log=lambda _: None,
    )
    markdown = bench.write(measured, out, readme=None)
    assert (out / "chat.md").read_text() == markdown and "| follow-up (" in markdown
    return json.loads((out / "chat.json").read_text())


def test_the_json_has_every_field(result: dict) -> None:
    (seed,) = result["seeds"]
    assert set(seed["systems"]) == {"last-turn", "concatenated", "chat-no-profile", "chat-profile", "oracle"}
    for entry in seed["systems"].values():
        assert {"ndcg", "asked", "tracking_accuracy", "clarification", "ms"} <= set(entry)
        assert "follow-up" in entry["ndcg"] and "all" in entry["ndcg"]
    assert set(seed["targets"]) == {"follow_up_ratio", "tracking", "precision", "recall"}
    assert set(result["tracking_speed"]) == {"demo", "200 names"}


def test_the_chat_retriever_beats_the_last_turn_on_follow_ups(result: dict) -> None:
    systems = result["seeds"][0]["systems"]
    assert systems["chat-profile"]["ndcg"]["follow-up"] > systems["last-turn"]["ndcg"]["follow-up"] + 0.2
    assert (
        systems["chat-profile"]["tracking_accuracy"] >= 0.9 and systems["oracle"]["tracking_accuracy"] == 1.0
    )


def test_the_synthetic_catalogue_has_unique_model_numbers() -> None:
    catalogue = bench.synthetic_catalogue(2000)
    models = [names[1] for names in catalogue.values()]
    assert len(catalogue) == 2000 and len(set(models)) == 2000
