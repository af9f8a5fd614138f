"""The kill test: a real `kbrank notify send` subprocess dispatching thousands of messages is killed with SIGKILL
at random points, several times, then restarted; the sender's log holds every message exactly once.

Each kill waits until the dispatcher has delivered a random number of new messages (1 to 200), so every kill
lands mid-run (the test checks the process died of the signal, not of finishing). Run it alone with
``pytest tests/proactive/test_kill.py -s`` to see where each kill landed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from _notify_helpers import KEY, Clock, customer, hand_plan, open_gateway

from kbrank.proactive import Outbox

N_MESSAGES = 2000
KILLS = 5
SRC = Path(__file__).resolve().parents[2] / "src"


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().decode().splitlines() if line.endswith("}")]


def _delivered(path: Path) -> int:
    """Lines written to the sender's log so far (cheap enough to poll every millisecond)."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _dispatcher(store: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "KBRANK_KEY": KEY, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, "-m", "kbrank.cli", "notify", "send", "--store", str(store), "--deliveries", str(log),
         "--batch-size", "40", "--lease", "1", "--worker", "kill-test"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigkill_at_random_points_then_restart_delivers_each_message_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(20261101)
    store, log = tmp_path / "store.db", tmp_path / "deliveries.jsonl"
    ids = [f"cust-{n:05d}" for n in range(N_MESSAGES)]
    gateway = open_gateway(store, [customer(n) for n in range(N_MESSAGES)], Clock())
    try:
        with Outbox(store) as outbox:  # the outbox inside the profile store's file, as the CLI's default
            assert outbox.enqueue(hand_plan(gateway, ids)).added == N_MESSAGES
            keys = {m.key for m in outbox.messages()}
        addresses = {gateway.pseudonymize(cid): f"{cid}@mail.example" for cid in ids}
    finally:
        gateway.close()

    landed = []
    for _ in range(KILLS):
        # Kill once the run has delivered a random number of new messages (at most a tenth of the batch, so
        # every kill lands mid-run however fast the machine dispatches: a fixed delay after the first delivery
        # let a fast machine finish all 2,000 first).
        target = _delivered(log) + rng.randint(1, N_MESSAGES // (2 * KILLS))
        process = _dispatcher(store, log)
        deadline = time.monotonic() + 60
        while _delivered(log) < target and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL, "the dispatcher finished before it was killed"
        landed.append(len(_lines(log)))
    final = _dispatcher(store, log)
    out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err.decode()[-2000:]

    lines = _lines(log)
    counts = Counter(line["key"] for line in lines)
    assert set(counts) == keys, "lost messages" if keys - set(counts) else "unknown messages"
    assert max(counts.values()) == 1, f"duplicated: {[k for k, n in counts.items() if n > 1][:5]}"
    assert len(lines) == N_MESSAGES
    assert all(line["to"] == addresses[line["customer"]] for line in lines)
    assert all(earlier < later for earlier, later in zip(landed, landed[1:]))  # every run made progress
    with Outbox(store, create=False) as outbox:
        assert outbox.counts()["sent"] == N_MESSAGES
        outcomes = Counter(a.outcome for m in outbox.messages() for a in outbox.attempts(m.key))
    assert outcomes["sent"] + outcomes["duplicate"] == N_MESSAGES and outcomes["started"] == 0
    print(f"\nkills landed after {landed} deliveries; attempts: {dict(outcomes)}; final run: "
          f"{' '.join(out.decode().split())}")


pytestmark = pytest.mark.slow
