"""`kbrank serve`: a saved index with profiles served by a real subprocess; errors before serving are one line
with the CLI's exit codes."""

from __future__ import annotations

import json
import socket
import urllib.parse
import urllib.request

from _web_helpers import free_port, serving
from typer.testing import CliRunner

from kbrank.cli import app

runner = CliRunner()


def test_serve_a_saved_index_with_profiles(tmp_path, helpcentre) -> None:
    from kbrank import Article, Corpus
    from kbrank.searcher import Searcher

    Searcher(mode="bm25").build(Corpus([
        Article(id="r1", title="Router drops the wifi", body="router wifi drops", products=("router-x200",)),
        Article(id="c1", title="Camera drops the wifi", body="camera wifi drops", products=("cam-c10",)),
    ])).save(tmp_path / "index")
    record = dict(helpcentre.customer("cust-0010"), customer_id="ann")
    (tmp_path / "people.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    with serving([str(tmp_path / "index"), "--profiles", str(tmp_path / "people.jsonl")], tmp_path / "log",
                 timeout=120) as base:
        query = urllib.parse.urlencode({"q": "wifi drops, mail ann@example.org", "customer": "ann", "k": 2})
        with urllib.request.urlopen(f"{base}/api/search?{query}", timeout=30) as response:
            body = json.load(response)
        with urllib.request.urlopen(f"{base}/?{query}", timeout=30) as response:
            page = response.read().decode()
    assert {r["id"] for r in body["unpersonalized"]["results"]} == {"r1", "c1"}
    assert body["customer"]["id"] == "ann" and body["personalized"]["personalized"] is True
    assert 'id="personal"' in page and "Router drops the wifi" in page
    log = (tmp_path / "log").read_text()
    assert "GET /api/search 200" in log and "search 'wifi drops, mail [email]' k=2" in log
    assert "ann@example.org" not in log and "customer=ann" not in log and "q=wifi" not in log


def test_a_taken_port_is_refused_before_building(tmp_path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = runner.invoke(app, ["serve", str(tmp_path), "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert "field '--port'" in result.output and "pick a free port" in result.output
    assert "Building" not in result.output and "Traceback" not in result.output


def test_bad_arguments_are_one_line(tmp_path) -> None:
    missing = runner.invoke(app, ["serve", str(tmp_path / "nope"), "--port", str(free_port())])
    assert missing.exit_code == 3 and "Traceback" not in missing.output
    alone = runner.invoke(app, ["serve", "--profiles", str(tmp_path / "p.jsonl"), "--port", str(free_port())])
    assert alone.exit_code == 2 and "need an INDEX" in alone.output
    host = runner.invoke(app, ["serve", "--host", "no-such-host.invalid", "--port", str(free_port())])
    assert host.exit_code == 2 and "field '--host'" in host.output
    assert runner.invoke(app, ["serve", "--port", "70000"]).exit_code == 2
    assert "kbrank serve" in runner.invoke(app, ["serve", "--help"]).output.replace("Usage: root", "kbrank")


def test_a_missing_web_dependency_names_the_extra(monkeypatch, site) -> None:
    import importlib.util

    import pytest

    from kbrank.errors import MissingDependencyError
    from kbrank.web import create_app

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    with pytest.raises(MissingDependencyError, match=r"pip install 'kbrank\[web\]'") as caught:
        create_app(site)
    assert caught.value.package == "fastapi" and caught.value.extra == "web"
    result = runner.invoke(app, ["serve", "--port", str(free_port())])
    assert result.exit_code == 4 and "kbrank[web]" in result.output


def test_importing_the_web_package_or_the_cli_loads_no_web_dependency() -> None:
    import subprocess
    import sys

    from _web_helpers import SRC

    code = ("import sys, kbrank.web, kbrank.cli; heavy = {'fastapi', 'jinja2', 'uvicorn', 'starlette', 'torch'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
