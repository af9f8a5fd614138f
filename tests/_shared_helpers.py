"""Helpers more than one test package needs: a clock the test moves by hand, and loading a benchmark script
as a module (the benchmarks are scripts, not a package). ``tests/`` is on ``sys.path`` through its conftest."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


class Clock:
    """A clock the test moves by hand (inject it as ``now=clock``)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def load_benchmark(script: str) -> ModuleType:
    """``benchmarks/<script>.py`` as the module ``kbrank_benchmarks_<script>``, loaded once per session."""
    name = f"kbrank_benchmarks_{script}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{script}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the script executes
    spec.loader.exec_module(module)
    return module
