"""``kbrank chat``: a conversation in the terminal with the demo help centre, as one of its customers.

Interactive (type messages; an empty line, ``quit`` or end of input stops), or scripted: ``--script FILE``
(one customer message per line; blank lines and lines starting with ``#`` are skipped; ``-`` reads standard
input). Each reply is either a clarifying question, with the options the customer owns, or the extractive
answer with its numbered passages and, with ``--receipts`` (the default), why each passage is there. The
customer's profile is read through the privacy gate for the ``chat`` purpose. Everything that comes from data
is printed as plain text, never as markup.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from .chat import ChatRetriever
    from .datasets import HelpCentre

__all__ = ["chat_app"]

chat_app = typer.Typer(add_completion=False, help="Chat with the demo help centre as one of its customers.")
_STOP = {"", "quit", "exit", "bye"}


def _lines(script: Path | None) -> Iterator[str]:
    import sys

    from .errors import InputError

    if script is None:
        return iter(())
    if str(script) == "-":
        source = sys.stdin.read().splitlines()
    else:
        try:
            source = script.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the script ({exc.__class__.__name__})", source=str(script),
                             fix="pass a UTF-8 text file with one customer message per line") from None
    return (line.strip() for line in source if line.strip() and not line.lstrip().startswith("#"))


def _default_customer(hc: HelpCentre) -> str:
    for customer in hc.customers:
        active = [o for o in customer["owned"] if o["status"] == "active" and o["line"] != "app"]
        if customer["consents"]["chat"] and len(active) >= 2:
            return customer["customer_id"]
    return hc.customers[0]["customer_id"]


def _build(mode: str, console: Any) -> tuple[Any, Any]:
    from .datasets import chat_catalogue, load_helpcentre
    from .index.embedding_cache import default_embedding_cache_dir
    from .personalize import Personalizer
    from .searcher import Searcher

    hc = load_helpcentre()
    dense = None
    if mode != "bm25":
        from .index.dense import DenseIndex

        dense = DenseIndex(cache_dir=default_embedding_cache_dir())
        console.print(f"Encoding the demo articles with all-MiniLM-L6-v2 (cached in {default_embedding_cache_dir()})...",
                      markup=False, highlight=False)
    searcher = Searcher(mode=mode, dense=dense, personalizer=Personalizer(today=hc.as_of)).build(hc.corpus)
    from .chat import ChatRetriever

    return hc, ChatRetriever(searcher, catalogue=chat_catalogue(hc))


def _show_passages(console: Any, passages: Any, receipts: bool) -> None:
    from rich.text import Text

    for number, passage in enumerate(passages, start=1):
        line = Text(f"  [{number}] ", style="bold")
        line.append(passage.title)
        line.append(f"  {passage.article_id} {passage.url}", style="dim")
        console.print(line)
        if receipts:
            for reason in passage.receipt.reasons():
                console.print(Text("      " + reason, style="dim"))


def _reply(console: Any, retriever: ChatRetriever, turns: list[dict[str, Any]], view: Any, k: int, budget: int,
           receipts: bool, as_json: bool) -> dict[str, Any]:
    from rich.text import Text

    from .chat import ExtractiveAnswerer, build_context, check_citations

    found = retriever.retrieve(turns, view, k)
    if found.clarification is not None:
        turn = found.clarification.as_turn()
        if as_json:
            console.print_json(json.dumps({"retrieval": found.to_dict(), "reply": turn}))
            return turn
        console.print(Text("kbrank: ", style="bold green") + Text(found.clarification.question))
        for option in found.clarification.options:
            console.print(Text(f"  - {option.label}: ", style="bold") + Text(
                "; ".join(p.title for p in option.passages[:2]) or "no article"))
        return turn
    context = build_context(found.passages, budget, profile=view)
    answer = ExtractiveAnswerer().answer(found.query.text, context)
    check = check_citations(answer.text, context)
    turn = {"speaker": "assistant", "text": answer.text}
    if as_json:
        console.print_json(json.dumps({"retrieval": found.to_dict(), "context": context.to_dict(),
                                       "reply": turn, "citations_ok": check.ok}))
        return turn
    if found.notice:
        console.print(Text(found.notice, style="yellow"))
    console.print(Text("kbrank: ", style="bold green") + Text(answer.text))
    console.print(Text(f"  {found.tracking.describe(retriever.names)}; searched \u201c{found.query.text}"
                       f"\u201d; context {context.tokens}/{budget} tokens ({context.tokenizer}), "
                       f"{len(context.dropped)} passage(s) dropped", style="dim"))
    _show_passages(console, found.passages[:len(context.citations)], receipts)
    return turn


@chat_app.callback(invoke_without_command=True)
def chat(
    customer: str | None = typer.Option(None, "--customer", help="A demo customer id (default: one who owns "
                                                                     "several products)."),
    script: Path | None = typer.Option(None, "--script", help="Messages to send, one per line ('-': stdin)."),
    mode: str = typer.Option("hybrid", help="bm25, dense or hybrid."),
    k: int = typer.Option(3, "-k", min=1, help="Passages per reply."),
    budget: int = typer.Option(600, "--budget", min=0, help="Token budget of the prompt context."),
    receipts: bool = typer.Option(True, "--receipts/--no-receipts", help="Say why each passage is there."),
    as_json: bool = typer.Option(False, "--json", help="Print each reply as JSON."),
) -> None:
    """Chat with the demo help centre as one of its customers, with receipts."""
    from rich.text import Text

    from ._cli_common import _run, console
    from .searcher import MODES

    def body() -> None:
        from .errors import ParameterError
        from .privacy import ProfileGateway

        if mode not in MODES:
            raise ParameterError("--mode", f"one of {', '.join(MODES)}", mode)
        messages = _lines(script)
        hc, retriever = _build(mode, console)
        who = customer or _default_customer(hc)
        profile = hc.customer(who)  # ParameterError with "did you mean" for an unknown id
        key = os.environ.get("KBRANK_KEY", "kbrank-demo-pseudonymization-key")
        with ProfileGateway.from_helpcentre(hc, key=key) as gateway:
            retriever.register_erasure(gateway)
            view = gateway.read(who, "chat", requester="kbrank-chat", degrade=True)
        owned = ", ".join(f"{o['product']} {o['version']}" for o in profile["owned"]
                          if o["status"] == "active")
        if not as_json:
            fields = ", ".join(view.fields) or f"not personalized ({view.reason})"
            console.print(Text(f"Chatting as {who} ({profile['region']}, owns {owned}); profile read for "
                               f"'chat': {fields}.", style="dim"))
        turns: list[dict[str, Any]] = []
        interactive = script is None
        while True:
            if interactive:
                try:
                    text = console.input("[bold]you:[/] ").strip()
                except EOFError:
                    break
            else:
                scripted = next(messages, None)
                if scripted is None:
                    break
                text = scripted
                if not as_json:
                    console.print(Text("you: ", style="bold") + Text(text))
            if text.lower() in _STOP:
                break
            turns.append({"speaker": "customer", "text": text})
            turns.append(_reply(console, retriever, turns, view, k, budget, receipts, as_json))

    _run(body)
