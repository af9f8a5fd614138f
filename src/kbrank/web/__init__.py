"""The help-centre page and its JSON API (FastAPI, Jinja2 templates, vendored htmx): ``kbrank serve``.

>>> from kbrank.web import create_app, demo_site      # doctest: +SKIP
>>> app = create_app(demo_site(mode="bm25"))          # doctest: +SKIP  (serve it with uvicorn)

Modules: `site` (what is served, every customer read through the privacy gate), `sources` (the demo help
centre or a saved index), `models` (the API's pydantic models), `api` (``/api/...``), `pages` (``/`` and
``/chat``), `problems` (errors as 4xx answers naming the field and the fix), `app` (the factory).
Importing this package loads nothing heavy: FastAPI and Jinja2 load in `create_app`
(``pip install 'kbrank[web]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .site import HelpCentreSite
from .sources import demo_site, index_site

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["HelpCentreSite", "create_app", "demo_site", "index_site", "require_web"]


def require_web() -> None:
    """`MissingDependencyError` naming the ``web`` extra when FastAPI, Jinja2 or python-multipart is absent."""
    import importlib.util

    from ..errors import MissingDependencyError

    for module, package in (("fastapi", "fastapi"), ("jinja2", "jinja2"), ("multipart", "python-multipart")):
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError(package, "web")


def create_app(site: HelpCentreSite) -> FastAPI:
    """The FastAPI app serving ``site`` (`demo_site()` or `index_site(path)`)."""
    require_web()
    from .app import build_app

    return build_app(site)
