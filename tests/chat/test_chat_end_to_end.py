"""End to end with the real parts: the demo help centre, hybrid search with the real all-MiniLM-L6-v2 and
faiss, profiles read through the privacy gate for 'chat', the MiniLM tokenizer for the context budget.

Slow the first time on a machine (the demo's articles are encoded once, about a minute on 2 cores, then cached
in ~/.cache/kbrank, `default_embedding_cache_dir()`); a few seconds after that."""

from __future__ import annotations

import pytest

from kbrank.chat import ChatRetriever, ExtractiveAnswerer, build_context, check_citations
from kbrank.datasets import chat_catalogue, load_helpcentre
from kbrank.privacy import ProfileGateway

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo():
    pytest.importorskip("faiss")
    pytest.importorskip("sentence_transformers")
    from kbrank.index.dense import DenseIndex
    from kbrank.index.embedding_cache import default_embedding_cache_dir
    from kbrank.personalize import Personalizer
    from kbrank.searcher import Searcher

    hc = load_helpcentre()
    searcher = Searcher(
        mode="hybrid",
        dense=DenseIndex(cache_dir=default_embedding_cache_dir()),
        personalizer=Personalizer(today=hc.as_of),
    ).build(hc.corpus)
    retriever = ChatRetriever(searcher, catalogue=chat_catalogue(hc))
    gateway = ProfileGateway.from_helpcentre(hc, key="an end-to-end test key, 32 bytes")
    retriever.register_erasure(gateway)
    yield hc, retriever, gateway
    gateway.close()


def _customer(hc, *products: str) -> dict:
    for customer in hc.customers:
        active = {o["product"] for o in customer["owned"] if o["status"] == "active"}
        if customer["consents"]["chat"] and set(products) <= active:
            return customer
    raise AssertionError(f"no demo customer owns {products}")


def _applies(hc, article_id: str, allowed: set[str]) -> bool:
    products = hc.corpus.get(article_id).products
    return not products or bool(set(products) & allowed)


def test_a_conversation_with_a_question_an_answer_and_a_follow_up(demo) -> None:
    hc, retriever, gateway = demo
    customer = _customer(hc, "router-x200", "cam-c10")
    active = {o["product"] for o in customer["owned"] if o["status"] == "active"}
    view = gateway.read(customer["customer_id"], "chat")
    turns = [{"speaker": "customer", "text": "wifi keeps dropping"}]
    asked = retriever.retrieve(turns, view, k=5)
    assert asked.clarification is not None, asked.to_dict()["products"]
    options = set(asked.clarification.products)
    assert {"router-x200", "cam-c10"} <= options <= active  # only the customer's own, active products
    for option in asked.clarification.options:
        assert option.passages and all(_applies(hc, p.article_id, {option.product}) for p in option.passages)

    turns += [asked.clarification.as_turn(), {"speaker": "customer", "text": "the camera"}]
    answered = retriever.retrieve(turns, view, k=5)
    assert answered.tracking.products == ("cam-c10",) and answered.clarification is None
    assert answered.passages and all(_applies(hc, p.article_id, {"cam-c10"}) for p in answered.passages)
    assert any(hc.corpus.get(p.article_id).metadata["intent"] == "disconnects" for p in answered.passages[:3])

    from transformers import AutoTokenizer

    from kbrank.index.encoders import default_model_path

    tokenizer = AutoTokenizer.from_pretrained(str(default_model_path()), local_files_only=True)
    context = build_context(answered.passages, 300, tokenizer, profile=view)
    assert context.tokens == len(tokenizer.encode(context.text, add_special_tokens=False)) <= 300
    answer = ExtractiveAnswerer().answer(answered.query.text, context)
    assert check_citations(answer.text, context).ok and answer.citations == (1,)
    assert "@example.com" not in context.text  # the chat view holds no address, and the context quotes none

    turns += [
        {"speaker": "assistant", "text": answer.text},
        {"speaker": "customer", "text": "still happening after I restarted it"},
    ]
    follow = retriever.retrieve(turns, view, k=5)
    assert follow.tracking.products == ("cam-c10",) and follow.query.ambiguous and follow.query.carried
    for passage in follow.passages:
        article = hc.corpus.get(passage.article_id)
        assert passage.text == article.text[passage.start : passage.end]
        assert _applies(hc, passage.article_id, {"cam-c10"})


def test_typo_switch_and_presales_at_demo_scale(demo) -> None:
    hc, retriever, gateway = demo
    customer = _customer(hc, "router-x200", "cam-c10")
    ever = {o["product"] for o in customer["owned"]}
    view = gateway.read(customer["customer_id"], "chat")
    turns = [{"speaker": "customer", "text": "my X20O keeps dropping off the wifi"}]
    first = retriever.retrieve(turns, view, k=5)
    assert first.tracking.products == ("router-x200",)
    turns += [
        {"speaker": "assistant", "text": "ok"},
        {"speaker": "customer", "text": "and my C1O shows offline"},
    ]
    switched = retriever.retrieve(turns, view, k=5)
    assert switched.tracking.products == ("cam-c10",)
    assert all(_applies(hc, p.article_id, {"cam-c10"}) for p in switched.passages)
    not_owned = next(p for p in ("cam-c30", "thermo-t2", "bell-d2", "router-x300") if p not in ever)
    short = hc.catalog[not_owned]["short_name"]
    turns += [
        {"speaker": "assistant", "text": "ok"},
        {"speaker": "customer", "text": f"before I buy the {short}: how do I set it up?"},
    ]
    presales = retriever.retrieve(turns, view, k=5)
    assert presales.tracking.products == (not_owned,) and presales.passages
    assert all(_applies(hc, p.article_id, {not_owned}) for p in presales.passages)
    for found in (first, switched, presales):  # never a product the customer neither owns nor named
        for passage in found.passages:
            listed = set(hc.corpus.get(passage.article_id).products)
            assert not listed or listed & (ever | {not_owned})


def test_erasure_drops_the_conversation_state(demo) -> None:
    hc, retriever, gateway = demo
    customer = _customer(hc, "router-x200", "cam-c10")
    view = gateway.read(customer["customer_id"], "chat")
    pseudonym = gateway.pseudonymize(customer["customer_id"])
    retriever.retrieve(
        [{"speaker": "customer", "text": "wifi keeps dropping"}],
        view,
        conversation="demo-1",
        customer=pseudonym,
    )
    assert "demo-1" in retriever.state_
    report = gateway.erase(customer["customer_id"])
    assert report.hooks["kbrank.chat"] == 1 and "demo-1" not in retriever.state_
