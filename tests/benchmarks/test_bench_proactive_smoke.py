"""Smoke test of benchmarks/bench_proactive.py: the quick mode (embedded and SQLite gateway, no Spark) runs end
to end and reports both issues. Speed is reported by the benchmark, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_mode_reports_embedded_and_gateway_figures(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_proactive.py"), "--quick", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "bench_proactive.json").read_text())
    assert [row["customers"] for row in result["embedded"]] == [20_000]
    assert [row["customers"] for row in result["gateway"]] == [5_000] and result["spark"] == []
    for path in ("embedded", "gateway"):
        figures = result[path][0]["issues"]
        assert len(figures) == 2 and all(f["select_s"] > 0 and f["affected"] > 0 for f in figures.values())
    embedded, gateway = result["embedded"][0]["issues"], result["gateway"][0]["issues"]
    assert set(embedded) == set(gateway)
    markdown = (tmp_path / "bench_proactive.md").read_text()
    assert "| embedded (numpy) | 20,000 |" in markdown and "| SQLite gateway" in markdown
