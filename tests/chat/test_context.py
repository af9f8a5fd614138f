"""build_context never exceeds its budget (property-tested, with the documented estimate and with the real
MiniLM tokenizer), drops whole passages lowest first and says so, numbers citations; check_citations reports
every marker that points at nothing; the customer note holds only what the chat purpose allows."""

from __future__ import annotations

import functools

import pytest
from _chat_helpers import ROUTER_AND_CAMERA, chat_view
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbrank import ParameterError
from kbrank.chat import (
    ChatPassage,
    ExtractiveAnswerer,
    PassageReceipt,
    build_context,
    check_citations,
    estimate_tokens,
)
from kbrank.privacy import ProfileView
from kbrank.results import Result


@functools.cache
def minilm_tokenizer():
    transformers = pytest.importorskip("transformers")
    from kbrank.index.encoders import default_model_path

    return transformers.AutoTokenizer.from_pretrained(str(default_model_path()), local_files_only=True)


def passage(rank: int, text: str, title: str = "A title") -> ChatPassage:
    article_id = f"kb-{rank:03d}"
    result = Result(
        rank=rank, article_id=article_id, title=title, url=f"https://kb.example/{article_id}", score=1.0
    )
    receipt = PassageReceipt(
        query="q", focus="no product named", restricted_to=(), passage="passage 1 of 1", result=result
    )
    return ChatPassage(
        rank=rank,
        article_id=article_id,
        title=title,
        url=result.url,
        start=0,
        end=len(text),
        text=text,
        citation_id=f"{article_id}:0-{len(text)}",
        score=1.0 / rank,
        receipt=receipt,
    )


_TEXT = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), min_size=0, max_size=400)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(_TEXT, min_size=0, max_size=8), budget=st.integers(0, 600))
def test_the_estimated_budget_is_never_exceeded(texts: list[str], budget: int) -> None:
    passages = [passage(i, t) for i, t in enumerate(texts, start=1)]
    context = build_context(passages, budget)
    assert context.tokens == estimate_tokens(context.text) <= budget
    kept = [c.citation_id for c in context.citations]
    assert kept == [
        p.citation_id for p in passages[: len(kept)]
    ]  # a prefix of the ranking: lowest dropped first
    assert [d.citation_id for d in context.dropped] == [p.citation_id for p in passages[len(kept) :]]
    assert [c.number for c in context.citations] == list(range(1, len(kept) + 1))
    for citation in context.citations:
        assert f"[{citation.number}] " in context.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(_TEXT, min_size=1, max_size=6), budget=st.integers(0, 400))
def test_the_model_tokenizers_budget_is_never_exceeded(texts: list[str], budget: int) -> None:
    tokenizer = minilm_tokenizer()
    context = build_context([passage(i, t) for i, t in enumerate(texts, start=1)], budget, tokenizer)
    measured = len(tokenizer.encode(context.text, add_special_tokens=False))
    assert context.tokens == measured <= budget
    assert "minilm" in context.tokenizer.lower()


def test_the_estimate_is_never_below_minilm_on_the_demo_passages() -> None:
    from kbrank.datasets import load_helpcentre
    from kbrank.index.passages import PassageSplitter

    tokenizer = minilm_tokenizer()
    splitter = PassageSplitter()
    texts = [a.text[s:e] for a in load_helpcentre().corpus for s, e in splitter.spans(a)][::4]
    real = [len(tokenizer.encode(t, add_special_tokens=False)) for t in texts]
    estimated = [estimate_tokens(t) for t in texts]
    assert all(e >= r for e, r in zip(estimated, real))
    assert 1.0 < sum(estimated) / sum(real) < 1.5


def test_passages_are_dropped_whole_and_the_drop_is_recorded() -> None:
    passages = [passage(1, "short answer about the router."), passage(2, "word " * 300), passage(3, "tiny")]
    context = build_context(passages, 60)
    assert [c.citation_id for c in context.citations] == [passages[0].citation_id]
    assert [(d.rank, d.reason) for d in context.dropped] == [
        (2, "over the budget of 60 tokens"),
        (3, "over the budget of 60 tokens"),
    ]
    assert "word word" not in context.text and "tiny" not in context.text
    assert build_context(passages, 0).text == "" and build_context(passages, 0).tokens == 0


def test_the_title_a_passage_opens_with_is_not_repeated() -> None:
    context = build_context([passage(1, "Router resets. Hold the button.", title="Router resets")], 100)
    assert context.text.count("Router resets") == 1


def test_check_citations_reports_every_marker_that_points_at_nothing() -> None:
    passages = [passage(1, "Restart the router."), passage(2, "Update the firmware."), passage(3, "x " * 400)]
    context = build_context(passages, 80)  # the third is dropped, so [3] points at nothing
    assert len(context.citations) == 2
    check = check_citations("Restart it [1] and update [2]. See also [3] and [1, 4]; not [email].", context)
    assert check.markers == (1, 2, 3, 1, 4) and not check.ok
    assert [n for n, _ in check.dangling] == [3, 4]
    text = "Restart it [1] and update [2]. See also [3] and [1, 4]; not [email]."
    assert [text[at] for _, at in check.dangling] == ["3", "4"]
    assert check.cited == (1, 2)
    assert check_citations("Restart it [1][2].", context).ok
    assert check_citations("No citation at all.", context).markers == ()


def test_the_extractive_answer_cites_only_what_the_context_holds() -> None:
    passages = [
        passage(1, "Router drops wifi. Pick a fixed channel. Update the firmware. Call us.", title="Wifi")
    ]
    context = build_context(passages, 200)
    answer = ExtractiveAnswerer().answer("my router drops the wifi channel", context)
    assert answer.citations == (1,) and answer.text.endswith("[1]")
    assert "fixed channel" in answer.text and check_citations(answer.text, context).ok
    empty = build_context([], 100)
    assert ExtractiveAnswerer().answer("anything", empty).citations == ()


def test_the_customer_note_holds_only_fields_the_chat_purpose_allows() -> None:
    view = chat_view(*ROUTER_AND_CAMERA, locale="en-GB", segment="pro")
    context = build_context([passage(1, "Restart the router.")], 200, profile=view)
    assert context.text.startswith(
        "Customer: owns router-x200 2.3.1, cam-c10 4.2.0; region eu; locale en-GB; segment pro"
    )
    contact = ProfileView.of(
        "proactive-contact",
        owned=(),
        addresses={"email": "jo@example.com"},
        channels=("email",),
        customer="p-123",
    )
    with pytest.raises(ParameterError, match=r"'chat' purpose.*'proactive-contact'"):
        build_context([passage(1, "x")], 100, profile=contact)
    tight = build_context([passage(1, "Restart the router.")], 5, profile=view)
    assert tight.tokens <= 5 and "Customer" not in tight.text


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ParameterError, match="budget_tokens must be an integer >= 0"):
        build_context([], -1)
    with pytest.raises(ParameterError, match="tokenizer"):
        build_context([], 10, tokenizer=42)
    with pytest.raises(ParameterError, match="a ChatContext"):
        check_citations("[1]", "not a context")
    assert build_context([passage(1, "a b c")], 50, tokenizer=str.split).tokenizer == "split"
