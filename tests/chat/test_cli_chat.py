"""`kbrank chat`: a scripted conversation with the demo help centre (BM25, so it runs in seconds), receipts,
JSON, data printed as text (never markup), one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kbrank.cli import app

runner = CliRunner()


def _script(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "script.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_scripted_conversation_with_receipts(tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        "# the customer owns a router and a doorbell",
        "my X200 keeps dropping the wifi",
        "",
        "any other ideas? [bold red]boom[/]",
    )
    result = runner.invoke(
        app, ["chat", "--customer", "cust-0003", "--mode", "bm25", "--script", str(script), "-k", "2"]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Chatting as cust-0003" in out and "profile read for 'chat': owned, region, locale, segment" in out
    assert out.count("you: ") == 2 and out.count("kbrank: ") == 2
    assert "about Lumio Router X200: named as 'X200' in turn 1" in out
    assert "owned-product: you own router-x200" in out and "[1] " in out
    assert "[bold red]boom[/]" in out  # shown as typed, not read as markup


def test_json_replies_and_a_clarifying_question(tmp_path: Path) -> None:
    script = _script(tmp_path, "error E-102 keeps popping up", "the router")
    result = runner.invoke(
        app, ["chat", "--customer", "cust-0003", "--mode", "bm25", "--script", str(script), "--json"]
    )
    assert result.exit_code == 0, result.output
    decoder, text, replies = json.JSONDecoder(), result.stdout.strip(), []
    while text:
        reply, end = decoder.raw_decode(text)
        replies.append(reply)
        text = text[end:].strip()
    assert len(replies) == 2
    last = replies[-1]
    assert last["retrieval"]["products"] == ["router-x200"] and last["citations_ok"] is True
    assert last["context"]["tokens"] <= 600 and last["reply"]["speaker"] == "assistant"


def test_stdin_script_and_errors(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["chat", "--mode", "bm25", "--script", "-", "--no-receipts"], input="my C10 is dark at night\n"
    )
    assert result.exit_code == 0, result.output
    assert "kbrank: " in result.output and "rank 1 for" not in result.output
    bad = runner.invoke(
        app, ["chat", "--customer", "CUST-7", "--mode", "bm25", "--script", "-"], input="hi\n"
    )
    assert bad.exit_code == 2 and "Did you mean 'cust-0007'" in bad.output
    missing = runner.invoke(app, ["chat", "--mode", "bm25", "--script", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "cannot read the script" in missing.output
    mode = runner.invoke(app, ["chat", "--mode", "fast", "--script", "-"], input="hi\n")
    assert mode.exit_code == 2 and "--mode must be one of bm25, dense, hybrid" in mode.output


def test_interactive_until_quit() -> None:
    result = runner.invoke(app, ["chat", "--mode", "bm25", "--no-receipts"], input="my C10 is dark at night\nquit\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("kbrank: ") == 1 and "named as 'C10' in turn 1" in result.output
