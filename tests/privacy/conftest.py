"""Fixtures for the privacy tests: both profile stores (the contract suite runs against each), and gateways
that are always closed (an unclosed SQLite connection is a ResourceWarning, and warnings are errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from _privacy_helpers import KEY, Clock

from kbrank.datasets import generate_helpcentre
from kbrank.privacy import ProfileGateway
from kbrank.privacy.store import InMemoryProfileStore, ProfileStore, SQLiteProfileStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProfileStore]:
    """Each `ProfileStore` implementation in turn."""
    made = InMemoryProfileStore() if request.param == "memory" else SQLiteProfileStore(tmp_path / "profiles.db")
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite"])
def gateway(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[ProfileGateway]:
    """An empty gateway over each kind of storage, with a hand-moved clock."""
    if request.param == "memory":
        made = ProfileGateway.in_memory(key=KEY, now=clock)
    else:
        made = ProfileGateway.open(tmp_path / "profiles.db", key=KEY, now=clock)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="session")
def helpcentre():
    """A small demo help centre (40 customers)."""
    return generate_helpcentre(seed=0, n_customers=40)
