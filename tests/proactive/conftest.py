"""Fixtures the proactive tests share: a hand-moved clock and an outbox attached to the module's ``gateway``
(each test module defines its own ``gateway`` with the customers it needs)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from _notify_helpers import Clock

from kbrank.privacy import ProfileGateway
from kbrank.proactive import Outbox


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(tmp_path: Path, clock: Clock, gateway: ProfileGateway) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.db", now=clock) as made:
        made.attach(gateway)
        yield made
