"""The command line against hostile and careless input: markup and control sequences in data, unknown or
orphaned options, bytes that are not UTF-8, usage errors. Every outcome is a result or one error line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kbrank.cli import main, plain

MARKUP_TITLE = "Reset [/] the [bold red]router[/] \x1b[31mnow\x1b[0m"
MARKUP_ID = "kb-[/dim][red]x"


@pytest.fixture()
def index(tmp_path: Path) -> Path:
    corpus = tmp_path / "kb.jsonl"
    records = [{"id": MARKUP_ID, "title": MARKUP_TITLE, "body": "hold the reset button [link=file:///etc]"},
               {"id": "kb-2", "title": "Pair the camera", "body": "camera pairing"}]
    corpus.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert main(["index", str(corpus), "--out", str(tmp_path / "idx"), "--mode", "bm25"]) == 0
    return tmp_path / "idx"


def _profiles(tmp_path: Path) -> Path:
    path = tmp_path / "customers.jsonl"
    path.write_text(json.dumps({"customer_id": "cust-0001", "region": "eu",
                                "owned": [{"product": "router-x200", "version": "FW_2.3.1"}],
                                "consents": {"personalization": True}}) + "\n")
    return path


def test_markup_and_control_sequences_in_data_are_shown_as_text(index: Path, capsys) -> None:
    assert main(["search", str(index), "reset [/] router", "--show-hidden"]) == 0
    out = capsys.readouterr().out
    assert MARKUP_ID in out  # the id is shown whole, not as "kb-x"
    assert "Reset [/] the [bold red]router[/]" in out
    assert "\x1b[31m" not in out and "now" in out


def test_an_error_message_holding_brackets_prints_as_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "[/]", "title": 3}\n')
    assert main(["index", str(bad), "--out", str(tmp_path / "idx"), "--mode", "bm25"]) == 2
    err = capsys.readouterr().err
    assert "field 'title': expected a string" in err and len(err.strip().splitlines()) == 1


def test_unknown_customer_is_exit_code_2_with_a_suggestion(index: Path, tmp_path: Path, capsys) -> None:
    code = main(["search", str(index), "router", "--profile", str(_profiles(tmp_path)), "--customer", "cust-001"])
    assert code == 2
    assert "no customer with this id in the file" in capsys.readouterr().err


def test_customer_without_profile_is_refused(index: Path, capsys) -> None:
    assert main(["search", str(index), "router", "--customer", "cust-0001"]) == 2
    assert "--customer needs --profile" in capsys.readouterr().err


def test_a_query_that_is_not_utf8_is_one_error_line(index: Path, capsys) -> None:
    assert main(["search", str(index), "caf\udce9"]) == 2  # how Python hands over the byte 0xE9 from argv
    assert "not valid UTF-8" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["search"], ["search", "x", "y", "-k", "zero"], ["index", "--bogus"], ["nope"]])
def test_usage_errors_are_one_line_with_exit_code_2(argv: list[str], capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and "╭" not in err


def test_the_installed_command_uses_the_same_entry_point(index: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kbrank.cli", "search", str(index), "router", "-k", "0"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("error:") and "Traceback" not in done.stderr


def test_plain_removes_escape_sequences_and_control_characters() -> None:
    assert plain("a\x1b[1;31mb\x1b[0m\x07c\x9bd\te") == "abcd\te"
