"""Runs index-file fuzz cases in a child process, so that a crash (a segfault in a compiled kernel or faiss)
kills only this process and the parent sees which case did it.

    python _fuzz_worker.py KIND SOURCE WORKDIR FIRST_SEED LAST_SEED

KIND is ``bm25``, ``hybrid`` (HashEncoder, a fake encoder named as such), ``minilm`` (the real model) or
``cli`` (the ``kbrank search`` command, run through typer's test runner in this process). For each seed:
copy SOURCE, mutate it (`_mutations.mutate`), load it with `Searcher.load`, search every mode and edit the
BM25 index (or run the command). Prints ``CASE <seed> <mutation>`` before a case and ``RESULT <seed>
<outcome>`` after it; outcomes are ``ok``, ``kbrank:<ErrorClass>``, ``exit:<code>`` (cli) or
``FAIL:<exception>`` (anything else is a bug).
"""

from __future__ import annotations

import shutil
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _mutations import mutate  # noqa: E402

from kbrank import Article, KBRankError, Searcher  # noqa: E402


def _encoder(kind: str):
    if kind == "hybrid":
        from _dense_helpers import HashEncoder

        return HashEncoder()
    if kind == "minilm":
        from _dense_helpers import _load_minilm

        return _load_minilm()
    return None


def run_case(kind: str, encoder, source: Path, work: Path, seed: int) -> str:
    case = work / f"case-{seed}"
    shutil.rmtree(case, ignore_errors=True)
    shutil.copytree(source, case)
    print(f"CASE {seed} {mutate(case, seed)}", flush=True)
    if kind == "cli":
        outcome = run_cli(case)
        shutil.rmtree(case, ignore_errors=True)
        return outcome
    try:
        searcher = Searcher.load(case, encoder=encoder)
        for mode in searcher.available_modes():
            for query in ("router wifi reset", "password", "zzz unknown"):
                searcher.search(query, k=5, mode=mode)
        searcher.add([Article(id=f"fuzz-{seed}", title="router reset wifi")])  # an edit on the loaded state
        for mode in searcher.available_modes():
            searcher.search("router", k=3, mode=mode)
        outcome = "ok"
    except KBRankError as exc:
        outcome = f"kbrank:{type(exc).__name__}"
    except Exception as exc:  # noqa: BLE001 - every other exception is what the fuzzer looks for
        outcome = "FAIL:" + "".join(traceback.format_exception_only(type(exc), exc)).strip().replace("\n", " | ")
    shutil.rmtree(case, ignore_errors=True)
    return outcome


def run_cli(case: Path) -> str:
    from typer.testing import CliRunner

    from kbrank.cli import app

    result = CliRunner().invoke(app, ["search", str(case), "router wifi reset", "-k", "3"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        return "FAIL:" + "".join(traceback.format_exception_only(type(exc), exc)).strip().replace("\n", " | ")
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    if "Traceback" in output:
        return "FAIL:traceback printed"
    return f"exit:{result.exit_code}"


def main() -> None:
    kind, source, work, first, last = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), \
        int(sys.argv[5])
    encoder = _encoder(kind)
    for seed in range(first, last + 1):
        outcome = run_case(kind, encoder, source, work, seed)
        print(f"RESULT {seed} {outcome}", flush=True)


if __name__ == "__main__":
    main()
