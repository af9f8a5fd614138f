"""Cold start of ``kbrank search`` on a saved index: wall time and peak memory of a new process, per query.

    python benchmarks/bench_startup.py [--articles 100000] [--runs 7] [--no-hybrid] [--baseline-src DIR]

Method:

- Articles: help-centre-like text (the demo help centre's articles with fresh ids, model numbers, versions
  and error codes, each keeping its applicability), built and saved once into a cache folder (``--cache``,
  by default ``$TMPDIR/kbrank-bench-startup``) and reused by later runs.
- Each run starts a new Python process exactly as the ``kbrank`` console script does
  (``from kbrank.cli import main; main()``) and runs one ``kbrank search INDEX QUERY --json`` (bm25 mode),
  then the same personalized for one customer (``--profile``). Wall time is measured around the process; peak
  resident memory is the child's own high-water mark (``VmHWM``, which the child prints as it exits). The page cache is warm (the index files
  were read before): "cold" means a new process, not a cold disk. Children may write and reuse bytecode
  (``PYTHONDONTWRITEBYTECODE`` is dropped from their environment), as an installed package's modules are
  compiled once, and one untimed round runs first.
- Import time: a process that only runs ``import kbrank.cli``, minus one that runs nothing (``python -c pass``).
- Hybrid (unless ``--no-hybrid``): the same index plus a flat faiss index of **synthetic** article vectors
  (`_synthetic.SyntheticDocumentVectors`, a FAKE document encoder named as one; queries are encoded by the
  real all-MiniLM-L6-v2). The CLI loads only the real model's indexes, so the child runs the same
  ``Searcher.load(...).search(...)`` with that encoder.
- ``--baseline-src DIR`` also runs every child with ``PYTHONPATH=DIR`` (another checkout's ``src``), interleaved
  with this one, so the table gives both in one run (the index format is read by both).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
FORMAT = 2  # bump when the generated corpus or the saved format changes, so cached indexes are rebuilt
QUERIES = ("router firmware update fails", "camera will not pair", "reset my password", "printer error E-402",
           "wifi keeps dropping after update", "change billing address")
#: Every child reports its own peak resident memory (VmHWM, Linux) on exit: ``ru_maxrss`` from ``wait4`` would
#: count the pages of this (large) parent process that the child shares between fork and exec.
PEAK = ("import atexit, sys\n"
        "def _peak():\n"
        "    try:\n"
        "        sys.stderr.write('\\nPEAK_KB ' + open('/proc/self/status').read().split('VmHWM:')[1].split()[0])\n"
        "    except (OSError, IndexError):\n"
        "        pass\n"
        "atexit.register(_peak)\n")
CLI = PEAK + "from kbrank.cli import main; sys.exit(main())"
HYBRID_CHILD = PEAK + """
import json, sys
sys.path.insert(0, {here!r})
from _synthetic import SyntheticDocumentVectors
from kbrank import Searcher
from kbrank.index.encoders import SentenceTransformerEncoder
fake = SyntheticDocumentVectors(SentenceTransformerEncoder(), {{}})  # a FAKE document encoder, real queries
results = Searcher.load(sys.argv[1], encoder=fake).search(sys.argv[2], k=10)
print(json.dumps(results.to_dict()))
"""


def help_centre_articles(n: int, seed: int = 0) -> list[Any]:
    """``n`` articles: demo articles with new ids and a body that adds fresh codes (applicability kept)."""
    from kbrank.datasets import load_helpcentre

    bases = list(load_helpcentre().corpus)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        base, other = rng.choice(bases), rng.choice(bases)
        extra = (f"{other.body.split('. ')[0]}. Seen on X{rng.randrange(100, 999)} firmware "
                 f"{rng.randrange(1, 9)}.{rng.randrange(0, 9)}.{rng.randrange(0, 20)} with E-{rng.randrange(100, 999)}.")
        out.append(dataclasses.replace(base, id=f"s{i}", body=f"{base.body} {extra}"))
    return out


def build_indexes(n: int, cache: Path, hybrid: bool, rebuild: bool) -> dict[str, Path]:
    """The saved bm25 (and hybrid) index of ``n`` articles in ``cache``, built once; build times in the stamp."""
    paths = {"bm25": cache / f"bm25-{n}-v{FORMAT}"}
    if hybrid:
        paths["hybrid"] = cache / f"hybrid-{n}-v{FORMAT}"
    missing = {kind: path for kind, path in paths.items() if rebuild or not (path / "manifest.json").exists()}
    if not missing:
        return paths
    from kbrank import Corpus, Searcher
    from kbrank.index import DenseIndex

    corpus = Corpus(help_centre_articles(n))
    for kind, path in missing.items():
        shutil.rmtree(path, ignore_errors=True)
        started = time.perf_counter()
        if kind == "bm25":
            searcher = Searcher(mode="bm25").build(corpus)
        else:
            sys.path.insert(0, str(HERE))
            from _synthetic import SyntheticDocumentVectors

            from kbrank.index.encoders import SentenceTransformerEncoder

            fake = SyntheticDocumentVectors(SentenceTransformerEncoder(), {})
            searcher = Searcher(mode="hybrid", dense=DenseIndex(fake, passage_words=10_000,
                                                                 passage_stride=10_000)).build(corpus)
        searcher.save(path)
        print(f"built and saved the {kind} index of {n:,} articles in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
    return paths


def run_child(argv: list[str], src: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one new Python process running ``argv`` with ``src`` first."""
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's modules are compiled once, not on every run
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, *argv], stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        errors = err.read().decode()
        if child.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:4])} failed ({child.returncode}): {errors[-2000:]}")
        peak = errors.rpartition("\nPEAK_KB ")[2]
        return wall, (int(peak) if peak.isdigit() else usage.ru_maxrss) / 1024, out.read().decode()


