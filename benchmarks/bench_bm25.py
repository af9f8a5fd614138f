"""BM25 side by side: kbrank against rank_bm25, bm25s (numpy, numba), rank-bm25-rs and tantivy.

    python benchmarks/bench_bm25.py [--sizes 10000 100000 1000000] [--queries 300] [--out benchmarks/results]
    python benchmarks/bench_bm25.py --quick --systems kbrank rank_bm25 bm25s_numpy   # smoke test, < 60 s
    python benchmarks/bench_bm25.py --sizes 10000 100000 --no-memory   # skip the memory subprocesses

Method (one process, one run, every size):

1. A synthetic Zipfian corpus and two query sets with fixed seeds (`_synthetic`): ``zipf`` queries (most contain
   a word found in more than half the articles) and ``stopword_free`` queries (Zipf ranks >= 100).
2. Each system indexes the same pre-tokenized articles in its fastest documented ingestion form (`_systems`);
   build time is wall time, memory is the RSS growth across the build (after ``gc.collect`` + ``malloc_trim``,
   input kept alive) and, where the index is plain numpy arrays, their byte size.
3. After a warm-up (a tiny index built and queried by every system first, so imports and numba compilation
   stay out of build times; then a few queries per size), each repeat runs every system in a rotated order: a loop of
   single top-10 queries (one thread), then all queries at once through the batch API with all cores.
   Figures are medians over the repeats. Slow systems time fewer queries (``--budget``); the count is
   reported, and QPS is queries / seconds either way.
4. Agreement: each system's top-10 against rank_bm25's (score desc, ties by lower row, articles with score
   > 0), at sizes up to ``--reference-max-docs`` on every query, above it on rank_bm25's timed queries.

5. Memory (unless ``--no-memory``), for kbrank and bm25s (numba), each step in a fresh subprocess
   (`_bm25_memory`): build time, peak build RSS and bytes on disk of the saved index; then RSS after
   loading it memory-mapped and after running both query sets once.

rank_bm25 is not run above 100k articles (one query takes seconds there); the table says so.

Writes ``bench_bm25.json`` (raw figures + machine info) and ``bench_bm25.md`` to ``--out``, and the markdown
into README.md between ``<!-- bench_bm25:start -->`` and ``<!-- bench_bm25:end -->`` if both exist
(``--render JSON`` redoes only this step from a saved result).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import hashlib
import json
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _synthetic as syn
import _systems as systems
from _report import render_markdown, update_readme

log = logging.getLogger("bench_bm25")
REPO = Path(__file__).resolve().parents[1]
QUERY_SETS = ("zipf", "stopword_free")


# -- measurement helpers ---------------------------------------------------------------------------
def _trim() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _load() -> float | None:
    """The 1-minute load average: other processes on the machine make every figure noisier."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # peak, not current


def time_single(system: systems.System, natives: list[Any]) -> tuple[float, list[float]]:
    clock = time.perf_counter
    latencies = []
    start = clock()
    for query in natives:
        t0 = clock()
        system.search(query)
        latencies.append(clock() - t0)
    return clock() - start, latencies


def time_batch(system: systems.System, natives: list[Any]) -> float | None:
    start = time.perf_counter()
    out = system.search_batch(natives)
    return None if out is None else time.perf_counter() - start


def timed_count(system: systems.System, natives: list[Any], budget: float, floor: int) -> int:
    """How many queries to time: all, unless the system has a cap or would exceed ``budget`` seconds."""
    n = len(natives) if system.max_queries is None else min(len(natives), system.max_queries)
    pilot = natives[: min(5, n)]
    seconds, _ = time_single(system, pilot)
    per_query = seconds / max(len(pilot), 1)
    if per_query * n > budget:
        n = min(n, max(floor, int(budget / per_query)))
    return n


