"""A hybrid query against its floor at 10k, 100k and 1M articles (HNSW at 1M), and whether query encoding
depends on the corpus size.

    python benchmarks/bench_search.py [--sizes 10000 100000 1000000] [--queries 100] [--rounds 3]
                                      [--hnsw-from 1000000] [--profile] [--scifact-recall] [--no-readme]
                                      [--cache DIR [--build-only]]

Method (one process, one run, interleaved rounds; see benchmarks/_floor.py):

- Articles: help-centre-like text recombined from the bundled demo help centre with fresh model numbers,
  versions and error codes (seeded), each keeping its source article's applicability (`_synthetic`).
- Document vectors are **synthetic** (`SyntheticDocumentVectors`, a named fake): the real MiniLM vector of
  the source demo article plus seeded noise, since encoding 100k articles takes over 20 minutes on 2 cores.
  Every query is encoded by the real all-MiniLM-L6-v2.
- Floor: a bare ``SentenceTransformer.encode`` of the query plus a bare faiss top-10 of the same index,
  with faiss at its default OpenMP threads and at one thread; ratios use the floor at default threads.
- kbrank: ``Searcher.search(query, 10)`` (hybrid: BM25 + dense, RRF, depth 500) and the same with the
  asking customer's ProfileView from the demo gateway (personalized), twice: views that outlive their
  (closed) gateway, so no plan is cached and every personalized query builds its customer's plan over all
  articles (the cost of a customer's first query), and views from a live gateway, whose plans the
  personalizer caches after the warm-up (a customer's next queries).
- Encode check: the bare encode timed right after a faiss search over each size, faiss threads default / 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np
from _faiss_recall import quantization_recall, scifact_recall
from _floor import (
    against_floor,
    build_searcher,
    demo_gateway,
    demo_views,
    encode_after_search,
    load_average,
    profile_search,
    ratios,
)
from _floor import publish as write_results
from _synthetic import demo_anchors

from kbrank.datasets import load_helpcentre
from kbrank.index.encoders import SentenceTransformerEncoder

REPO = Path(__file__).resolve().parents[1]


def _cell(stats: dict) -> str:
    return f"{stats['p50']:.1f} / {stats['p95']:.1f} / {stats['p99']:.1f}"


def markdown(result: dict) -> str:
    lines = ["### A hybrid query against its floor (single query, top-10; ms p50 / p95 / p99)", "",
             "Floor: a bare `SentenceTransformer.encode` plus a bare faiss top-10 of the same vectors, timed in the "
             "same process and rounds; ratios are p50 against the floor at default threads, as a hand-assembled stack calls the encoder (kbrank "
             "too encodes a lone query at default threads, then runs its dense and BM25 searches one after the other). The "
             "1-thread floor runs torch and faiss on one OpenMP thread (they share torch's libgomp), which shows "
             "what a busy machine costs a 2-thread encoder. Article vectors are synthetic (real MiniLM vectors of demo articles plus noise); every "
             "query is encoded by the real all-MiniLM-L6-v2. Personalized: the asking customer's profile from the "
             "demo gateway; *first query* builds the customer's plan on every query, *next queries* reuse the plan "
             "the personalizer cached for them (views from a live gateway).", "",
             "| articles | index | floor | floor, 1 OpenMP thread | kbrank hybrid | personalized, first query "
             "| personalized, next queries | hybrid ÷ floor | personalized ÷ floor (first / next) | load avg (start–end) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for size in result["sizes"]:
        f = {**size["floor"], **ratios(size["floor"])}
        cached = f.get("personalized_cached")
        lines.append(f"| {size['articles']:,} | {size['index_type']} | {_cell(f['floor'])} | {_cell(f['floor_1t'])} | "
                     f"{_cell(f['hybrid'])} | {_cell(f['personalized'])} | {_cell(cached) if cached else '—'} | "
                     f"**{f['ratio_hybrid']:.2f}×** | **{f['ratio_personalized']:.2f}×** / "
                     + (f"**{f['ratio_personalized_cached']:.2f}×**" if cached else "—")
                     + f" | {f['load_average']['start']:.1f}–{f['load_average']['end']:.1f} |")
    enc = result.get("encode_after_search")  # absent from a partial run
    if enc:
        lines += ["", f"Query encoding right after a bare faiss search over each corpus size (ms p50 / p95 / p99; load "
                  f"{enc['load_average']:.1f}). The encode always runs at default threads; the columns differ in the "
                  f"threads faiss searched with just before it (default {enc['faiss_default_threads']}, or 1). Compare "
                  "down a column: a column that grows with the size would mean the corpus slows the encoder.", "",
                  "| faiss index searched before the encode | faiss at default threads | faiss at 1 thread |",
                  "|---|---|---|"]
        default = enc["faiss_default_threads"]
        for n in sorted({int(key.split("/")[0]) for key in enc["encode_ms"]}):
            lines.append(f"| {n:,} vectors | {_cell(enc['encode_ms'][f'{n}/{default}'])} | "
                         f"{_cell(enc['encode_ms'][f'{n}/1'])} |")
    lines += ["", "Personalized, first query: every query builds its customer's plan (the hide mask and, up to 250,000 "
              "articles, a delta per article; above that the deltas are computed for the candidates); the views come from a closed gateway, so no plan is cached. Next queries: the same "
              "customers through a live gateway, whose plans the personalizer keeps (bounded by bytes, emptied by "
              "erasure)."]
    lines += ["", "| articles | searcher build s (BM25 + faiss over synthetic vectors + personalizer) |", "|---|---|"]
    for size in result["sizes"]:
        lines.append(f"| {size['articles']:,} | {size['build']['build_s']:.1f} |")
    q = result.get("quantization")
    if q:
        lines += ["", f"Approximate faiss indexes against exact search ({q['data']}, {q['vectors']:,} vectors):", "",
                  "| index | recall@10 vs flat | ms per query |", "|---|---|---|"]
        for name in ("sq8", "fp16", "hnsw32"):
            lines.append(f"| {name} | {q[name]['recall_at_10']:.3f} | {q[name]['ms_per_query']:.3f} |")
    lines += ["", f"{result['machine']['cpus']} CPUs, Python {result['machine']['python']}; load average (1 min) at "
              f"the start {result['machine']['load_average_at_start']:.1f}. Re-run on a quiet machine for final "
              "figures: `python benchmarks/bench_search.py`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hnsw-from", type=int, default=1_000_000, help="use HNSW from this many articles up")
    parser.add_argument("--profile", action="store_true", help="write a cProfile of kbrank's searches per size")
    parser.add_argument("--scifact-recall", action="store_true", help="recall on SciFact (needs its embeddings)")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--render", type=Path, help="only re-render the table of a saved bench_search.json")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--cache", type=Path, help="save each size's searcher here once and load it on later runs")
    parser.add_argument("--build-only", action="store_true", help="with --cache: build and save, time nothing")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render:
        return publish(json.loads(args.render.read_text()), args)
    hc = load_helpcentre()
    encoder = SentenceTransformerEncoder()
    model = encoder.model_
    anchors = demo_anchors(encoder)
    queries = list(hc.queries[: args.queries])
    views = demo_views(queries)
    gateway = demo_gateway()  # kept open: the personalizer may cache the plans of these views
    live_views = demo_views(queries, gateway)
    result: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "load_average_at_start": load_average()}, "sizes": []}
    indexes = {}
    for n in args.sizes:
        kind = "hnsw" if n >= args.hnsw_from else "flat"
        searcher, build = build_searcher(n, encoder, anchors, index_type=kind, cache=args.cache)
        if args.build_only:
            continue
        floor = against_floor(searcher, model, queries, views, rounds=args.rounds, live_views=live_views)
        print(f"{n:,}: hybrid {floor['ratio_hybrid']:.2f}x, personalized {floor['ratio_personalized']:.2f}x "
              f"(next queries {floor['ratio_personalized_cached']:.2f}x) the floor ({floor['floor']['p50']:.1f} / {floor['floor_1t']['p50']:.1f} ms; load {load_average()})",
              flush=True)
        result["sizes"].append({"articles": n, "index_type": kind, "build": build, "floor": floor})
        if args.profile:
            (args.out / f"bench_search_profile_{n}.txt").write_text(profile_search(searcher, queries, views))
        indexes[n] = searcher.dense_.faiss_index_
        del searcher
        (args.out / "bench_search.json").write_text(json.dumps(result, indent=2))  # kept if a later size fails
    if args.build_only:
        return None
    texts = [q.text for q in queries[:50]]
    result["encode_after_search"] = encode_after_search(model, indexes, texts, rounds=max(1, args.rounds - 1))
    vectors = np.asarray(list(anchors.values()), np.float32)
    result["quantization"] = (scifact_recall(REPO, encoder) if args.scifact_recall else None) or \
        quantization_recall(vectors, encoder.encode_queries([q.text for q in hc.queries[:300]]),
                            "demo help centre articles")
    (args.out / "bench_search.json").write_text(json.dumps(result, indent=2))
    publish(result, args)


def publish(result: dict, args: argparse.Namespace) -> None:
    write_results("bench_search", result, markdown(result), args.out, readme=not args.no_readme)


if __name__ == "__main__":
    main()