def profile_file(folder: Path) -> Path:
    """One demo customer who consented to personalization, as a JSON file for ``--profile``."""
    path = folder / "customer.json"
    path.write_text(json.dumps({"customer_id": "c1", "region": "eu", "locale": "en-GB",
                                "consents": {"personalization": True},
                                "owned": [{"product": "router-x200", "version": "2.3.1", "platform": "android"}]}))
    return path


def measure(paths: dict[str, Path], sources: dict[str, Path], runs: int, profile: Path) -> dict[str, Any]:
    """Interleaved rounds: in each, every case once per source."""
    cases: dict[str, list[str]] = {"import kbrank.cli": ["-c", PEAK + "import kbrank.cli"],
                                   "python -c pass": ["-c", PEAK]}
    rounds: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in range(-1, runs):  # round -1 warms the bytecode and page caches and is not timed
        query = QUERIES[r % len(QUERIES)]
        cases["bm25"] = ["-c", CLI, "search", str(paths["bm25"]), query, "--json"]
        cases["bm25, personalized"] = ["-c", CLI, "search", str(paths["bm25"]), query, "--json",
                                       "--profile", str(profile)]
        if "hybrid" in paths:
            cases["hybrid (synthetic article vectors)"] = ["-c", HYBRID_CHILD.format(here=str(HERE)),
                                                          str(paths["hybrid"]), query]
        for case, argv in cases.items():
            for name, src in sources.items():
                if name != "this tree" and case.startswith("hybrid"):
                    continue  # the baseline's dense loader may differ; the hybrid row is for this tree only
                wall, rss, output = run_child(argv, src)
                if case.startswith(("bm25", "hybrid")) and not json.loads(output)["results"]:
                    raise RuntimeError(f"{case}: no results for {query!r}")
                if r >= 0:
                    rounds.setdefault((case, name), []).append((wall, rss))
    table: dict[str, Any] = {}
    for (case, name), values in rounds.items():
        table.setdefault(case, {})[name] = {"wall_p50_s": statistics.median(v[0] for v in values),
                                            "wall_min_s": min(v[0] for v in values),
                                            "peak_rss_mb_p50": statistics.median(v[1] for v in values),
                                            "runs": len(values)}
    return table


