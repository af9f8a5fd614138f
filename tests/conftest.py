"""Shared fixtures. Tests that need ../shared/data fail loudly in CI (KBRANK_REQUIRE_DATA=1) and skip elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BEIR_DIR = REPO.parent / "shared" / "data" / "beir"


def _require(path: Path) -> Path:
    if path.exists():
        return path
    message = f"evaluation data not found at {path} (expected ../shared/data/beir beside the checkout)"
    if os.environ.get("KBRANK_REQUIRE_DATA") == "1" or os.environ.get("CI"):
        pytest.fail(message + "; CI must provide it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def beir_dir() -> Path:
    """The folder holding the BEIR data sets (scifact, nfcorpus)."""
    return _require(BEIR_DIR)


@pytest.fixture(scope="session")
def scifact_dir(beir_dir: Path) -> Path:
    return _require(beir_dir / "scifact")


@pytest.fixture(scope="session")
def nfcorpus_dir(beir_dir: Path) -> Path:
    return _require(beir_dir / "nfcorpus")
