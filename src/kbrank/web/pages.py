"""The HTML page: one template, readable without JavaScript (plain GET and POST forms); htmx only swaps the
part that changed (``HX-Request`` asks for the fragment instead of the whole page).

Jinja2 autoescapes every value (titles, reasons, queries and chat text all come from data). The page shows
what the site's reads hand out and nothing more: the card from the ``personalization`` view, the chat from
the ``chat`` view, the banner from the ``proactive-contact`` plan.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError

from .api import CustomerId, QueryText, ResultCount, site_of
from .models import MAX_K, MAX_TEXT, TurnModel, receipt
from .problems import FIXES, Problem
from .site import MAX_TURNS, Chatted, HelpCentreSite

__all__ = ["router", "render_problem"]

HERE = Path(__file__).resolve().parent
router = APIRouter(include_in_schema=False)
_TURNS = TypeAdapter(list[TurnModel])
_K_CHOICES = (5, 10, 20)


def safe_url(url: object) -> str:
    """``url`` if it is an http(s) link, else ``""`` (a ``javascript:`` or ``data:`` URL from data is never linked)."""
    text = str(url or "")
    return text if text.lower().startswith(("https://", "http://")) else ""


@functools.cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(receipt=receipt, safe_url=safe_url, max_k=MAX_K, max_text=MAX_TEXT, k_choices=_K_CHOICES)
    return env


def _html(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_environment().get_template(name).render(**context), status_code=status)


def _context(site: HelpCentreSite, *, customer: str | None = None, q: str = "", k: int = 10,
             chatted: Chatted | None = None, problem: Problem | None = None, search: bool = True) -> dict[str, Any]:
    """What the page shows, each part read for its own purpose (only for a known customer)."""
    known = customer if customer in site.customer_ids else None
    searched = site.search(q, k, known) if search and q.strip() and problem is None else None
    card = searched.card if searched is not None else (site.card(known) if known else None)
    notices = site.notices(known) if known else ()
    return {"site": site, "customer": known or "", "q": q, "k": k, "card": card, "notices": notices,
            "searched": searched, "chatted": chatted, "problem": problem,
            "history": json.dumps(list(chatted.turns)) if chatted else "[]"}


def _page(request: Request, fragment: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The whole page, or for htmx only ``fragment`` (the region it swaps)."""
    swap = request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"
    name = fragment if swap else "index.html"
    return _html(name, status, **context)


def render_problem(request: Request, problem: Problem) -> Response:
    """A refused page request: the page again, with the problem and its fix where the results would be."""
    site = request.app.state.site
    return _html("index.html", problem.status, **_context(site, problem=problem))


@router.get("/", response_class=HTMLResponse)
def index(request: Request, q: QueryText = "", k: ResultCount = 10, customer: CustomerId = None) -> HTMLResponse:
    site = site_of(request)
    if customer:
        site.check_customer(customer)
    return _page(request, "_main.html", **_context(site, customer=customer, q=q, k=k))


def _turns(history: str) -> list[dict[str, Any]]:
    try:
        turns = _TURNS.validate_json(history or "[]")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise Problem(422, f"the conversation is malformed ({where or 'history'}: {first['msg']})",
                      field="history", fix=FIXES["history"]) from None
    return [t.model_dump(exclude_none=True) for t in turns][-(MAX_TURNS - 1):]


@router.post("/chat", response_class=HTMLResponse)
def chat(request: Request, message: Annotated[str, Form(max_length=MAX_TEXT)] = "",
         choice: Annotated[Optional[str], Form(max_length=200)] = None,
         history: Annotated[str, Form(max_length=200_000)] = "[]", customer: Annotated[str, Form(max_length=200)] = "",
         q: Annotated[str, Form(max_length=8192)] = "", k: Annotated[int, Form(ge=1, le=MAX_K)] = 10) -> HTMLResponse:
    site = site_of(request)
    text = (choice or message).strip()
    if not text:
        raise Problem(422, "the message is empty", field="message", fix="type a question, then press Send")
    if customer:
        site.check_customer(customer)
    turns = _turns(history) + [{"speaker": "customer", "text": text}]
    chatted = site.reply(turns, customer or None)
    fragment = request.headers.get("HX-Request") == "true"
    return _page(request, "_chat.html", **_context(site, customer=customer or None, q=q, k=k, chatted=chatted,
                                                   search=not fragment))