# -- agreement with rank_bm25 ------------------------------------------------------------------------
def agreement(ref_scores: list[np.ndarray], hits: list[systems.Hits], frequent: list[bool]) -> dict[str, Any]:
    """Top-10 agreement with the reference score vectors (rows with score > 0 only, on both sides)."""
    k = systems.K
    flags: dict[str, list[bool]] = {"set_equal": [], "order_equal": [], "valid_top10": []}
    overlap = []
    for scores, (rows, got_scores) in zip(ref_scores, hits):
        positive = np.flatnonzero(scores > 0)
        ref = positive[np.lexsort((positive, -scores[positive]))][:k]
        got = np.asarray(rows, dtype=np.int64)[np.asarray(got_scores) > 0][:k]
        kth = scores[ref[-1]] if ref.size else np.inf
        flags["set_equal"].append(set(ref.tolist()) == set(got.tolist()))
        flags["order_equal"].append(ref.tolist() == got.tolist())
        flags["valid_top10"].append(got.size == ref.size and np.unique(got).size == got.size
                                    and bool(np.all(scores[got] >= kth)))
        overlap.append(len(set(ref.tolist()) & set(got.tolist())) / ref.size if ref.size else 1.0)
    freq = np.array(frequent, dtype=bool)
    out: dict[str, Any] = {"n_queries": len(overlap), "mean_overlap": float(np.mean(overlap))}
    for key, values in flags.items():
        arr = np.array(values, dtype=bool)
        out[key] = float(arr.mean())
        out[f"{key}_with_frequent_word"] = float(arr[freq].mean()) if freq.any() else None
        out[f"{key}_without_frequent_word"] = float(arr[~freq].mean()) if (~freq).any() else None
    return out


def warm_up(names: list[str], vocab: np.ndarray, query_ranks: dict[str, list[np.ndarray]]) -> None:
    """Build and query a tiny index with every system: imports and JIT compilation stay out of the figures."""
    if any(name.startswith("bm25s") for name in names):
        import bm25s  # noqa: F401  (it sets its logger to DEBUG on import; quieten it afterwards)

        logging.getLogger("bm25s").setLevel(logging.WARNING)
    inputs = systems.Inputs(syn.make_corpus(500), vocab)
    for name in names:
        system = systems.FACTORIES[name]()
        system.build(inputs)
        for ranks in query_ranks.values():
            natives = [system.prepare(r, vocab[r].tolist()) for r in ranks[:8]]
            for query in natives:
                system.search(query)
            system.search_batch(natives)
    _trim()


