"""The gate is the only way in: no kbrank module outside ``kbrank/privacy`` may import the profile stores or any
other private part of the privacy package. Outside modules import ``kbrank.privacy`` itself, and only its
public names (``kbrank.privacy.__all__``: the gateway, the view, the profile types, ``redact`` ...).

The rule is checked by walking the syntax tree of every module (relative imports resolved, dynamic
``importlib`` strings included), and the checker is itself tested on modules that break the rule."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import kbrank.privacy

SRC = Path(kbrank.privacy.__file__).resolve().parents[1]  # .../src/kbrank
PUBLIC = set(kbrank.privacy.__all__)
GATE = "kbrank.privacy"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Every way ``source`` (the code of ``module``) reaches past the privacy gate."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(GATE + "."):
                    found.append(f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, node, is_package)
            if target.startswith(GATE + "."):
                found.append(f"from {target} import ...")
            elif target == GATE:
                found += [f"from {GATE} import {a.name}" for a in node.names if a.name not in PUBLIC]
        elif isinstance(node, ast.Attribute) and node.attr not in PUBLIC and (
                (isinstance(node.value, ast.Name) and node.value.id == "privacy")
                or (isinstance(node.value, ast.Attribute) and node.value.attr == "privacy")):
            found.append(f"attribute privacy.{node.attr}")  # kbrank.privacy.store reached as an attribute
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith(GATE + ".") or ".privacy.store" in node.value or "privacy._" in node.value:
                found.append(f"string {node.value!r}")
    return found


def _outside_modules() -> list[tuple[Path, str]]:
    privacy_dir = SRC / "privacy"
    return [(path, _module_name(path, SRC)) for path in sorted(SRC.rglob("*.py"))
            if privacy_dir not in path.parents]


def test_no_module_outside_privacy_reaches_past_the_gate() -> None:
    modules = _outside_modules()
    assert len(modules) > 20 and any(name == "kbrank.cli" for _, name in modules)
    problems = {name: found for path, name in modules
                if (found := violations(path.read_text(encoding="utf-8"), name,
                                        is_package=path.name == "__init__.py"))}
    assert problems == {}


def test_the_cli_goes_through_the_gate() -> None:
    source = (SRC / "cli.py").read_text(encoding="utf-8")
    assert "from .privacy import ProfileGateway" in source
    assert violations(source, "kbrank.cli") == []


@pytest.mark.parametrize("source, module", [
    ("from kbrank.privacy.store import SQLiteProfileStore", "kbrank.personalize.rules"),
    ("from ..privacy.store.sqlite import SQLiteProfileStore", "kbrank.personalize.rules"),
    ("from .privacy import store", "kbrank.searcher"),
    ("from .privacy import gateway", "kbrank.searcher"),
    ("import kbrank.privacy.store.memory as m", "kbrank.chat.context"),
    ("from ..privacy._cache import ProfileCache", "kbrank.proactive.outbox"),
    ("import importlib\nimportlib.import_module('kbrank.privacy.store')", "kbrank.proactive.outbox"),
    ("from kbrank.privacy import InMemoryProfileStore", "kbrank.evaluation.evaluate"),
    ("import kbrank.privacy\nstore = kbrank.privacy.store.SQLiteProfileStore('x')", "kbrank.searcher"),
    ("from . import privacy\nprivacy.store.InMemoryProfileStore()", "kbrank.searcher"),
])
def test_the_checker_catches_every_way_around(source: str, module: str) -> None:
    assert violations(source, module)


@pytest.mark.parametrize("source, module", [
    ("from kbrank.privacy import ProfileGateway, ProfileView, Where, redact", "kbrank.personalize.rules"),
    ("from ..privacy import ConsentError, CustomerProfile", "kbrank.personalize.rules"),
    ("from . import privacy", "kbrank"),
    ("import kbrank.privacy", "kbrank.searcher"),
    ("from . import privacy\ngateway = privacy.ProfileGateway.open('p.db', key=k)", "kbrank.searcher"),
])
def test_the_checker_allows_the_public_names(source: str, module: str) -> None:
    assert violations(source, module) == []


def test_inside_the_package_only_the_gateway_side_opens_stores() -> None:
    privacy_dir = SRC / "privacy"
    allowed = {"kbrank.privacy.gateway", "kbrank.privacy._gateway_base", "kbrank.privacy._requests"}
    openers = set()
    for path in privacy_dir.rglob("*.py"):
        name = _module_name(path, SRC)
        if name.startswith("kbrank.privacy.store"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _absolute(name, node, path.name == "__init__.py").startswith(
                    "kbrank.privacy.store"):
                openers.add(name)
    assert openers <= allowed, openers - allowed


def test_the_public_surface_exposes_no_store() -> None:
    assert not {name for name in PUBLIC if ("Store" in name and not name.endswith("Error")) or name.startswith("_")}
    assert not hasattr(kbrank.privacy, "SQLiteProfileStore")


def test_nothing_happens_at_import(tmp_path: Path) -> None:
    code = ("import logging, os, sys; before = set(os.listdir('.')); import kbrank.privacy; "
            "assert set(os.listdir('.')) == before; "
            "assert logging.getLogger('kbrank.privacy').handlers == []; "
            "assert logging.getLogger().handlers == []; "
            "assert 'pandas' not in sys.modules; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
