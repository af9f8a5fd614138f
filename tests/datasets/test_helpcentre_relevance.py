"""HelpCentre.relevance: the generator's ground-truth judge, public for evaluation (harm and applicability
figures), agrees with the stored qrels and refuses unknown customers, intents and products with a suggestion."""

from __future__ import annotations

import pytest

from kbrank.datasets import generate_helpcentre, load_helpcentre
from kbrank.errors import ParameterError


def test_relevance_is_the_judge_that_graded_every_query() -> None:
    for seed, hc in ((0, load_helpcentre()), (1, generate_helpcentre(seed=1, n_customers=40))):
        assert hc.queries, seed
        for q in hc.queries:
            assert hc.relevance(q.customer_id, q.intent, q.names_product) == dict(hc.qrels[q.id]), (seed, q.id)


def test_relevance_applies_the_documented_rules_to_any_question() -> None:
    hc = load_helpcentre()
    customer = hc.customer("cust-0001")
    for article in hc.corpus:
        grades = hc.relevance("cust-0001", article.metadata["intent"])
        if article.id not in grades:
            continue
        # relevant -> live and not restricted away from this customer (the module docstring's rules)
        assert article.status == "active" and (article.valid_until is None or article.valid_until >= hc.as_of)
        assert not article.regions or customer["region"] in article.regions
        assert not article.locales or customer["locale"] in article.locales
        assert not article.audience or customer["segment"] in article.audience
        owned = {item["product"] for item in customer["owned"] if item["status"] == "active"}
        assert not article.products or owned & set(article.products)


def test_unknown_names_are_refused_with_a_suggestion() -> None:
    hc = load_helpcentre()
    intent = hc.queries[0].intent
    with pytest.raises(ParameterError, match="Did you mean 'cust-0007'"):
        hc.relevance("CUST-7", intent)
    with pytest.raises(ParameterError, match=f"Did you mean {intent!r}"):
        hc.relevance("cust-0001", intent + "x")
    with pytest.raises(ParameterError, match="Did you mean 'router-x200'"):
        hc.relevance("cust-0001", intent, "router-x20")
