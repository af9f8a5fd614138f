"""The hybrid query against its floor, for bench_search (and the loaded searcher bench_serve shares).

The floor is what a hand-assembled stack pays for one query: a bare ``SentenceTransformer.encode`` of the
query plus a bare faiss search (top 10) of the same vectors kbrank holds, in the same process. Each round
times, per query and in a rotating order, the floor at default threads, the floor with one OpenMP thread,
kbrank's hybrid search and kbrank's personalized search (a ProfileView read through the demo gateway for the
customer who asked the query). Ratios are against the floor at default threads: a bare encode as a
hand-assembled stack calls it (kbrank, too, encodes a lone query at default threads).

When torch is imported before faiss (as kbrank and sentence-transformers do), faiss's OpenMP calls bind to
torch's libgomp: one runtime, one per-thread thread count. ``faiss.omp_set_num_threads(1)`` then also runs the
encoder on one thread, so the one-thread floor measures torch at one thread; it shows how much a busy
machine costs a 2-thread encoder.

The encode-versus-corpus-size check times the bare encode right after a bare faiss search over each size
(faiss at its default threads, then at one), interleaved, so the only thing that differs is the index the
previous search touched.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from _synthetic import SyntheticDocumentVectors, recombined_corpus

DEMO_KEY = "kbrank-demo-pseudonymization-key"


def load_average() -> float:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else float("nan")


def publish(name: str, result: dict[str, Any], table: str, out: Path, *, readme: bool) -> None:
    """Write ``name``.json and ``name``.md into ``out``, splice the table into README.md between its markers
    (unless ``readme`` is False), and print it."""
    from _readme import update_readme

    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2))
    (out / f"{name}.md").write_text(table)
    if readme:
        update_readme(name, table)
    print(table)


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1e3
    return {f"p{q}": float(np.percentile(values, q)) for q in (50, 95, 99)}


#: Bump when `recombined_corpus`, the searcher's settings or the saved format change, so cached searchers are rebuilt.
CACHE_FORMAT = 2


def build_searcher(n: int, encoder: Any, anchors: dict[str, np.ndarray], *, index_type: str,
                   log: Callable[..., None] = print, cache: Path | None = None) -> tuple[Any, dict[str, Any]]:
    """A hybrid, personalizing `Searcher` over ``n`` recombined articles with FAKE (synthetic) document vectors.

    With ``cache``, the searcher is saved there once and loaded on later runs (``Searcher.load``, memory-mapped
    BM25 arrays), so a 1M-article build need not share a machine with the timed rounds."""
    from kbrank.datasets import load_helpcentre
    from kbrank.index.dense import DenseIndex
    from kbrank.personalize import Personalizer
    from kbrank.searcher import Searcher

    saved = None if cache is None else cache / f"hybrid-{n}-{index_type}-v{CACHE_FORMAT}"
    if saved is not None and (saved / "manifest.json").exists():
        started = time.perf_counter()
        searcher = Searcher.load(saved, encoder=SyntheticDocumentVectors(encoder, anchors))
        log(f"{n:,} articles: hybrid {index_type} searcher loaded from {saved} in {time.perf_counter() - started:.1f} s "
            f"(load {load_average()})", flush=True)
        built = json.loads(saved.with_suffix(".build.json").read_text())  # the times of the run that built it
        return searcher, {**built, "loaded_from": str(saved)}
    hc = load_helpcentre()
    started = time.perf_counter()
    corpus = recombined_corpus(n)
    made = time.perf_counter() - started
    aliases = {product: [entry["short_name"], entry["name"]] for product, entry in hc.catalog.items()}
    dense = DenseIndex(SyntheticDocumentVectors(encoder, anchors), index_type=index_type, passage_words=10_000,
                       passage_stride=10_000)
    started = time.perf_counter()
    searcher = Searcher(mode="hybrid", dense=dense,
                        personalizer=Personalizer(today=hc.as_of, product_aliases=aliases)).build(corpus)
    built = time.perf_counter() - started
    log(f"{n:,} articles: generated in {made:.1f} s, hybrid {index_type} searcher built in {built:.1f} s "
        f"(load {load_average()})", flush=True)
    if saved is not None:
        searcher.save(saved)
        saved.with_suffix(".build.json").write_text(json.dumps({"generate_s": made, "build_s": built}))
    return searcher, {"generate_s": made, "build_s": built}


def demo_gateway() -> Any:
    """The demo help centre's customers behind a `ProfileGateway` (close it when done)."""
    from kbrank.datasets import load_helpcentre
    from kbrank.privacy import ProfileGateway

    return ProfileGateway.from_helpcentre(load_helpcentre(), key=os.environ.get("KBRANK_KEY", DEMO_KEY))


