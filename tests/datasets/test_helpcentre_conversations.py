"""The demo conversations: deterministic, every scenario and turn kind present, ground truth from the help
centre's own judge, questions needed exactly on ambiguous openers, and turns that should name no product
name none."""

from __future__ import annotations

import collections
import re

import pytest

from kbrank import ParameterError
from kbrank.datasets import chat_catalogue, generate_conversations, load_helpcentre
from kbrank.datasets._helpcentre_catalog import PRODUCTS
from kbrank.datasets._helpcentre_conversations import SCENARIOS, TURN_KINDS
from kbrank.datasets.helpcentre import _Judge


@pytest.fixture(scope="module")
def helpcentre():
    return load_helpcentre()


@pytest.fixture(scope="module")
def conversations(helpcentre):
    return generate_conversations(helpcentre, seed=0)


def test_deterministic_and_independent_of_the_rest_of_the_help_centre(helpcentre, conversations) -> None:
    again = generate_conversations(helpcentre, seed=0)
    assert again == conversations
    assert generate_conversations(helpcentre, seed=1) != conversations
    assert (
        len(conversations) == 160 and len(generate_conversations(helpcentre, seed=0, n_conversations=5)) == 5
    )


def test_every_scenario_and_turn_kind_is_present(conversations) -> None:
    assert {c.scenario for c in conversations} == set(SCENARIOS)
    kinds = collections.Counter(t.kind for c in conversations for t in c.turns)
    assert set(kinds) == set(TURN_KINDS) and kinds["follow-up"] > 200
    assert all(2 <= len(c.turns) <= 6 for c in conversations)


def test_customers_consented_to_chat_and_qrels_come_from_the_judge(helpcentre, conversations) -> None:
    judge = _Judge(helpcentre.corpus, helpcentre.as_of)
    for conversation in conversations:
        customer = helpcentre.customer(conversation.customer_id)
        assert customer["consents"]["chat"]
        for turn in conversation.turns:
            assert turn.qrels and dict(turn.qrels) == judge(customer, turn.intent, turn.product)


def test_questions_are_needed_exactly_on_ambiguous_openers(helpcentre, conversations) -> None:
    for conversation in conversations:
        customer = helpcentre.customer(conversation.customer_id)
        active = {o["product"] for o in customer["owned"] if o["status"] == "active"}
        first = conversation.turns[0]
        for turn in conversation.turns:
            assert turn.should_ask == (turn.kind == "ambiguous")
        if first.kind in ("ambiguous", "unambiguous"):
            # which active products have articles of their own for the symptom (the reason a question helps)
            judge = _Judge(helpcentre.corpus, helpcentre.as_of)
            own = [
                p
                for p in active
                if any(p in helpcentre.corpus.get(a).products for a in judge(customer, first.intent, p))
            ]
            assert (len(own) >= 2) == (first.kind == "ambiguous")
            assert conversation.turns[1].kind == ("answer" if first.kind == "ambiguous" else "follow-up")
        if first.kind in ("opener", "typo"):
            assert first.product in active and first.names == first.product
        if first.kind == "presales":
            assert first.product not in {o["product"] for o in customer["owned"]}


_NAMES = re.compile(
    r"\b(router|cam|camera|thermostat|doorbell|mesh|app|"
    + "|".join(p["short"].lower() for p in PRODUCTS.values() if " " not in p["short"])
    + r")\b"
)


def test_turns_that_name_no_product_name_none(conversations) -> None:
    for conversation in conversations:
        for turn in conversation.turns:
            if turn.names is None:
                assert not _NAMES.search(turn.text.lower()), turn.text
            if turn.typo is not None:
                assert turn.typo.lower() in turn.text.lower() and turn.typo.lower() not in {
                    p["short"].lower() for p in PRODUCTS.values()
                }


def test_products_carry_until_the_next_name(conversations) -> None:
    for conversation in conversations:
        current = None
        for turn in conversation.turns:
            current = turn.names if turn.names is not None else current
            assert turn.product == current


def test_chat_catalogue_and_errors(helpcentre) -> None:
    catalogue = chat_catalogue(helpcentre)
    assert catalogue["router-x200"] == ["Lumio Router X200", "X200", "router"]
    assert catalogue["app-home"] == ["Lumio Home app", "Lumio app"]
    with pytest.raises(ParameterError, match="n_conversations"):
        generate_conversations(helpcentre, n_conversations=0)