def markdown(result: dict[str, Any]) -> str:
    sources = result["sources"]
    cases = result["cases"]
    header = "| case | " + " | ".join(f"{name}: wall p50 s (min) | {name}: peak RSS MB" for name in sources) + " |"
    lines = [f"### Cold start: one `kbrank search` in a new process ({result['articles']:,} articles)", "",
             header, "|---|" + "---:|---:|" * len(sources)]
    pass_wall = {name: cases["python -c pass"][name]["wall_p50_s"] for name in sources}
    for case, by_source in cases.items():
        if case == "python -c pass":
            continue
        cells = []
        for name in sources:
            value = by_source.get(name)
            if value is None:
                cells += ["—", "—"]
            elif case == "import kbrank.cli":
                cells += [f"{value['wall_p50_s'] - pass_wall[name]:.2f} (over `python -c pass`)",
                          f"{value['peak_rss_mb_p50']:.0f}"]
            else:
                cells += [f"{value['wall_p50_s']:.2f} ({value['wall_min_s']:.2f})", f"{value['peak_rss_mb_p50']:.0f}"]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    if "baseline" in sources:
        ratios = [f"{case} {by['this tree']['wall_p50_s'] / by['baseline']['wall_p50_s']:.2f}×"
                  for case, by in cases.items() if case.startswith("bm25") and "baseline" in by]
        lines += ["", "Wall time, this tree over the baseline (`" + result["baseline_src"] + "`): " + ", ".join(ratios)
                  + "."]
    load = result["load_average"]
    hybrid = any(case.startswith("hybrid") for case in cases)
    lines += ["", f"{result['runs']} runs per case, interleaved, one query each (rotating over {len(QUERIES)} "
              f"queries), page cache warm. `python -c pass` takes {pass_wall['this tree']:.2f} s. Peak RSS is the "
              "child's own high-water mark (VmHWM)." + (" The hybrid row uses synthetic article vectors (a fake "
              "document encoder) and the real MiniLM query encoder." if hybrid else ""),
              f"Load average (1 min) at start / end: {load[0]:.2f} / {load[1]:.2f} on {result['cpus']} CPUs; "
              f"Python {result['python']}. Command: `python benchmarks/bench_startup.py --articles "
              f"{result['articles']} --runs {result['runs']}" + ("" if hybrid else " --no-hybrid")
              + (f" --baseline-src {result['baseline_src']}" if result["baseline_src"] else "") + "`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-hybrid", dest="hybrid", action="store_false")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "kbrank-bench-startup")
    parser.add_argument("--rebuild", action="store_true", help="Build the cached indexes again.")
    parser.add_argument("--baseline-src", type=Path, help="Another checkout's src, run side by side.")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--no-readme", dest="readme", action="store_false")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    paths = build_indexes(args.articles, args.cache, args.hybrid, args.rebuild)
    sources = {"this tree": REPO / "src"}
    if args.baseline_src is not None:
        sources["baseline"] = args.baseline_src.resolve()
    start_load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        cases = measure(paths, sources, args.runs, profile_file(Path(folder)))
    result = {"articles": args.articles, "runs": args.runs, "cpus": os.cpu_count(), "python": platform.python_version(),
              "load_average": [start_load, os.getloadavg()[0]], "sources": list(sources),
              "baseline_src": str(args.baseline_src) if args.baseline_src else None, "cases": cases}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_startup.json").write_text(json.dumps(result, indent=2))
    table = markdown(result)
    (args.out / "bench_startup.md").write_text(table)
    if args.readme:
        from _readme import update_readme

        update_readme("bench_startup", table)
    print(table)


if __name__ == "__main__":
    main()
