"""The notebooks in examples/notebooks are stored clean and run in CI.

`make test` runs them top to bottom with nbmake, as a separate pytest invocation (``--nbmake examples/notebooks``,
``MPLBACKEND=Agg``); these fast checks keep that true: no stored outputs or execution counts, a Python 3
kernel, the Makefile line present, and the relevance notebook failing loudly without SciFact under
``KBRANK_REQUIRE_DATA=1``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "examples" / "notebooks").glob("*.ipynb"))


def test_the_notebooks_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == ["evaluate_relevance.ipynb", "personalization_policy.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{path.name} has no code cells"
    for i, cell in enumerate(code):
        assert cell.outputs == [], f"{path.name}: code cell {i} has stored outputs; clear them before committing"
        assert cell.execution_count is None, f"{path.name}: code cell {i} has an execution count"
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_make_test_runs_the_notebooks_with_nbmake_on_agg() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    target = re.search(r"^test:.*?(?=^\S)", makefile, flags=re.M | re.S)
    assert target, "the Makefile has no test target"
    assert re.search(r"MPLBACKEND=Agg .*pytest .*--nbmake .*examples/notebooks", target.group(0))
    dev = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    for package in ("nbmake", "nbformat", "matplotlib", "ipykernel"):
        assert re.search(rf'^\s*"{package}[>=<~ ]', dev, flags=re.M), f"{package} is missing from the dev extra"


def test_relevance_notebook_fails_loudly_without_scifact_when_data_is_required(tmp_path: Path, monkeypatch) -> None:
    """The data cell, run as the notebook runs it but with the checkout moved where no ../shared/data is."""
    notebook = nbformat.read(REPO / "examples" / "notebooks" / "evaluate_relevance.ipynb", as_version=4)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    data_cell = next(source for source in code if "KBRANK_REQUIRE_DATA" in source)
    setup = next(source for source in code if "REPO = " in source)
    monkeypatch.chdir(REPO / "examples" / "notebooks")
    namespace: dict = {}
    exec(compile(setup, "setup cell", "exec"), namespace)  # imports only; the model loads on first encode
    (tmp_path / "checkout").mkdir()
    namespace["REPO"] = tmp_path / "checkout"
    monkeypatch.setenv("KBRANK_REQUIRE_DATA", "1")
    with pytest.raises(FileNotFoundError, match=r"SciFact not found at .*KBRANK_REQUIRE_DATA=1"):
        exec(compile(data_cell, "data cell", "exec"), namespace)
