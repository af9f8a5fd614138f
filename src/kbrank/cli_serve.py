"""``kbrank serve [INDEX]``: the help-centre page and its JSON API (FastAPI + uvicorn; ``pip install 'kbrank[web]'``).

Without ``INDEX`` it serves the bundled demo help centre (its customers, chat and known issues); with one, a
saved index directory, optionally with ``--profiles customers.jsonl`` (read through the privacy gate, keyed by
``$KBRANK_KEY``) and ``--issues known_issues.jsonl``. Logs go to standard error through
`kbrank.privacy.RedactingFilter`; requests are logged by path only (never the query string), and uvicorn's
access log is off. Errors before serving (a taken port, a bad index) are one line with the CLI's exit codes.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Optional

import typer
from rich.text import Text

from ._cli_common import _run, console, plain
from .errors import InputError

__all__ = ["serve"]


def _check_address(host: str, port: int) -> None:
    """Refuse a host that does not resolve or a port that is taken before the (long) build."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except socket.gaierror:
        raise InputError("the host name does not resolve", field="--host", value=host,
                         fix="use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)") from None
    except OSError as exc:
        raise InputError(f"cannot listen there ({exc.strerror or exc})", field="--port", value=port,
                         fix="pick a free port, e.g. --port 8001") from None


def _logging() -> None:
    from .privacy import RedactingFilter

    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("kbrank", "uvicorn"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def serve(
    index: Optional[Path] = typer.Argument(None, help="An index directory written by `kbrank index` "
                                           "(default: the bundled demo help centre)."),
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", "-p", min=1, max=65535, help="The port to listen on."),
    profiles: Optional[Path] = typer.Option(None, "--profiles", help="Customers (JSONL) for a saved index."),
    issues: Optional[Path] = typer.Option(None, "--issues", help="Known issues (JSONL or YAML) for a saved index."),
    mode: str = typer.Option("hybrid", help="The demo's search mode: bm25, dense or hybrid (a saved index keeps "
                             "its own)."),
) -> None:
    """Serve the help-centre page (personalized and unpersonalized results side by side, hidden articles
    with their reasons, chat, known-issue banners) and its JSON API (/docs)."""

    def body() -> None:
        from .web import create_app, demo_site, index_site, require_web

        require_web()
        try:
            import uvicorn
        except ImportError:
            from .errors import MissingDependencyError

            raise MissingDependencyError("uvicorn", "web") from None
        if index is None and (profiles is not None or issues is not None):
            raise InputError("--profiles and --issues need an INDEX", field="--profiles" if profiles else "--issues",
                             fix="pass the index directory first, or leave them out for the demo help centre")
        _check_address(host, port)
        what = f"the index {index}" if index is not None else f"the demo help centre ({mode})"
        console.print(Text(plain(f"Building {what}...")))
        site = index_site(index, profiles=profiles, issues=issues) if index is not None else demo_site(mode=mode)
        app = create_app(site.prepare())
        _logging()
        shown = f"[{host}]" if ":" in host else host
        console.print(Text(plain(f"Serving {site.title} at http://{shown}:{port}/ (API docs at /docs); "
                                 f"Ctrl+C stops.")))
        try:
            uvicorn.run(app, host=host, port=port, access_log=False, log_config=None, server_header=False)
        finally:
            site.gateway.close()

    _run(body)
