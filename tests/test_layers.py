"""The layer contract: imports point down the flow, and no two modules import each other (even lazily).

    articles -> analysis -> indexes -> candidates -> fusion -> personalization -> explained results

Every module of src/kbrank is parsed (an AST walk, so imports inside functions count too) and each import
is resolved to the kbrank module it names. A unit (a top-level module or subpackage) may import only units in
lower layers, and modules inside its own unit; the module graph must have no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "kbrank"

#: Lowest first. A unit is the first name after ``kbrank.``; new units must be placed here.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("_version", "errors"),
    ("_io", "_cache", "_frames", "_params", "_dates", "_sqlite", "_threads"),
    ("applicability", "storage", "candidates"),
    ("corpus",),
    ("analysis",),
    ("index",),
    ("retrieval",),
    ("evaluation",),
    ("privacy",),
    ("personalize",),
    ("results",),
    ("_searcher_checks",),
    ("_searcher_io",),
    ("searcher",),
    ("chat", "proactive"),
    ("datasets",),
    ("_cli_common",),
    ("cli_notify",),
    ("demo", "web"),
    ("cli_chat", "cli_serve"),
    ("cli", "__main__", "__init__"),
)
LAYER = {unit: level for level, units in enumerate(LAYERS) for unit in units}
#: Imports that are allowed although the unit is not above: none today. Add a reason beside any entry.
EXCEPTIONS: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The kbrank modules ``path`` imports (resolved, including imports inside functions)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names if alias.name.split(".")[0] == "kbrank"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "kbrank":
                continue
            out.add(target)
            for alias in node.names:  # "from . import dense_faiss" names a module
                candidate = f"{target}.{alias.name}"
                if (SRC.parent / candidate.replace(".", "/")).with_suffix(".py").exists():
                    out.add(candidate)
    out.discard(name)
    return out


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in SRC.rglob("*.py")}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_unit_has_a_layer() -> None:
    units = {_unit(m) for m in _graph()}
    assert not units - set(LAYER), f"place these modules in LAYERS: {sorted(units - set(LAYER))}"


def test_imports_point_down_the_flow() -> None:
    wrong = []
    for module, targets in sorted(_graph().items()):
        for target in sorted(targets):
            source_unit, target_unit = _unit(module), _unit(target)
            if source_unit == target_unit or target_unit == "__init__" and target == "kbrank":
                if target == "kbrank" and module != "kbrank":
                    wrong.append(f"{module} imports the package root (import the module that defines the name)")
                continue
            if LAYER[target_unit] >= LAYER[source_unit] and (source_unit, target_unit) not in EXCEPTIONS:
                wrong.append(f"{module} (layer {LAYER[source_unit]}) imports {target} (layer {LAYER[target_unit]})")
    assert not wrong, "imports against the flow:\n" + "\n".join(wrong)


def test_no_import_cycles() -> None:
    graph = _graph()
    modules = set(graph)
    edges = {m: {t for t in targets if t in modules} for m, targets in graph.items()}
    # a package's __init__ re-exports its modules; importing one of them imports the package first
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt.startswith(node + "."):
                continue  # a package importing its own submodules is its re-export, not a cycle
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    real = [c for c in cycles if not all(a.startswith(b + ".") or b.startswith(a + ".") for a, b in zip(c, c[1:]))]
    assert not real, "import cycles:\n" + "\n".join(" -> ".join(c) for c in real)


def test_evaluation_knows_nothing_of_profiles() -> None:
    graph = _graph()
    bad = sorted((m, t) for m, ts in graph.items() if _unit(m) == "evaluation" for t in ts
                 if _unit(t) in ("privacy", "personalize"))
    assert not bad, bad
