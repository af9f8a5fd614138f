"""Smoke test of benchmarks/bench_bm25.py: the quick mode runs end to end and reports every system.

Latency is reported by the benchmark, never asserted here (STYLE habit 10): only shape and positivity.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "bench_bm25.py"
SYSTEMS = ["kbrank", "rank_bm25", "bm25s_numpy"]

pytest.importorskip("bm25s", reason="the bench extra is not installed (pip install -e '.[bench]')")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--queries", "30", "--systems", *SYSTEMS, "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "bench_bm25.json").read_text()), (out / "bench_bm25.md").read_text()


def test_quick_mode_reports_every_system_with_positive_qps(quick_run: tuple[dict, str]) -> None:
    result, _ = quick_run
    assert [size["n_docs"] for size in result["sizes"]] == [10_000]
    reported = result["sizes"][0]["systems"]
    assert sorted(reported) == sorted(SYSTEMS)
    for name, system in reported.items():
        assert system["build_s_median"] > 0, name
        for query_set in ("zipf", "stopword_free"):
            figures = system["sets"][query_set]
            assert figures["n_timed"] > 0, (name, query_set)
            assert figures["single_qps_median"] > 0, (name, query_set)
            if name != "rank_bm25":  # rank_bm25 has no batch API
                assert figures["batch_qps_median"] > 0, (name, query_set)


def test_quick_mode_checks_agreement_and_machine_info(quick_run: tuple[dict, str]) -> None:
    result, markdown = quick_run
    assert result["machine"]["cpu_count"] >= 1
    assert result["machine"]["packages"]["bm25s"]
    kbrank = result["sizes"][0]["systems"]["kbrank"]["sets"]["zipf"]["agreement"]
    assert 0.0 <= kbrank["set_equal"] <= 1.0 and kbrank["n_queries"] == 30
    assert "| kbrank |" in markdown and "| rank_bm25" in markdown