# -- one corpus size ---------------------------------------------------------------------------------
def run_size(n_docs: int, names: list[str], query_ranks: dict[str, list[np.ndarray]], vocab: np.ndarray,
             args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    corpus = syn.make_corpus(n_docs)
    df = corpus.doc_freqs()
    frequent = {name: [bool((df[q] > n_docs / 2).any()) for q in qs] for name, qs in query_ranks.items()}
    record: dict[str, Any] = {
        "n_docs": n_docs, "n_tokens": corpus.n_tokens, "n_terms": int((df > 0).sum()),
        "terms_df_over_half": int((df > n_docs / 2).sum()), "terms_df_over_5pct": int((df > n_docs / 20).sum()),
        "queries_with_word_df_over_half": {k: float(np.mean(v)) for k, v in frequent.items()},
        "systems": {}, "skipped": {}, "load_average_1m": {"start": _load()},
    }
    runners = []
    for name in names:
        system = systems.FACTORIES[name]()
        if system.max_docs is not None and n_docs > system.max_docs:
            record["skipped"][name] = f"not run above {system.max_docs:,} articles (too slow)"
        else:
            runners.append(system)
    inputs = systems.Inputs(corpus, vocab)
    gc.disable()  # millions of small lists: the cyclic GC would make building them super-linear
    try:
        for need in sorted({need for s in runners for need in s.needs}):
            getattr(inputs, need)
    finally:
        gc.enable()
    gc.collect()
    gc.freeze()  # the harness's input lists are not the libraries' garbage: keep them out of GC scans
    log.info("%s articles: corpus and inputs ready in %.1f s", f"{n_docs:,}", time.perf_counter() - t0)

    for system in runners:
        _trim()
        before = rss_bytes()
        builds = []
        for attempt in range(args.repeats):
            start = time.perf_counter()
            system.build(inputs)
            builds.append(time.perf_counter() - start)
            if attempt == 0:
                _trim()
                rss_delta = rss_bytes() - before
            if builds[0] > args.rebuild_under:
                break
        record["systems"][system.name] = {
            "build_s": builds, "build_s_median": statistics.median(builds), "rss_delta_bytes": rss_delta,
            "array_bytes": system.array_bytes(), "batch_kind": system.batch_kind, "notes": system.notes,
            "version": system.version(), "sets": {},
        }
        log.info("  %-13s built in %.2f s (RSS +%.0f MiB)", system.name, builds[0], rss_delta / 2**20)

    words = {name: [vocab[q].tolist() for q in qs] for name, qs in query_ranks.items()}
    natives = {s.name: {qs: [s.prepare(r, w) for r, w in zip(query_ranks[qs], words[qs])] for qs in QUERY_SETS}
               for s in runners}
    counts: dict[tuple[str, str], int] = {}
    for system in runners:  # warm up (compilation, caches), then size the timed query lists
        for qs in QUERY_SETS:
            for query in natives[system.name][qs][:3]:
                system.search(query)
            system.search_batch(natives[system.name][qs][:8])
            counts[system.name, qs] = timed_count(system, natives[system.name][qs], args.budget, args.min_queries)

    single: dict[tuple[str, str], list[tuple[float, list[float]]]] = {key: [] for key in counts}
    batch: dict[tuple[str, str], list[float]] = {key: [] for key in counts}
    for rep in range(args.repeats):
        shift = rep % len(runners)
        for system in runners[shift:] + runners[:shift]:
            for qs in QUERY_SETS:
                chosen = natives[system.name][qs][: counts[system.name, qs]]
                seconds, lat = time_single(system, chosen)
                single[system.name, qs].append((len(chosen) / seconds, lat))
                seconds_batch = time_batch(system, chosen)
                if seconds_batch is not None:
                    batch[system.name, qs].append(len(chosen) / seconds_batch)
        log.info("  repeat %d/%d done", rep + 1, args.repeats)

    for (name, qs), runs in single.items():
        qps = [q for q, _ in runs]
        median_run = sorted(runs, key=lambda r: r[0])[len(runs) // 2][1]
        record["systems"][name]["sets"][qs] = {
            "n_timed": counts[name, qs], "n_queries": len(query_ranks[qs]),
            "single_qps": qps, "single_qps_median": statistics.median(qps),
            "single_latency_ms_p50": 1e3 * float(np.percentile(median_run, 50)),
            "single_latency_ms_p95": 1e3 * float(np.percentile(median_run, 95)),
            "batch_qps": batch[name, qs], "batch_qps_median": statistics.median(batch[name, qs]) if batch[name, qs]
            else None,
        }

    reference = next((s for s in runners if s.name == "rank_bm25"), None)
    if reference is not None:
        for qs in QUERY_SETS:
            n_ref = len(query_ranks[qs]) if n_docs <= args.reference_max_docs else counts["rank_bm25", qs]
            ref_scores = [reference.scores(w) for w in words[qs][:n_ref]]
            for system in runners:
                hits = [system.search(q) for q in natives[system.name][qs][:n_ref]]
                record["systems"][system.name]["sets"][qs]["agreement"] = agreement(
                    ref_scores, hits, frequent[qs][:n_ref])
            del ref_scores

    del runners, natives
    inputs.release()
    gc.unfreeze()
    _trim()
    if args.memory and (args.memory_max_docs is None or n_docs <= args.memory_max_docs):
        record["memory"] = measure_memory(n_docs, [n for n in names if n in MEMORY_SYSTEMS], args)
    record["load_average_1m"]["end"] = _load()
    record["wall_s"] = time.perf_counter() - t0
    log.info("%s articles done in %.0f s", f"{n_docs:,}", record["wall_s"])
    return record


MEMORY_SYSTEMS = ("kbrank", "bm25s_numba")


def measure_memory(n_docs: int, names: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """`_bm25_memory` build then load, each in a fresh subprocess, one system after the other."""
    import subprocess
    import tempfile

    script = Path(__file__).resolve().parent / "_bm25_memory.py"
    out: dict[str, Any] = {}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with tempfile.TemporaryDirectory(prefix="bench_bm25_") as tmp:
        for name in names:
            figures: dict[str, Any] = {"load_average_1m": _load()}
            for step in ("build", "load"):
                done = subprocess.run([sys.executable, str(script), step, name, str(n_docs), str(Path(tmp) / name)],
                                      capture_output=True, text=True, env=env, timeout=args.memory_timeout)
                if done.returncode != 0:
                    figures["error"] = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
                    break
                figures.update(json.loads(done.stdout.strip().splitlines()[-1]))
            out[name] = figures
            log.info("  memory %-12s %s", name, {k: v for k, v in figures.items() if k != "load_average_1m"})
    return out


# -- machine info and CLI ----------------------------------------------------------------------------
def _file_digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else None


def machine_info() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    packages = {}
    for name in ("kbrank", "numpy", "scipy", "numba", "rank-bm25", "rank-bm25-rs", "bm25s", "tantivy"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    kernel = REPO / "src" / "kbrank" / "index"
    return {
        "cpu_count": os.cpu_count(), "cpu_model": cpu, "python": sys.version.split()[0],
        "platform": platform.platform(), "packages": packages,
        "kbrank_source_sha256_16": {p: _file_digest(kernel / p) for p in ("bm25.py", "_bm25_kernels.py")},
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=300, help="queries per query set (default 300)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds; medians are reported")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds one single-query loop may take before its query count is capped")
    parser.add_argument("--min-queries", type=int, default=20, help="floor for a capped query count")
    parser.add_argument("--rebuild-under", type=float, default=2.0,
                        help="rebuild up to --repeats times when one build takes less than this (s)")
    parser.add_argument("--reference-max-docs", type=int, default=10_000,
                        help="largest size at which agreement uses every query (above: rank_bm25's timed ones)")
    parser.add_argument("--systems", nargs="+", choices=sorted(systems.FACTORIES), default=list(systems.FACTORIES))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--quick", action="store_true", help="10k articles, 50 queries, 1 repeat (smoke test)")
    parser.add_argument("--no-readme", action="store_true", help="do not update README.md")
    parser.add_argument("--no-memory", dest="memory", action="store_false",
                        help="skip the memory/disk/build subprocesses (kbrank and bm25s numba)")
    parser.add_argument("--memory-timeout", type=float, default=1800.0, help="seconds per memory subprocess")
    parser.add_argument("--memory-max-docs", type=int, help="run the memory subprocesses only up to this size")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="only re-render the markdown (and README) from an existing bench_bm25.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.queries, args.repeats, args.budget = [10_000], min(args.queries, 50), 1, 5.0
        args.memory = False
        args.no_readme = True
    if min(args.sizes) < systems.K or args.queries < 1 or args.repeats < 1:
        parser.error(f"--sizes must be >= {systems.K}, --queries and --repeats >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.render is not None:
        return write_markdown(json.loads(args.render.read_text()), args)
    started = time.perf_counter()
    vocab = syn.words()
    query_ranks = {"zipf": syn.make_queries(args.queries),
                   "stopword_free": syn.make_queries(args.queries, min_rank=syn.STOPWORD_FREE_MIN_RANK)}
    warm_up(args.systems, vocab, query_ranks)
    result: dict[str, Any] = {
        "machine": machine_info(),
        "config": {"sizes": args.sizes, "queries": args.queries, "repeats": args.repeats, "budget_s": args.budget,
                   "systems": args.systems, "k": systems.K, "threads": systems.THREADS, "quick": args.quick,
                   "vocab_size": syn.VOCAB_SIZE, "zipf_exponent": syn.ZIPF_EXPONENT, "doc_len": syn.DOC_LEN,
                   "query_len": syn.QUERY_LEN, "stopword_free_min_rank": syn.STOPWORD_FREE_MIN_RANK,
                   "seed": syn.SEED, "command": " ".join(["python", "benchmarks/bench_bm25.py", *sys.argv[1:]])},
        "sizes": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for n_docs in args.sizes:
        result["sizes"].append(run_size(n_docs, args.systems, query_ranks, vocab, args))
        result["wall_s"] = time.perf_counter() - started
        (args.out / "bench_bm25.json").write_text(json.dumps(result, indent=1))  # keep partial results
        (args.out / "bench_bm25.md").write_text(render_markdown(result))
    log.info("wrote %s in %.0f s", args.out / "bench_bm25.json", time.perf_counter() - started)
    return write_markdown(result, args)


def write_markdown(result: dict[str, Any], args: argparse.Namespace) -> int:
    markdown = render_markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_bm25.md").write_text(markdown)
    log.info("wrote %s", args.out / "bench_bm25.md")
    if not args.no_readme and update_readme(REPO / "README.md", markdown):
        log.info("README.md updated between the bench_bm25 markers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
