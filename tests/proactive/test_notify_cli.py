"""``kbrank notify``: real commands on a real SQLite store, issues file and outbox; one-line errors with the
CLI's exit codes; data from files printed as text, never interpreted as rich markup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _notify_helpers import KEY, Clock, customer, open_gateway
from typer.testing import CliRunner

from kbrank.cli import app
from kbrank.proactive import Outbox

runner = CliRunner()
TITLE = "Night vision [bold red]stays off[/] <b>"


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("KBRANK_KEY", KEY)
    records = [customer(n, version="4.2.1", locale=("en-GB", "de-DE", "fr-FR")[n % 3],
                        channel=("email", "sms", "email")[n % 3]) for n in range(9)]
    records.append(customer(9, version="4.1.0"))
    open_gateway(tmp_path / "store.db", records, Clock()).close()
    issues = tmp_path / "issues.jsonl"
    issues.write_text(json.dumps({"id": "ki-night", "title": TITLE, "impact": "broken", "products": ["cam-c10"],
                                  "versions": {"cam-c10": ">=4.2,<4.3.2"}, "status": "workaround",
                                  "workaround_article": "kb-77", "fixed_in": {"cam-c10": "4.3.2"}}) + "\n")
    corpus = tmp_path / "kb.jsonl"
    corpus.write_text(json.dumps({"id": "kb-77", "title": "Turn night vision on by hand", "body": "Open settings.",
                                  "url": "https://help.example/kb-77"}) + "\n")
    return {"store": tmp_path / "store.db", "issues": issues, "corpus": corpus, "dir": tmp_path}


def invoke(*args: str) -> object:
    return runner.invoke(app, ["notify", *args])


def test_dry_run_shows_the_audience_and_three_samples_and_stores_nothing(files: dict[str, Path]) -> None:
    result = invoke("plan", "ki-night", "--issues", str(files["issues"]), "--store", str(files["store"]),
                    "--corpus", str(files["corpus"]), "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "9 customers affected of 10 scanned; 9 messages planned." in out
    assert "consumer" in out and "email" in out and "sms" in out and "contact: message planned" in out
    assert out.count("notice · customer") == 3
    assert all(label in out for label in ("email · en · notice", "sms · de · notice", "email · fr · notice"))
    assert TITLE in out  # the markup in the data is printed as text
    assert "Dry run: nothing was stored." in out
    assert not Outbox.exists(files["store"])


def test_plan_send_update_status_round_trip(files: dict[str, Path]) -> None:
    common = ["--issues", str(files["issues"]), "--store", str(files["store"]), "--corpus", str(files["corpus"])]
    result = invoke("plan", "ki-night", *common)
    assert result.exit_code == 0 and "Stored update 1 of ki-night: 9 new messages" in result.output
    again = invoke("plan", "ki-night", *common)
    assert again.exit_code == 0 and "0 new messages, 9 already in the outbox" in again.output
    sent = invoke("send", "--store", str(files["store"]))
    assert sent.exit_code == 0, sent.output
    assert "sent 9 (0 already delivered before)" in " ".join(sent.output.split())
    log = files["dir"] / "store.db.deliveries.jsonl"
    assert len(log.read_text().splitlines()) == 9
    fixed = invoke("update", "ki-night", *common, "--status", "fixed")
    assert fixed.exit_code == 0, fixed.output
    assert "update 2, status fixed, closes the thread" in " ".join(fixed.output.split())
    assert invoke("send", "--store", str(files["store"])).exit_code == 0
    status = invoke("status", "ki-night", "--store", str(files["store"]))
    assert status.exit_code == 0
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in status.output.splitlines()
            if line.count("│") == 3}
    assert rows["sent"] == "18" and rows["pending"] == rows["dead"] == rows["failed"] == "0"
    assert "closes the thread" in status.output and "The thread is closed" in status.output
    kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
    assert kinds == ["notice"] * 9 + ["update"] * 9
    unsub = runner.invoke(app, ["notify", "unsubscribe", "cust-00001", "--store", str(files["store"])])
    assert unsub.exit_code == 0 and "unsubscribed from every issue" in unsub.output


def test_send_after_a_crash_waits_out_the_dead_dispatchers_leases_and_says_so(files: dict[str, Path]) -> None:
    import datetime as dt

    common = ["--issues", str(files["issues"]), "--store", str(files["store"]), "--corpus", str(files["corpus"])]
    assert invoke("plan", "ki-night", *common).exit_code == 0
    with Outbox(files["store"]) as box:  # a dispatcher that leased four messages and died
        assert len(box.lease("killed-worker", limit=4, lease_for=dt.timedelta(seconds=0.5))) == 4
    sent = invoke("send", "--store", str(files["store"]))
    assert sent.exit_code == 0, sent.output
    out = " ".join(sent.output.split())
    assert "4 messages are leased by another dispatcher (or one that stopped)" in out
    assert "sent 9 (0 already delivered before)" in out
    with Outbox(files["store"]) as box:
        assert box.counts()["sent"] == 9


def test_quiet_update_and_eta(files: dict[str, Path]) -> None:
    common = ["--issues", str(files["issues"]), "--store", str(files["store"]), "--corpus", str(files["corpus"])]
    assert invoke("plan", "ki-night", *common).exit_code == 0
    quiet = invoke("update", "ki-night", *common, "--status", "fix-scheduled", "--eta", "2026-12-01", "--quiet")
    assert quiet.exit_code == 0 and "0 new messages" in quiet.output
    slipped = invoke("update", "ki-night", *common, "--eta", "2026-12-08")
    assert slipped.exit_code == 0, slipped.output
    assert "update 3, status fix-scheduled" in " ".join(slipped.output.split())
    assert invoke("send", "--store", str(files["store"])).exit_code == 0
    delivered = [json.loads(line) for line in (files["dir"] / "store.db.deliveries.jsonl").read_text().splitlines()]
    assert {d["update"] for d in delivered} == {3}  # the notices of update 1 were superseded before they went out
    assert all("2026-12-08" in d["body"] and d["kind"] == "notice" for d in delivered)
    assert any("We expect the fix by 2026-12-08." in d["body"] for d in delivered)


@pytest.mark.parametrize(("args", "code", "text"), [
    (["plan", "ki-nigth", "--issues", "{issues}", "--store", "{store}", "--dry-run"], 2, "did you mean 'ki-night'?"),
    (["plan", "ki-night", "--issues", "{dir}/missing.yaml", "--store", "{store}"], 2, "file not found"),
    (["plan", "ki-night", "--issues", "{issues}", "--store", "{dir}/none.db"], 3, "no profile store here"),
    (["status", "ki-night", "--store", "{store}"], 3, "this file holds no outbox yet"),
    (["status", "ki-night"], 2, "--outbox must be"),
    (["update", "ki-night", "--issues", "{issues}", "--store", "{store}", "--eta", "soon"], 2,
     "--eta must be a date written YYYY-MM-DD"),
    (["update", "ki-night", "--issues", "{issues}", "--store", "{store}", "--status", "done"], 2, "unknown status"),
    (["plan", "ki-night", "--issues", "{issues}", "--store", "{store}", "--dry-run"], 2, "has no link"),
    (["plan", "ki-night", "--issues", "{issues}", "--store", "{store}", "--article-url", "https://kb/{{id}}",
      "--route", "email"], 2, "--route must be FROM=TO"),
])
def test_errors_are_one_line_with_meaningful_exit_codes(files: dict[str, Path], args: list[str], code: int,
                                                        text: str) -> None:
    filled = [a.format(**{k: str(v) for k, v in files.items()}) for a in args]
    result = invoke(*filled)
    assert result.exit_code == code, result.output
    assert text in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 3


def test_missing_key_is_an_input_error(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KBRANK_KEY")
    result = invoke("send", "--store", str(files["store"]))
    assert result.exit_code == 2 and "export KBRANK_KEY=" in result.output


def test_send_through_a_signed_webhook(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from _webhook_server import SECRET, Receiver

    common = ["--issues", str(files["issues"]), "--store", str(files["store"]), "--corpus", str(files["corpus"])]
    assert invoke("plan", "ki-night", *common).exit_code == 0
    monkeypatch.setenv("KBRANK_WEBHOOK_SECRET", SECRET)
    with Receiver() as receiver:
        receiver.fail_next = 2  # the first two requests fail: those messages are rescheduled, not lost
        result = invoke("send", "--store", str(files["store"]), "--webhook", receiver.url)
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())
        assert "sent 7" in text and "failed 2 (will retry)" in text and "next retry due at" in text
        assert len(receiver.delivered) == 7 and receiver.rejected == 0
    with Outbox(files["store"], create=False) as outbox:
        assert outbox.counts("ki-night")["failed"] == 2


def test_the_demo_ends_with_a_dry_run_plan_for_a_help_centre_issue() -> None:
    from rich.console import Console

    from kbrank.cli_notify import demo_plan
    from kbrank.datasets import load_helpcentre

    console = Console(record=True, width=120)
    demo_plan(console, load_helpcentre(), key="kbrank-demo-pseudonymization-key")
    text = console.export_text()
    assert "Plan for ki-" in text and "messages planned" in text and "Audience by segment" in text
    assert text.count("· notice · customer") == 3 and "held back" in text
    assert text.rstrip().endswith("then kbrank notify send.")
