"""Errors as answers: every refused request gets a 4xx naming the field and the fix, never a 500.

``/api/...`` answers ``{"error": {"field", "problem", "fix"}}`` (`ErrorResponse`); a page answers the same
message in HTML, with the same status. Validation errors (FastAPI's, from the pydantic models and the query
parameters' bounds) are 422; kbrank's `InputError` and `ParameterError` 422; an unknown customer 404; a
consent refusal 403; a missing optional dependency 503. Anything else is logged (type only, never the request's
text) and answered with a generic 500 that leaks nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    ConsentError,
    InputError,
    KBRankError,
    MissingDependencyError,
    ParameterError,
    UnknownArticleError,
    UnknownCustomerError,
)
from .models import MAX_K, MAX_QUERY_CHARS, ErrorDetail, ErrorResponse
from .site import MAX_TURNS

__all__ = ["Problem", "install_handlers"]

log = logging.getLogger("kbrank.web")

#: How to fix each parameter or body field, by its name (the last part of its location).
FIXES = {
    "q": f"send a query of at most {MAX_QUERY_CHARS:,} characters, e.g. ?q=wifi+keeps+dropping",
    "k": f"send k as a whole number from 1 to {MAX_K}, e.g. &k=10",
    "customer": "use an id listed by GET /api/customers, or leave it out for unpersonalized results",
    "offset": "send offset as a whole number >= 0",
    "limit": "send limit as a whole number from 1 to 500",
    "turns": f'send 1 to {MAX_TURNS} turns, each {{"speaker": "customer", "text": "..."}}, oldest first',
    "speaker": "use speaker 'customer' (or 'user') for the customer, 'assistant' for replies",
    "text": "send the message as a non-empty string of at most 2,000 characters",
    "options": "send the product ids of the question the assistant asked, or leave options out",
    "history": "send back the conversation the previous reply gave you (or start a new chat)",
    "body": 'send a JSON object such as {"customer": "cust-0001", "turns": [{"speaker": "customer", '
            '"text": "wifi keeps dropping"}]}',
}


class Problem(Exception):
    """A refused request: HTTP ``status``, the ``field`` at fault, the ``problem`` and the ``fix``."""

    def __init__(self, status: int, problem: str, *, field: str | None = None, fix: str | None = None) -> None:
        super().__init__(problem)
        self.status, self.problem, self.field, self.fix = status, problem, field, fix

    def detail(self) -> ErrorDetail:
        return ErrorDetail(field=self.field, problem=self.problem, fix=self.fix)


def _location(loc: Any) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _fix_for(field: str) -> str | None:
    for part in reversed(field.split(".")):
        if part in FIXES:
            return FIXES[part]
    return None


def from_validation(exc: RequestValidationError) -> Problem:
    """The first validation error, as a problem naming its field (``q``, ``k``, ``body.turns.0.text``)."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    field = _location(first.get("loc", ("body",)))
    problem = str(first.get("msg", "invalid value"))
    if first.get("type") == "json_invalid":
        field, problem = "body", "the body is not valid JSON"
    if len(errors) > 1:
        problem += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return Problem(422, problem, field=field, fix=_fix_for(field))


def from_kbrank(exc: KBRankError) -> Problem:
    if isinstance(exc, InputError):
        field = exc.field
        problem = exc.problem + (f" (got {exc.value!r})" if exc.value is not None else "")
        return Problem(422, problem, field=field, fix=exc.fix or (_fix_for(field) if field else None))
    if isinstance(exc, ParameterError):
        return Problem(422, str(exc), field=exc.parameter, fix=_fix_for(exc.parameter))
    if isinstance(exc, UnknownCustomerError):
        return Problem(404, str(exc), field="customer", fix=FIXES["customer"])
    if isinstance(exc, UnknownArticleError):
        return Problem(404, str(exc), field="id", fix="use an article id from a search result")
    if isinstance(exc, ConsentError):
        return Problem(403, str(exc), field="customer", fix="search without a customer for unpersonalized results")
    if isinstance(exc, MissingDependencyError):
        return Problem(503, str(exc), fix=f"pip install 'kbrank[{exc.extra}]'")
    return Problem(500, "the help centre could not answer this request", fix="try again; the server log says why")


def problem_of(exc: Exception) -> Problem:
    """The answer to any exception a request raised."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, RequestValidationError):
        return from_validation(exc)
    if isinstance(exc, KBRankError):
        return from_kbrank(exc)
    if isinstance(exc, StarletteHTTPException):
        fix = "see /docs for the API, or / for the page" if exc.status_code == 404 else None
        return Problem(exc.status_code, str(exc.detail), fix=fix)
    return Problem(500, "the help centre could not answer this request", fix="try again; the server log names the error")


def install_handlers(app: FastAPI, render_page: Callable[[Request, Problem], Response]) -> None:
    """Answer every error as a `Problem`: JSON under ``/api``, an HTML page (``render_page``) elsewhere."""

    async def on_error(request: Request, exc: Exception) -> Response:
        problem = problem_of(exc)
        if problem.status >= 500:  # the type only: a message may quote the request
            log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        if request.url.path.startswith("/api"):
            return JSONResponse(ErrorResponse(error=problem.detail()).model_dump(), status_code=problem.status)
        return render_page(request, problem)

    for kind in (Problem, RequestValidationError, KBRankError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, on_error)