def demo_views(queries: Sequence[Any], gateway: Any = None) -> dict[str, Any]:
    """customer id -> their ``personalization`` ProfileView, read once through the demo gateway.

    By default the gateway is closed before the views are used, so the personalizer caches nothing derived
    from them: every query builds its customer's plan (a customer's first query). Views read from a live
    ``gateway`` let it cache each plan until erasure (a customer's next queries)."""
    if gateway is None:
        with demo_gateway() as closed_after:
            return demo_views(queries, closed_after)
    return {cid: gateway.read(cid, "personalization", requester="bench_search", degrade=True)
            for cid in sorted({q.customer_id for q in queries})}


def floor_calls(searcher: Any, model: Any) -> dict[str, Callable[[str], Any]]:
    """The floor's two parts as one call each: a bare encode, then a bare faiss top-10 of kbrank's own index."""
    import faiss

    index = searcher.dense_.faiss_index_
    params = None
    if searcher.dense_.index_type == "hnsw":
        params = faiss.SearchParametersHNSW(efSearch=searcher.dense_.ef_search)

    def floor(query: str) -> Any:
        vector = model.encode([query], convert_to_numpy=True, normalize_embeddings=True)
        return index.search(vector, 10) if params is None else index.search(vector, 10, params=params)

    def floor_one_thread(query: str) -> Any:
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return floor(query)
        finally:
            faiss.omp_set_num_threads(before)

    return {"floor": floor, "floor_1t": floor_one_thread}


def against_floor(searcher: Any, model: Any, queries: Sequence[Any], views: dict[str, Any], *,
                  rounds: int, live_views: dict[str, Any] | None = None) -> dict[str, Any]:
    """Interleaved rounds of the floor, kbrank hybrid and kbrank personalized (``views``: every query builds its
    plan), and with ``live_views`` personalized with cached plans; percentiles and p50 ratios."""
    floor = floor_calls(searcher, model)
    calls: dict[str, Callable[[Any], Any]] = {name: (lambda q, f=f: f(q.text)) for name, f in floor.items()}
    calls["hybrid"] = lambda q: searcher.search(q.text, 10)
    personal = [0]

    def personalized(chosen: dict[str, Any]) -> Callable[[Any], None]:
        def search(query: Any) -> None:
            personal[0] += bool(searcher.search(query.text, 10, profile=chosen[query.customer_id]).personalized)
        return search

    calls["personalized"] = personalized(views)
    if live_views is not None:
        calls["personalized_cached"] = personalized(live_views)
    order = list(calls)
    for query in queries:  # warm-up: every customer's plan once (kept for the live views), every code path once
        for name in order:
            calls[name](query)
    times: dict[str, list[float]] = {name: [] for name in order}
    started_load = load_average()
    personal[0] = 0
    for r in range(rounds):
        for i, query in enumerate(queries):
            shift = (r + i) % len(order)
            for name in order[shift:] + order[:shift]:
                t0 = time.perf_counter()
                calls[name](query)
                times[name].append(time.perf_counter() - t0)
    out: dict[str, Any] = {name: percentiles(v) for name, v in times.items()}
    out.update(ratios(out))
    searches = rounds * len(queries) * (2 if live_views is not None else 1)
    out["personalized_share"] = personal[0] / searches
    out["load_average"] = {"start": started_load, "end": load_average()}
    return out


def ratios(stats: dict[str, Any]) -> dict[str, float]:
    """p50 ratios against the floor at default threads (a bare encode as a hand-assembled stack calls it)."""
    out = {"ratio_hybrid": stats["hybrid"]["p50"] / stats["floor"]["p50"],
           "ratio_personalized": stats["personalized"]["p50"] / stats["floor"]["p50"]}
    if "personalized_cached" in stats:
        out["ratio_personalized_cached"] = stats["personalized_cached"]["p50"] / stats["floor"]["p50"]
    return out


def encode_after_search(model: Any, indexes: dict[int, Any], texts: Sequence[str], *, rounds: int) -> dict[str, Any]:
    """Bare encode p50/p95 right after a bare faiss search over each corpus size (faiss default threads, and 1)."""
    import faiss

    default = faiss.omp_get_max_threads()
    times: dict[str, list[float]] = {}
    for _ in range(rounds):
        for text in texts:
            vector = model.encode([text], convert_to_numpy=True, normalize_embeddings=True)
            for threads in (default, 1):
                for n, index in indexes.items():
                    faiss.omp_set_num_threads(threads)
                    index.search(vector, 10)
                    faiss.omp_set_num_threads(default)
                    t0 = time.perf_counter()
                    model.encode([text], convert_to_numpy=True, normalize_embeddings=True)
                    times.setdefault(f"{n}/{threads}", []).append(time.perf_counter() - t0)
    return {"faiss_default_threads": default, "load_average": load_average(),
            "encode_ms": {key: percentiles(v) for key, v in times.items()}}


def profile_search(searcher: Any, queries: Sequence[Any], views: dict[str, Any], top: int = 25) -> str:
    """cProfile of kbrank's hybrid and personalized searches over ``queries``: the top functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for query in queries:
        searcher.search(query.text, 10)
        searcher.search(query.text, 10, profile=views[query.customer_id])
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats("tottime").print_stats(top)
    return stream.getvalue()
