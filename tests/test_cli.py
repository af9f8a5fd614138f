"""The command line: real commands on real files, one-line errors and meaningful exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kbrank.cli import app

runner = CliRunner()


def _corpus(tmp_path: Path) -> Path:
    path = tmp_path / "kb.jsonl"
    records = [{"id": f"kb-{i}", "title": t, "body": "body text"} for i, t in
               enumerate(["Reset the router", "Pair the camera", "Router firmware 2.3.1", "Billing questions"])]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def test_index_then_search_table_and_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["index", str(_corpus(tmp_path)), "--out", str(tmp_path / "idx"), "--mode", "bm25"])
    assert result.exit_code == 0, result.output
    assert "indexed 4 articles" in result.output
    result = runner.invoke(app, ["search", str(tmp_path / "idx"), "router firmware", "-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [r["id"] for r in payload["results"]] == ["kb-2", "kb-0"]
    assert payload["results"][0]["sources"]["bm25"]["rank"] == 1
    result = runner.invoke(app, ["search", str(tmp_path / "idx"), "router firmware"])
    assert result.exit_code == 0 and "kb-2" in result.output


def test_bad_corpus_is_one_line_with_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a"}\n{"title": "no id"}\n')
    result = runner.invoke(app, ["index", str(bad), "--out", str(tmp_path / "idx"), "--mode", "bm25"])
    assert result.exit_code == 2
    assert "line 2, field 'id': missing article id" in result.output
    assert "Traceback" not in result.output


def test_missing_index_exit_code_3(tmp_path: Path) -> None:
    result = runner.invoke(app, ["search", str(tmp_path / "nope"), "router"])
    assert result.exit_code == 3
    assert "no such index directory" in result.output


def test_unknown_mode_is_a_usage_error(tmp_path: Path) -> None:
    runner.invoke(app, ["index", str(_corpus(tmp_path)), "--out", str(tmp_path / "idx"), "--mode", "bm25"])
    result = runner.invoke(app, ["search", str(tmp_path / "idx"), "router", "--mode", "dense"])
    assert result.exit_code == 2
    assert "mode must be one this searcher was built for ('bm25',)" in result.output


def test_eval_writes_report(tmp_path: Path, scifact_dir: Path) -> None:
    result = runner.invoke(app, ["index", str(scifact_dir), "--out", str(tmp_path / "idx"), "--mode", "bm25"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["eval", str(tmp_path / "idx"), "--dataset", str(scifact_dir), "--out",
                                 str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert "ndcg_cut_10" in json.dumps(report)
    assert (tmp_path / "report" / "report.md").exists()


def test_demo_runs_offline() -> None:
    result = runner.invoke(app, ["demo", "-k", "3", "--mode", "bm25"])
    assert result.exit_code == 0, result.output
    assert "Lumio help centre" in result.output and "E-102" in result.output
