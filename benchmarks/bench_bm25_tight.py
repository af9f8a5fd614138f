"""BM25 single-query QPS in a tight loop: kbrank against its peers, side by side in one process.

    python benchmarks/bench_bm25_tight.py [--sizes 10000 100000] [--queries 2000] [--repeats 7] [--cpu]
        [--systems kbrank bm25s_numba rank_bm25_rs tantivy]

A quick check of the single-query figures of `bench_bm25` (which also measures builds, batches, memory and
agreement): the same synthetic corpus, query sets and adapters (`_systems`), but only a timeit-style loop of
top-10 queries per system and query set, alternating the system order across repeats, best (minimum) time of
the repeats. ``--cpu`` times with the thread's CPU clock (``time.thread_time``) instead of wall time, which
keeps time lost to other processes on a busy machine out of the figures (shared caches still count). Prints
one line per query set with each system's QPS and kbrank's ratio to the fastest peer, and the load average.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _synthetic as syn
import _systems as systems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cpu", action="store_true", help="the thread's CPU time instead of wall time")
    parser.add_argument("--systems", nargs="+", choices=sorted(systems.FACTORIES),
                        default=["kbrank", "bm25s_numba", "rank_bm25_rs", "tantivy"])
    args = parser.parse_args(argv)
    if "kbrank" not in args.systems or len(args.systems) < 2:
        parser.error("--systems needs kbrank and at least one peer")
    clock = time.thread_time if args.cpu else time.perf_counter
    if any(name.startswith("bm25s") for name in args.systems):
        import bm25s  # noqa: F401  (it sets its logger to DEBUG on import)

        logging.getLogger("bm25s").setLevel(logging.WARNING)
    vocab = syn.words()
    ranks = {"zipf": syn.make_queries(args.queries),
             "stopword_free": syn.make_queries(args.queries, min_rank=syn.STOPWORD_FREE_MIN_RANK)}
    for n_docs in args.sizes:
        inputs = systems.Inputs(syn.make_corpus(n_docs), vocab)
        runners = [systems.FACTORIES[name]() for name in args.systems]
        for system in runners:
            system.build(inputs)
        natives = {s.name: {qs: [s.prepare(r, vocab[r].tolist()) for r in rs] for qs, rs in ranks.items()}
                   for s in runners}
        for system in runners:  # warm-up: compilation, caches
            for queries in natives[system.name].values():
                for query in queries[:50]:
                    system.search(query)
        gc.collect()
        best: dict[tuple[str, str], float] = {}
        for rep in range(args.repeats):
            for system in runners if rep % 2 == 0 else runners[::-1]:
                search = system.search
                for qs, queries in natives[system.name].items():
                    start = clock()
                    for query in queries:
                        search(query)
                    seconds = clock() - start
                    best[system.name, qs] = min(best.get((system.name, qs), float("inf")), seconds)
        print(f"{n_docs:,} articles, {args.queries} queries, best of {args.repeats}, "
              f"clock {clock.__name__}, load average {os.getloadavg()[0]:.2f}")
        for qs in ranks:
            qps = {s.name: args.queries / best[s.name, qs] for s in runners}
            peer = max((name for name in qps if name != "kbrank"), key=qps.__getitem__)
            cells = " | ".join(f"{name} {value:,.0f}" for name, value in qps.items())
            print(f"  {qs:14s} {cells} | kbrank / {peer} = {qps['kbrank'] / qps[peer]:.2f}")
        del runners, natives
        inputs.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
