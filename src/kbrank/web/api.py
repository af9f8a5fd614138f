"""The JSON API under the page (``/api/...``), documented at ``/docs`` and ``/openapi.json``.

Every customer read goes through the site's privacy gateway (`HelpCentreSite`); every answer is a pydantic
model; every refusal is a 4xx `ErrorResponse` naming the field and the fix (`kbrank.web.problems`).
"""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Query, Request

from .models import (
    MAX_K,
    MAX_QUERY_CHARS,
    ChatRequest,
    ChatResponse,
    CustomersResponse,
    ErrorResponse,
    NoticeModel,
    SearchResponse,
    from_card,
    from_chat,
    from_notice,
    from_results,
)
from .site import HelpCentreSite

__all__ = ["router", "QueryText", "ResultCount", "CustomerId"]

_ERRORS: dict[int | str, dict[str, object]] = {
    422: {"model": ErrorResponse, "description": "A parameter or body field is invalid (the error names it and the fix)."},
}

QueryText = Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="The search text.")]
ResultCount = Annotated[int, Query(ge=1, le=MAX_K, description=f"How many results (1 to {MAX_K}).")]
CustomerId = Annotated[Optional[str], Query(max_length=200, description="A customer id from GET /api/customers; "
                                                                        "leave out for unpersonalized results.")]

router = APIRouter(prefix="/api", tags=["help centre"])


def site_of(request: Request) -> HelpCentreSite:
    site: HelpCentreSite = request.app.state.site
    return site


@router.get("/customers", response_model=CustomersResponse, responses=_ERRORS)
def customers(request: Request, offset: Annotated[int, Query(ge=0)] = 0,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> CustomersResponse:
    """The customers that may be picked, each with what they own, read through the privacy gate for
    ``personalization`` (customers who did not consent are listed without their data)."""
    site = site_of(request)
    ids = site.customer_ids
    cards = [from_card(site.card(c)) for c in ids[offset:offset + limit]]
    return CustomersResponse(total=len(ids), offset=offset, customers=cards)


@router.get("/search", response_model=SearchResponse, responses=_ERRORS)
def search(request: Request, q: QueryText, k: ResultCount = 10, customer: CustomerId = None) -> SearchResponse:
    """Search: the unpersonalized results and, for a customer, the personalized ones, each with its receipt,
    plus the articles the profile hid and why."""
    site = site_of(request)
    found = site.search(q, k, customer or None)
    return SearchResponse(query=q, k=k, mode=found.plain.mode,
                          customer=from_card(found.card) if found.card else None,
                          personalized=from_results(found.personal) if found.personal is not None else None,
                          unpersonalized=from_results(found.plain))


@router.get("/known-issues", response_model=list[NoticeModel], responses=_ERRORS)
def known_issues(request: Request, customer: Annotated[str, Query(max_length=200)]) -> list[NoticeModel]:
    """The open known issues that affect the customer (selected for ``proactive-contact``: only customers who
    agreed to be told get any)."""
    return [from_notice(n) for n in site_of(request).notices(customer)]


@router.post("/chat", response_model=ChatResponse, responses=_ERRORS)
def chat(request: Request, body: ChatRequest) -> ChatResponse:
    """The chat retriever's answer to the conversation's last turn (profile read for ``chat``): grounded
    passages with receipts, or a clarifying question with the customer's products as options."""
    turns = [t.model_dump(exclude_none=True) for t in body.turns]
    return from_chat(site_of(request).reply(turns, body.customer or None, body.k))
