"""The JSON API's request and response models (pydantic): what `/docs` and `/openapi.json` describe.

Responses are built from kbrank's own result objects (`from_results`, `from_card`, ...); requests are
validated here, so a malformed body is refused with the field and the fix before anything runs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .._searcher_checks import MAX_QUERY_CHARS
from .site import MAX_K, MAX_TURNS, Chatted, CustomerCard, Notice

__all__ = ["ChatRequest", "ChatResponse", "CustomerModel", "CustomersResponse", "ErrorResponse", "HiddenModel",
           "NoticeModel", "ResultModel", "SearchResponse", "TurnModel", "MAX_TEXT"]

#: The longest chat message accepted (the search's own limit applies to the query built from the turns).
MAX_TEXT = 2000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContributionModel(_Model):
    rule: str
    action: str
    delta: float
    reason: str


class ResultModel(_Model):
    rank: int
    id: str
    title: str
    url: str
    score: float
    sources: dict[str, dict[str, float | int | None]] = Field(
        description="Each retriever's 1-based rank and raw score (null when it did not retrieve the article).")
    why: list[str] = Field(description="The receipt: why the article is here, most important first.")
    contributions: list[ContributionModel] = Field(default_factory=list,
                                                   description="Every score change the profile made, with its reason.")


class HiddenModel(_Model):
    id: str
    title: str
    retrieval_rank: int = Field(description="Where the article would rank without the profile.")
    reasons: list[str]


class ResultsModel(_Model):
    personalized: bool
    notice: str | None
    results: list[ResultModel]
    hidden: list[HiddenModel] = Field(default_factory=list)


class OwnedModel(_Model):
    product: str
    name: str
    version: str | None
    status: str


class CustomerModel(_Model):
    id: str
    personalized: bool = Field(description="Whether the customer agreed to personalization.")
    reason: str | None = Field(description="Why not, when the view is unpersonalized.")
    owned: list[OwnedModel]
    region: str | None
    segment: str | None


class CustomersResponse(_Model):
    total: int
    offset: int
    customers: list[CustomerModel]


class NoticeModel(_Model):
    issue: str
    title: str
    status: str
    impact: str
    eta: str | None
    subject: str
    body: str
    why: str


class SearchResponse(_Model):
    query: str
    k: int
    mode: str
    customer: CustomerModel | None
    personalized: ResultsModel | None = Field(description="For the customer (null without one).")
    unpersonalized: ResultsModel


class TurnModel(_Model):
    speaker: Literal["customer", "user", "assistant", "agent", "bot"]
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    options: list[str] | None = Field(default=None, max_length=8,
                                      description="The product ids of a clarifying question (assistant turns).")


class ChatRequest(_Model):
    customer: str | None = Field(default=None, max_length=200, description="An id from GET /api/customers.")
    turns: list[TurnModel] = Field(min_length=1, max_length=MAX_TURNS,
                                   description="The conversation, oldest first; the last turn is the customer's.")
    k: int = Field(default=3, ge=1, le=10, description="Passages wanted.")


class PassageModel(_Model):
    rank: int
    id: str
    title: str
    url: str
    text: str
    why: list[str]


class OptionModel(_Model):
    product: str
    label: str


class ChatResponse(_Model):
    answer: str | None = Field(description="The extractive answer (null when a question is asked instead).")
    question: str | None = Field(description="A clarifying question, when the conversation could be about "
                                             "several of the customer's products.")
    options: list[OptionModel]
    passages: list[PassageModel]
    personalized: bool
    notice: str | None
    turns: list[dict[str, Any]] = Field(description="The conversation to send with the next message.")


class ErrorDetail(_Model):
    field: str | None = Field(description="The parameter or body field at fault, e.g. 'q' or 'body.turns.0.text'.")
    problem: str
    fix: str | None


class ErrorResponse(_Model):
    error: ErrorDetail


# -- from kbrank's objects ------------------------------------------------------------------------------------
def receipt(result: Any) -> list[str]:
    """Why a result is here: the retrievers that found it, then each profile rule that moved it."""
    hits = ", ".join(f"{name} #{hit.rank}" for name, hit in result.sources.items() if hit.rank)
    lines = [f"matched the query ({hits})" if hits else "matched the query"]
    lines += [f"{c.delta:+.2f} {c.reason}" for c in result.contributions]
    return lines


def from_results(results: Any) -> ResultsModel:
    items = [ResultModel(rank=r.rank, id=r.article_id, title=r.title, url=r.url, score=float(r.score),
                         sources={n: {"rank": s.rank, "score": s.score} for n, s in r.sources.items()},
                         why=receipt(r),
                         contributions=[ContributionModel(rule=c.rule, action=c.action, delta=float(c.delta),
                                                          reason=c.reason) for c in r.contributions])
             for r in results]
    hidden = [HiddenModel(id=h.article_id, title=h.title, retrieval_rank=h.retrieval_rank,
                          reasons=[c.reason for c in h.reasons]) for h in results.hidden]
    return ResultsModel(personalized=bool(results.personalized), notice=results.notice, results=items, hidden=hidden)


def from_card(card: CustomerCard) -> CustomerModel:
    return CustomerModel(id=card.customer_id, personalized=card.personalized, reason=card.reason,
                         owned=[OwnedModel(product=o.product, name=o.name, version=o.version, status=o.status)
                                for o in card.owned], region=card.region, segment=card.segment)


def from_notice(notice: Notice) -> NoticeModel:
    return NoticeModel(issue=notice.issue, title=notice.title, status=notice.status, impact=notice.impact,
                       eta=notice.eta, subject=notice.subject, body=notice.body, why=notice.why)


def from_chat(chatted: Chatted) -> ChatResponse:
    found = chatted.retrieval
    question = found.clarification
    passages = [PassageModel(rank=p.rank, id=p.article_id, title=p.title, url=p.url, text=p.text,
                             why=list(p.receipt.reasons())) for p in found.passages]
    return ChatResponse(answer=chatted.answer, question=question.question if question else None,
                        options=[OptionModel(product=o.product, label=o.label) for o in question.options]
                        if question else [], passages=passages, personalized=chatted.personalized,
                        notice=found.notice, turns=[dict(t) for t in chatted.turns])


__all__ += ["receipt", "from_results", "from_card", "from_notice", "from_chat", "MAX_K", "MAX_QUERY_CHARS"]
