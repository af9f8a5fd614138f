"""`kbrank index` and `kbrank eval` with outputs they cannot or must not write: one line on stderr, exit code 5
(2 for an empty path), never a traceback, and whatever was there before left exactly as it was."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kbrank.cli import app

runner = CliRunner()
SRC = Path(__file__).resolve().parents[1] / "src"
PROBES = ("notes.tmp", "data.blob", "holiday.0123456789abcdef.jpg", "archive.tar.0000000000000000.gz")


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    """A tiny BEIR folder: four articles, two judged queries."""
    root = tmp_path / "beir"
    (root / "qrels").mkdir(parents=True)
    titles = ["Reset the router", "Pair the camera", "Router firmware 2.3.1", "Billing questions"]
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"kb-{i}", "title": t, "text": "help text"}) + "\n"
                                               for i, t in enumerate(titles)))
    (root / "queries.jsonl").write_text('{"_id": "q1", "text": "router reset"}\n{"_id": "q2", "text": "camera"}\n')
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tkb-0\t1\nq2\tkb-1\t1\n")
    return root


def _index(beir: Path, out: str, *extra: str):
    return runner.invoke(app, ["index", str(beir), "--out", out, "--mode", "bm25", *extra])


def _one_line_error(result, code: int, *needles: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith(("analyzing", "searching"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr  # (progress bars aside)
    assert "Traceback" not in result.output
    for needle in needles:
        assert any(choice in lines[0] for choice in needle.split(" | ")), lines[0]


def _contents(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()}


def test_index_refuses_a_foreign_directory_before_building(tmp_path: Path, beir: Path) -> None:
    out = tmp_path / "photos"
    out.mkdir()
    for name in PROBES:
        (out / name).write_bytes(name.encode())
    result = _index(beir, str(out))
    _one_line_error(result, 5, "is not empty and holds no kbrank index (4 entries", "--force")
    assert "analyzing" not in result.stderr  # refused before the build started
    assert _contents(out) == {name: name.encode() for name in PROBES}
    result = _index(beir, str(out), "--force")
    assert result.exit_code == 0, result.output
    assert all((out / name).read_bytes() == name.encode() for name in PROBES)
    assert _index(beir, str(out)).exit_code == 0  # now it is a kbrank index: no --force needed
    assert runner.invoke(app, ["search", str(out), "router reset", "--json"]).exit_code == 0


def test_index_never_overwrites_a_foreign_manifest(tmp_path: Path, beir: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text('{"mine": true}')
    _one_line_error(_index(beir, str(out), "--force"), 5, "not a kbrank manifest", "not even with force")
    assert _contents(out) == {"manifest.json": b'{"mine": true}'}


@pytest.mark.parametrize("command", ["index", "eval"])
def test_an_empty_out_is_refused(tmp_path: Path, beir: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    assert _index(beir, str(tmp_path / "idx")).exit_code == 0
    monkeypatch.chdir(tmp_path / "beir")
    before = _contents(tmp_path / "beir")
    if command == "index":
        result = _index(beir, "")
    else:
        result = runner.invoke(app, ["eval", str(tmp_path / "idx"), "--dataset", str(beir), "--out", ""])
    _one_line_error(result, 2, "--out must be a non-empty path; got ''")
    assert _contents(tmp_path / "beir") == before


@pytest.mark.parametrize("command", ["index", "eval"])
@pytest.mark.parametrize("where", ["file", "under-file"])
def test_a_file_as_out_is_refused(tmp_path: Path, beir: Path, command: str, where: str) -> None:
    assert _index(beir, str(tmp_path / "idx")).exit_code == 0
    blocker = tmp_path / "blocker.txt"
    blocker.write_text("keep me")
    out = str(blocker if where == "file" else blocker / "report")
    if command == "index":
        result = _index(beir, out)
    else:
        result = runner.invoke(app, ["eval", str(tmp_path / "idx"), "--dataset", str(beir), "--out", out])
    needle = "exists and is not a directory" if where == "file" else "is a file, so no directory can be made under it"
    _one_line_error(result, 5, needle)
    assert blocker.read_text() == "keep me"


def _full_disk_at(monkeypatch: pytest.MonkeyPatch, module, name: str, call: int) -> None:
    """A fake ENOSPC on the ``call``-th call of ``module.name`` (root ignores permissions, and no tiny file
    system can be mounted here, so the disk filling up is simulated)."""
    real = getattr(module, name)
    count = {"n": 0}

    def fake(*args, **kwargs):
        count["n"] += 1
        if count["n"] == call:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, fake)


def test_index_on_a_full_disk_keeps_the_previous_index(tmp_path: Path, beir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "idx"
    assert _index(beir, str(out)).exit_code == 0
    before = _contents(out)
    _full_disk_at(monkeypatch, np, "save", 3)
    _one_line_error(_index(beir, str(out), "--variant", "bm25+"), 5, "No space left on device", "free some disk space")
    monkeypatch.undo()
    assert _contents(out) == before
    assert runner.invoke(app, ["search", str(out), "router"]).exit_code == 0


def test_eval_on_a_full_disk_keeps_the_previous_report(tmp_path: Path, beir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert _index(beir, str(tmp_path / "idx")).exit_code == 0
    report = tmp_path / "report"
    args = ["eval", str(tmp_path / "idx"), "--dataset", str(beir), "--out", str(report)]
    assert runner.invoke(app, args).exit_code == 0
    before = _contents(report)
    assert set(before) == {"report.md", "report.json"}
    _full_disk_at(monkeypatch, os, "fsync", 2)  # the second file's flush: the first one is written by then
    _one_line_error(runner.invoke(app, args + ["--mode", "bm25", "-k", "1"]), 5, "No space left on device")
    monkeypatch.undo()
    assert _contents(report) == before  # both files are the old ones; no half-new pair


@pytest.fixture
def read_only(tmp_path: Path, beir: Path):
    """An index directory and its parent that not even root may write into (``chattr +i``)."""
    parent = tmp_path / "ro"
    parent.mkdir()
    assert _index(beir, str(parent / "idx")).exit_code == 0
    flagged = []
    for directory in (parent / "idx", parent):
        if subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode == 0:
            flagged.append(directory)
    try:
        try:
            (parent / ".probe").touch()
        except OSError:
            yield parent
        else:
            pytest.skip("cannot make a read-only directory here (no chattr +i)")
    finally:
        for directory in flagged:
            subprocess.run(["chattr", "-i", str(directory)], check=True)


def test_a_read_only_out_is_refused(read_only: Path, beir: Path) -> None:
    before = _contents(read_only / "idx")
    unwritable = "is not writable | Operation not permitted"
    _one_line_error(_index(beir, str(read_only / "idx")), 5, unwritable)
    _one_line_error(_index(beir, str(read_only / "new")), 5, unwritable)
    result = runner.invoke(app, ["eval", str(read_only / "idx"), "--dataset", str(beir), "--out",
                                 str(read_only / "report")])
    _one_line_error(result, 5, unwritable)
    assert _contents(read_only / "idx") == before
    assert runner.invoke(app, ["search", str(read_only / "idx"), "router"]).exit_code == 0


def test_the_real_command_exits_5_with_one_line(tmp_path: Path, beir: Path) -> None:
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.0123456789abcdef.jpg").write_bytes(b"jpeg")
    done = subprocess.run([sys.executable, "-m", "kbrank.cli", "index", str(beir), "--out", str(out), "--mode",
                           "bm25"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(SRC)})
    assert done.returncode == 5, done.stderr
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert [p.name for p in out.iterdir()] == ["holiday.0123456789abcdef.jpg"]
