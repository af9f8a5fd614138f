"""`create_app`: the FastAPI application for a `HelpCentreSite`: the page (``/``, ``/chat``), the JSON API
(``/api/...``, documented at ``/docs``), the static files (CSS, vendored htmx) and the error handlers.

Requests are logged by path, status and duration only: never the query string (it holds the query text and
the customer id). Uvicorn's own access log should be off (``kbrank serve`` turns it off).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from .._version import __version__
from . import api, pages
from .problems import install_handlers
from .site import HelpCentreSite

__all__ = ["build_app"]

log = logging.getLogger("kbrank.web")
STATIC = Path(__file__).resolve().parent / "static"


def build_app(site: HelpCentreSite) -> FastAPI:
    """The app serving ``site`` (see `kbrank.web.create_app`)."""
    app = FastAPI(title="kbrank help centre", version=__version__,
                  description="Personalized help-centre search: each result with a receipt, the articles the "
                              "customer's profile hid and why, chat retrieval and known-issue notices. Customer "
                              "data is read only through kbrank's privacy gateway, for the purpose it serves.")
    app.state.site = site
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_handlers(app, pages.render_problem)

    @app.middleware("http")
    async def access_log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        log.info("%s %s %d %.0f ms", request.method, request.url.path, response.status_code,
                 (time.perf_counter() - started) * 1000)
        return response

    return app
