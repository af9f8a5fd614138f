"""ChatRetriever on a tiny BM25 help centre: carry-over, product switch, typos, clarifications that offer only
owned products, the ownership and product restrictions (narrowing, never replacing the profile's mask), no
leak of masked articles, refusal of other purposes' views, redacted logs and erasable conversation state."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from _chat_helpers import CATALOGUE, ROUTER_AND_CAMERA, bm25_searcher, chat_view, say

from kbrank import ParameterError
from kbrank.chat import ChatRetriever
from kbrank.personalize import Personalizer, Policy, default_policy
from kbrank.privacy import ProfileGateway, ProfileView
from kbrank.searcher import Searcher


@pytest.fixture(scope="module")
def searcher() -> Searcher:
    return bm25_searcher()


@pytest.fixture(scope="module")
def retriever(searcher: Searcher) -> ChatRetriever:
    return ChatRetriever(searcher, catalogue=CATALOGUE).fit()


def _products(retriever: ChatRetriever, found) -> set[str]:
    corpus = retriever.searcher.corpus_
    return {p for passage in found.passages for p in corpus.get(passage.article_id).products}


def test_a_named_product_is_tracked_and_carried_to_follow_ups(retriever: ChatRetriever) -> None:
    view = chat_view(*ROUTER_AND_CAMERA)
    first = retriever.retrieve(say("my X200 keeps dropping the wifi"), view, k=3)
    assert first.tracking.product == "router-x200" and first.clarification is None
    assert first.passages[0].article_id == "x200-drops"
    follow = retriever.retrieve(say("my X200 keeps dropping the wifi", "any other ideas?"), view, k=3)
    assert follow.tracking.product == "router-x200" and follow.query.ambiguous
    assert {"dropping", "wifi"} <= set(follow.query.carried)  # HQE carried the topic of the opener
    assert follow.passages[0].article_id == "x200-drops"
    assert _products(retriever, follow) <= {"router-x200"}  # restricted to the tracked product (and general)


def test_a_product_switch_moves_the_restriction(retriever: ChatRetriever) -> None:
    view = chat_view(*ROUTER_AND_CAMERA)
    turns = say("my X200 keeps dropping the wifi", "ok", "and my C10 does the same")
    found = retriever.retrieve(turns, view, k=3)
    assert found.tracking.product == "cam-c10" and found.tracking.turn == 2
    assert found.passages[0].article_id == "c10-drops" and _products(retriever, found) == {"cam-c10"}


def test_a_typo_in_the_model_number_still_finds_the_product(retriever: ChatRetriever) -> None:
    found = retriever.retrieve(say("my X20O shows error E-102"), chat_view(*ROUTER_AND_CAMERA), k=2)
    assert found.tracking.product == "router-x200" and found.tracking.mention.text == "X20O"
    assert found.passages[0].article_id == "x200-e102"


def test_an_ambiguous_opener_asks_with_only_owned_products_and_the_answer_resolves(
    retriever: ChatRetriever,
) -> None:
    view = chat_view(*ROUTER_AND_CAMERA)
    asked = retriever.retrieve(say("error E-102 keeps popping up"), view, k=3)
    question = asked.clarification
    assert question is not None and asked.passages == ()
    assert set(question.products) == {"router-x200", "cam-c10"}  # both owned; never the X300 or the C30
    assert (
        question.question == "Is this about your Lumio Router X200 or your Lumio Cam C10?"
        or question.question == "Is this about your Lumio Cam C10 or your Lumio Router X200?"
    )
    by_product = {o.product: o for o in question.options}
    assert by_product["router-x200"].passages[0].article_id == "x200-e102"
    assert by_product["cam-c10"].passages[0].article_id == "c10-e102"
    turns = say("error E-102 keeps popping up")
    turns += [question.as_turn(), {"speaker": "customer", "text": "the camera"}]
    answered = retriever.retrieve(turns, view, k=3)
    assert answered.clarification is None and answered.tracking.products == ("cam-c10",)
    assert answered.tracking.how == "option" and answered.passages[0].article_id == "c10-e102"
    turns[-1] = {"speaker": "customer", "text": "the first one"}
    assert retriever.retrieve(turns, view, k=3).tracking.products == (question.products[0],)


def test_no_question_when_the_results_agree_or_the_customer_owns_one_product(
    retriever: ChatRetriever,
) -> None:
    found = retriever.retrieve(say("night vision is dark"), chat_view(*ROUTER_AND_CAMERA), k=3)
    assert found.clarification is None and found.passages[0].article_id == "c10-night"
    single = retriever.retrieve(say("error E-102 keeps popping up"), chat_view(("router-x200", "2.3.1")), k=3)
    assert single.clarification is None and single.passages[0].article_id == "x200-e102"
    never = retriever.retrieve(
        say("error E-102 keeps popping up"), chat_view(*ROUTER_AND_CAMERA), k=3, clarify=False
    )
    assert never.clarification is None and len(never.passages) == 3


def test_no_question_twice_in_a_row(retriever: ChatRetriever) -> None:
    view = chat_view(*ROUTER_AND_CAMERA)
    question = retriever.retrieve(say("error E-102 keeps popping up"), view, k=3).clarification
    turns = say("error E-102 keeps popping up") + [
        question.as_turn(),
        {"speaker": "customer", "text": "error E-102 keeps popping up"},
    ]
    assert retriever.retrieve(turns, view, k=3).clarification is None


def test_no_passage_for_a_product_the_customer_neither_owns_nor_named(searcher: Searcher) -> None:
    view = chat_view(*ROUTER_AND_CAMERA)
    permissive = Policy(tuple(r for r in default_policy().rules if r.action != "hide"))  # hides nothing
    loose = Searcher(mode="bm25", personalizer=Personalizer(policy=permissive)).build(searcher.corpus_)
    for retriever in (
        ChatRetriever(searcher, catalogue=CATALOGUE),
        ChatRetriever(loose, catalogue=CATALOGUE),
    ):
        found = retriever.retrieve(say("wifi keeps dropping"), view, k=10, clarify=False)
        assert found.passages and _products(retriever, found) <= {"router-x200", "cam-c10"}
        assert "x300-drops" not in found.article_ids and "c30-night" not in found.article_ids
        named = retriever.retrieve(say("before I buy the X300: does the wifi keep dropping?"), view, k=3)
        assert named.tracking.product == "router-x300" and named.passages[0].article_id == "x300-drops"
        assert _products(retriever, named) == {"router-x300"}


def test_the_product_restriction_narrows_the_profiles_hide_mask(retriever: ChatRetriever) -> None:
    view = chat_view(*ROUTER_AND_CAMERA)  # the default policy hides nothing here but unowned products
    found = retriever.retrieve(say("wifi keeps dropping on my X200"), view, k=10)
    assert set(found.article_ids) <= {
        "x200-drops",
        "x200-old",
        "x200-reset",
        "x200-e102",
        "cancel",
        "password",
    }
    assert "x200-old" not in found.article_ids[:1]  # the near miss (<2.0 while they run 2.3.1) is demoted


def test_masked_articles_never_leak_with_score_zero(retriever: ChatRetriever) -> None:
    """A query whose words appear only outside the restriction gets no passage, not masked ones at score 0."""
    view = chat_view(*ROUTER_AND_CAMERA)
    found = retriever.retrieve(say("my C10: infrared at dusk outdoor band steering"), view, k=10)
    allowed = {"c10-drops", "c10-night", "c10-e102", "cancel", "password"}
    assert found.passages and set(found.article_ids) <= allowed
    assert all(p.receipt.result.sources["bm25"].rank for p in found.passages)  # each one matched the query
    # the product carried from the opener; "band steering" is only in the X300 article, which is masked
    nothing = retriever.retrieve(say("my C10 is acting up", "band steering"), view, k=10)
    assert nothing.tracking.product == "cam-c10" and nothing.passages == ()


def test_a_profile_that_would_hide_every_match_gives_no_passage(searcher: Searcher) -> None:
    view = chat_view(*ROUTER_AND_CAMERA, region="us")
    regional = Searcher(mode="bm25").build(
        searcher.corpus_.with_replaced(
            [
                searcher.corpus_.get("t1-temp").__class__(
                    **{
                        **vars(searcher.corpus_.get("t1-temp")),
                        "products": (),
                        "versions": {},
                        "regions": ("eu",),
                    }
                )
            ]
        )
    )
    found = ChatRetriever(regional, catalogue=CATALOGUE).retrieve(
        say("thermostat shows the wrong temperature"), view, k=3
    )
    assert found.passages == () and "hide every match" in found.notice


def test_without_a_profile_nothing_is_personalized_and_nothing_is_asked(retriever: ChatRetriever) -> None:
    found = retriever.retrieve(say("error E-102 keeps popping up"), None, k=3)
    assert not found.personalized and found.clarification is None and len(found.passages) == 3
    assert all(not p.receipt.result.contributions for p in found.passages)


def test_passages_carry_offsets_citation_ids_and_receipts(retriever: ChatRetriever) -> None:
    found = retriever.retrieve(say("my X200 keeps dropping the wifi"), chat_view(*ROUTER_AND_CAMERA), k=3)
    corpus = retriever.searcher.corpus_
    for passage in found.passages:
        article = corpus.get(passage.article_id)
        assert passage.text == article.text[passage.start : passage.end] and passage.url == article.url
        assert passage.citation_id == f"{article.id}:{passage.start}-{passage.end}"
    reasons = found.passages[0].receipt.reasons()
    assert any("restricted to Lumio Router X200" in line for line in reasons)
    assert any("owned-product" in line for line in reasons)
    again = retriever.retrieve(say("my X200 keeps dropping the wifi"), chat_view(*ROUTER_AND_CAMERA), k=3)
    assert [p.citation_id for p in again.passages] == [p.citation_id for p in found.passages]  # deterministic


def test_a_view_read_for_another_purpose_is_refused(retriever: ChatRetriever) -> None:
    with pytest.raises(ParameterError, match=r"'personalization'.*gateway.read\(customer_id, 'chat'"):
        retriever.retrieve(say("wifi drops"), chat_view(*ROUTER_AND_CAMERA, purpose="personalization"))
    with pytest.raises(ParameterError, match="a ProfileView read for the 'chat' purpose"):
        retriever.retrieve(say("wifi drops"), {"owned": ["router-x200"]})
    no_consent = ProfileView.of("chat", personalized=False, reason="no consent for 'chat'")
    assert not retriever.retrieve(say("wifi drops"), no_consent).personalized


@pytest.mark.parametrize(
    "turns, message",
    [
        ("wifi drops", "turns must be a list"),
        ([], "last turn is the customer's"),
        (
            [{"speaker": "customer", "text": "hi"}, {"speaker": "assistant", "text": "hello"}],
            "last turn is the customer",
        ),
        ([{"speaker": "robot", "text": "hi"}], r"turns\[0\]\['speaker'\] must be one of customer, user"),
        ([{"speaker": "customer", "text": 3}], r"turns\[0\]\['text'\] must be a string"),
        (
            [{"speaker": "assistant", "text": "?", "options": "x200"}, {"speaker": "user", "text": "hi"}],
            "options",
        ),
        ([{"speaker": "customer", "text": "x" * 20_001}], "at most 20,000 characters"),
    ],
)
def test_bad_turns_are_refused_with_the_fix(retriever: ChatRetriever, turns, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        retriever.retrieve(turns, None)


def test_bad_parameters_are_refused(searcher: Searcher) -> None:
    with pytest.raises(ParameterError, match="k must be an integer >= 1"):
        ChatRetriever(searcher).retrieve(say("hi"), None, k=0)
    with pytest.raises(ParameterError, match="clarify_margin"):
        ChatRetriever(searcher, clarify_margin=2.0).fit()
    with pytest.raises(ParameterError, match="rewriter"):
        ChatRetriever(searcher, rewriter="an llm").fit()


def test_conversation_text_is_redacted_before_it_is_logged(
    retriever: ChatRetriever, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="kbrank.chat"):
        retriever.retrieve(say("my X200 drops, mail me at jo@example.com or call +44 7700 900123"), None)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "x200" in logged.lower() and "[email]" in logged and "[phone]" in logged
    assert "jo@example.com" not in logged and "7700" not in logged


def test_conversation_state_answers_plain_text_turns_and_is_erased_with_the_customer(
    searcher: Searcher,
) -> None:
    retriever = ChatRetriever(searcher, catalogue=CATALOGUE)
    gateway = ProfileGateway.in_memory(key="a test key of at least 16 bytes")
    gateway.load_records(
        [
            {
                "customer_id": "cust-1",
                "region": "eu",
                "locale": "en-GB",
                "segment": "consumer",
                "owned": [
                    {"product": "router-x200", "version": "2.3.1", "status": "active"},
                    {"product": "cam-c10", "version": "4.2.0", "status": "active"},
                ],
                "consents": {"chat": True},
            }
        ]
    )
    retriever.register_erasure(gateway)
    view = gateway.read("cust-1", "chat")
    pseudonym = gateway.pseudonymize("cust-1")
    asked = retriever.retrieve(
        say("error E-102 keeps popping up"), view, conversation="c-1", customer=pseudonym
    )
    assert asked.clarification is not None and "c-1" in retriever.state_
    plain = say("error E-102 keeps popping up", "the second one")  # the caller kept no options in its turns
    answered = retriever.retrieve(plain, view, conversation="c-1", customer=pseudonym)
    assert answered.tracking.products == (asked.clarification.products[1],)
    report = gateway.erase("cust-1")
    assert "c-1" not in retriever.state_ and len(retriever.state_) == 0
    assert report.hooks["kbrank.chat"] == 1 and report.complete
    assert all(name.startswith(("kbrank.chat", "kbrank.personalizer.plans.", "kbrank.analyzer.tokens."))
               for name in report.hooks)  # the searcher's caches were emptied by the same erasure
    with pytest.raises(ParameterError, match="pseudonym"):
        retriever.retrieve(plain, None, conversation="c-2")


def test_the_state_is_bounded_in_bytes(searcher: Searcher) -> None:
    retriever = ChatRetriever(searcher, catalogue=CATALOGUE, state_bytes=600).fit()
    for n in range(50):
        retriever.retrieve(say("my X200 drops"), None, conversation=f"c-{n}", customer="p" * 32)
    assert 0 < len(retriever.state_) < 50 and retriever.state_.nbytes <= 600
    assert "c-49" in retriever.state_ and "c-0" not in retriever.state_


class Rewriter:
    """A rule-based stand-in for a model rewriter: the first customer turn plus the last one."""

    def rewrite(self, turns):
        return f"{turns[0]['text']} {turns[-1]['text']}" if len(turns) > 1 else None


def test_a_rewriters_query_is_fused_by_rrf(searcher: Searcher) -> None:
    from kbrank.retrieval.fusion import rrf

    view = chat_view(*ROUTER_AND_CAMERA)
    retriever = ChatRetriever(searcher, catalogue=CATALOGUE, rewriter=Rewriter())
    turns = say("my C10 keeps dropping the wifi", "what about the night")
    found = retriever.retrieve(turns, view, k=4)
    assert found.query.rewritten == "my C10 keeps dropping the wifi what about the night"
    mask = retriever._allowed(("cam-c10",), view, True)
    runs = [
        searcher.search(q, 24, profile=view, mask=mask, named=("cam-c10",)).ids
        for q in (found.query.text, found.query.rewritten)
    ]
    scores: dict[str, float] = {}
    for run in runs:  # reciprocal rank fusion, written out (constant 30: the searcher's)
        for rank, article_id in enumerate(run, start=1):
            scores[article_id] = scores.get(article_id, 0.0) + 1 / (30 + rank)
    best = sorted(scores, key=lambda a: (-scores[a], min(r.index(a) if a in r else 99 for r in runs)))[:4]
    assert found.article_ids == best
    assert rrf  # the library's function is the one used (imported here to pin the name)
    assert np.isclose(found.passages[0].score, scores[best[0]])
