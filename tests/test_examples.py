"""Every script in examples/ runs in a subprocess (from a scratch folder) and prints output of the expected shape.

The checks read structure (headings, line patterns, counts, the facts the script states), never exact scores,
so a retuned ranking does not break them but a renamed API, a crash or a missing section does. Other tests
here keep the folder honest: every script is covered, short, and imports only the public API.

The six scripts take about a minute together on a loaded 2-core machine (BM25 only; no embedding model).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 60


def run_example(name: str, cwd: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONWARNINGS": "error"}
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    assert list(cwd.iterdir()) == [], f"{name} left files in its working directory"
    return done.stdout.splitlines()


def block(lines: list[str], heading: str) -> list[str]:
    """The indented lines right after the first line equal to ``heading``."""
    start = lines.index(heading) + 1
    end = start
    while end < len(lines) and lines[end].startswith("  "):
        end += 1
    return lines[start:end]


RANK = re.compile(r"^  (\d+)\. (kb-\d+)  \S.*$")


def ranks_of(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for line in lines if (m := RANK.match(line))]


def test_index_jsonl(tmp_path: Path) -> None:
    lines = run_example("index_jsonl.py", tmp_path)
    assert lines[0] == "loaded 6 articles from articles.jsonl"
    assert re.fullmatch(r"saved to kb-index: \d+ files, manifest.json included: True", lines[1])
    headings = [i for i, line in enumerate(lines) if line.startswith("query: ")]
    assert len(headings) == 2
    for i in headings:
        n = int(re.fullmatch(r"query: '.+' \(bm25, (\d+) results\)", lines[i]).group(1))
        hits = lines[i + 1:i + 1 + n]
        assert 1 <= n <= 3 and all(re.fullmatch(r"  \d+\. kb-\d{3}  .+  \(score \d+\.\d{3}\)", h) for h in hits)
        assert [int(h.split(".")[0]) for h in hits] == list(range(1, n + 1))
        assert lines[i + 1 + n] == "  same ranking as before saving: True"
    assert "kb-001" in lines[headings[0] + 1] and "kb-003" in lines[headings[1] + 1]  # the on-topic article first


def test_personalized_search(tmp_path: Path) -> None:
    lines = run_example("personalized_search.py", tmp_path)
    assert re.fullmatch(r"customer: cust-\d{4} \(personalized: True; fields: owned, region, locale, segment\)",
                        lines[0])
    owned = [item.split()[0] for item in lines[1].removeprefix("owns: ").split(", ")]
    assert owned and lines[1].startswith("owns: ")
    assert ranks_of(block(lines, "unpersonalized:")) == [1, 2, 3, 4, 5]
    personal = block(lines, "personalized:")
    assert ranks_of(personal) == [1, 2, 3, 4, 5]
    receipts = [line for line in personal if not RANK.match(line)]
    assert receipts and all(re.fullmatch(r" {7}[+-]\d\.\d\d [a-z-]+: .+", line) for line in receipts)
    assert any(product in line for line in receipts for product in owned)  # a receipt names what they own
    hidden_heading = next(line for line in lines if line.startswith("hidden ("))
    count = int(re.fullmatch(r"hidden \((\d+)\):", hidden_heading).group(1))
    hidden = block(lines, hidden_heading)
    assert count >= 1 and len(hidden) == count
    assert all(re.fullmatch(r"  - kb-\d{4} \(would rank \d+\): .+", line) for line in hidden)


def test_profiles_gateway(tmp_path: Path) -> None:
    lines = run_example("profiles_gateway.py", tmp_path)
    assert lines[0].startswith("loaded 2 profiles")
    assert lines[1] == "cust-a for personalization: fields owned, region, locale, segment"
    assert lines[2] == "cust-a for chat: fields owned, region, locale, segment"
    assert lines[3].startswith("cust-a for proactive-contact: fields ") and "addresses" in lines[3]
    assert lines[4:7] == ["refused field: FieldNotAllowedError", "refused read: ConsentError",
                          "cust-b degraded: personalized=False, fields=[]"]
    assert lines[7] == "export keys: customer, data, expired_events, generated_at, history, purposes, retention_days"
    assert re.fullmatch(r"export history: \d+ audited accesses, e\.g\. \{.*\"purpose\": \"data-subject-access\".*\}",
                        lines[8])
    assert re.fullmatch(r"erased: complete=True, profiles removed=1, audit records re-keyed=\d+", lines[9])
    assert lines[10:] == ["after erasure: UnknownCustomerError"]


def test_evaluate_run(tmp_path: Path) -> None:
    lines = run_example("evaluate_run.py", tmp_path)
    assert lines[0] == "run bm25 over 200 queries:"
    for line, metric in zip(lines[1:4], ("ndcg@10", "recall@10", "mrr")):
        value = float(re.fullmatch(rf"  {re.escape(metric)}: (\d\.\d{{4}})", line).group(1))
        assert 0.0 < value <= 1.0
    heading = lines.index("randomization test against the baseline bm25 (metrics by their trec_eval names):")
    assert lines[heading + 1].split() == ["run", "ndcg_cut_10", "recall_10", "recip_rank"]
    assert lines[heading + 2].split()[0] == "bm25" and len(lines[heading + 2].split()) == 4
    row = lines[heading + 3]
    assert row.split()[0] == "bm25+profile"
    cells = re.findall(r"(\d\.\d{4}) \(([+-]\d\.\d{4}), p=(\d\.\d{3})\)", row)
    assert len(cells) == 3
    baseline = [float(v) for v in lines[heading + 2].split()[1:]]
    for (mean, delta, p_value), base in zip(cells, baseline):
        assert abs(float(mean) - base - float(delta)) <= 2e-4  # every query is scored by both runs
        assert 0.0 <= float(p_value) <= 1.0


def test_chat_clarify(tmp_path: Path) -> None:
    lines = run_example("chat_clarify.py", tmp_path)
    owned = lines[0].split(" owns ")[1].split(", ")
    assert re.fullmatch(r"customer: cust-\d{4} owns .+", lines[0]) and {"router-x200", "cam-c10"} <= set(owned)
    question = lines[lines.index("customer: wifi keeps dropping") + 1]
    assert re.fullmatch(r"assistant: Is this about your .+ or your .+\?", question)
    options = [line for line in lines if line.startswith("  option ")]
    products = [re.fullmatch(r"  option ([a-z0-9-]+): kb-\d{4}(, kb-\d{4})*", line).group(1) for line in options]
    assert len(products) >= 2 and set(products) <= set(owned) and "cam-c10" in products
    answered = lines.index("customer: the camera")
    assert re.fullmatch(r"tracked product: cam-c10; query: '.+'", lines[answered + 1])
    passages = block(lines, lines[answered + 1])
    assert 1 <= len(passages) <= 3 and all(re.fullmatch(r"  \[kb-\d{4}\] '.*'\.\.\.", p) for p in passages)
    assert re.fullmatch(r"context: \d+ tokens, [1-3] citations", lines[-3])
    assert lines[-2].startswith("answer: ") and lines[-1] == "citations check: ok=True"


def test_plan_notice(tmp_path: Path) -> None:
    lines = run_example("plan_notice.py", tmp_path)
    assert re.fullmatch(r"issue: ki-[\w-]+: .+", lines[0])
    assert re.fullmatch(r"  impact [a-z-]+, status [a-z-]+, fix due \d{4}-\d\d-\d\d", lines[1])
    audience = next(line for line in lines if line.startswith("audience: "))
    scanned, affected, to_contact, unconsented = map(int, re.fullmatch(
        r"audience: (\d+) scanned, (\d+) affected, (\d+) to contact, (\d+) affected without consent to contact",
        audience).groups())
    assert 0 < to_contact < affected <= scanned and unconsented <= affected
    samples = block(lines, audience)
    assert 1 <= len(samples) <= 3
    assert all(re.fullmatch(r"  owns .+: contact=(True|False) \(.+\)", line) for line in samples)
    planned = next(line for line in lines if line.startswith("plan: "))
    messages = int(re.fullmatch(r"plan: update 1, (\d+) messages, confirmation needed: (True|False)",
                                planned).group(1))
    assert messages == to_contact
    channels = next(line for line in lines if line.startswith("  by channel: "))
    assert sum(int(n) for n in re.findall(r"[a-z-]+ (\d+)", channels)) == messages
    held = next(line for line in lines if line.startswith("  held back: "))
    assert sum(int(n) for n in re.findall(r" (\d+)(?:,|$)", held)) == affected - to_contact
    assert re.fullmatch(r"sample message \([a-z-]+, [a-z]{2}(-[A-Z]{2})?\): .+", lines[-2])
    assert re.fullmatch(r"  \d+ characters, html=(True|False)", lines[-1])


# -- the folder itself ---------------------------------------------------------------------------------------
def scripts() -> list[Path]:
    return sorted(EXAMPLES.glob("*.py"))


def test_every_example_is_covered_by_a_test() -> None:
    tested = {name.removeprefix("test_") + ".py" for name in globals() if name.startswith("test_")}
    missing = [path.name for path in scripts() if path.name not in tested]
    assert scripts() and not missing, f"add a test_<name> for each of {missing}"


@pytest.mark.parametrize("path", scripts(), ids=lambda p: p.name)
def test_examples_are_short(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) < MAX_LINES


def public_names(module: str) -> set[str]:
    """``kbrank.__all__``, or a first-level subpackage's ``__all__`` (``kbrank.chat`` and the like)."""
    imported = import_module(module)
    assert hasattr(imported, "__path__"), f"{module} is a module, not kbrank or one of its subpackages"
    return set(imported.__all__)


@pytest.mark.parametrize("path", scripts(), ids=lambda p: p.name)
def test_examples_import_only_the_public_api(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            assert not any(alias.name.startswith("kbrank") for alias in node.names), \
                f"{path.name}:{node.lineno}: write `from kbrank import Name` instead of `import kbrank...`"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kbrank"):
            parts = node.module.split(".")
            assert node.level == 0 and len(parts) <= 2 and not any(p.startswith("_") for p in parts), \
                f"{path.name}:{node.lineno}: {node.module} is not kbrank or one of its public subpackages"
            allowed = public_names(node.module)
            for alias in node.names:
                assert alias.name in allowed, f"{path.name}:{node.lineno}: {alias.name} is not in {node.module}.__all__"
