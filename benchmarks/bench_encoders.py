"""Encoder backends side by side: torch, ONNX Runtime and int8 ONNX for all-MiniLM-L6-v2.

    python benchmarks/bench_encoders.py [--passages 300] [--rounds 3] [--queries 100]
                                        [--dev-queries 100] [--distractors 400] [--full] [--out benchmarks/results]
                                        [--no-readme]

Method (one process, one run; the backends take turns in every round):

- Throughput: the same real SciFact passages (128 words every 96, title before later passages: the library
  default) for every backend, from a seeded sample of SciFact articles (about ``--passages`` distinct
  passage texts). Each round times, for each backend, a bare ``SentenceTransformer.encode`` of the distinct
  passage texts with the encoder's batch size (32), and ``DenseIndex.build`` of the same articles through a
  fresh, empty embedding cache (splitting, hashing, cache writes and the faiss index included). The ratio is
  build passages/s over bare passages/s (target >= 0.95). Medians over the rounds; the order of the two
  alternates between rounds.
- Query latency: the demo help centre's customer queries, one at a time through ``encode_queries``, each
  backend in a block of all of them, blocks rotated over the rounds (`measure_queries` says why not round-robin
  per query); p50 and p95 after a warm-up.
- Agreement: cosine of each backend's vectors with torch's, on the throughput passages and the queries.
- Effectiveness: dense nDCG@10 (trec_eval's) on the BEIR dev splits (SciFact train, NFCorpus dev; see
  `_effectiveness_settings.DATASETS`), with the library's dense defaults. Encoding both corpora with each
  backend takes hours on a busy 2-core machine, so by default each data set is a **seeded subset**:
  ``--dev-queries`` dev queries (seed 0), every document judged for them, and ``--distractors`` other
  documents (seed 0). ``--full`` uses every dev query and the whole corpus. Vectors go through kbrank's
  embedding cache (one folder per backend fingerprint), so a re-run encodes nothing new.

The ONNX models are exported offline from the packaged weights into kbrank's cache on first use (the export
time is reported). The default backend rule: a backend may be the default only if it loses <= 0.005 nDCG@10
against torch on the dev splits.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _effectiveness_settings import BEIR_DIR, CACHE_DIR, DATASETS, DENSE_PARAMS, load  # noqa: E402

from kbrank import Corpus  # noqa: E402
from kbrank.datasets import load_helpcentre  # noqa: E402
from kbrank.evaluation import evaluate  # noqa: E402
from kbrank.index import DenseIndex, SentenceTransformerEncoder  # noqa: E402
from kbrank.index.passages import PassageSplitter  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("torch", "onnx", "onnx-int8")


def distinct_passages(corpus: Corpus) -> list[str]:
    """The distinct passage texts `DenseIndex.build` encodes for ``corpus`` with the library defaults."""
    splitter = PassageSplitter(words=DENSE_PARAMS["passage_words"], stride=DENSE_PARAMS["passage_stride"],
                               title=DENSE_PARAMS["passage_title"])
    return list(dict.fromkeys(t for a in corpus for t in splitter.texts(a, splitter.spans(a))))


def throughput_corpus(n_passages: int) -> Corpus:
    """A seeded sample of SciFact articles holding about ``n_passages`` distinct passages."""
    articles = list(Corpus.from_beir(BEIR_DIR / "scifact"))
    random.Random(0).shuffle(articles)
    chosen, count = [], 0
    for article in articles:
        if count >= n_passages:
            break
        chosen.append(article)
        count += len(distinct_passages(Corpus([article])))
    return Corpus(chosen)


def load_encoders(backends: list[str]) -> tuple[dict[str, SentenceTransformerEncoder], dict[str, float]]:
    encoders, seconds = {}, {}
    for name in backends:
        started = time.perf_counter()
        encoder = SentenceTransformerEncoder(backend=name)
        encoder.fingerprint  # noqa: B018 - load (and export, the first time) now
        seconds[name] = time.perf_counter() - started
        encoders[name] = encoder
    return encoders, seconds


def measure_throughput(encoders: dict[str, Any], corpus: Corpus, rounds: int) -> dict[str, Any]:
    texts = distinct_passages(corpus)
    timings: dict[str, dict[str, list[float]]] = {n: {"bare": [], "build": []} for n in encoders}
    vectors: dict[str, np.ndarray] = {}
    for encoder in encoders.values():  # warm-up: one small call each
        encoder.model_.encode(texts[:8], batch_size=encoder.batch_size)
    for round_number in range(rounds):
        for name, encoder in encoders.items():
            order = ("bare", "build") if round_number % 2 == 0 else ("build", "bare")
            for what in order:
                started = time.perf_counter()
                if what == "bare":
                    vectors[name] = encoder.model_.encode(texts, batch_size=encoder.batch_size,
                                                          convert_to_numpy=True, normalize_embeddings=True)
                else:
                    with tempfile.TemporaryDirectory() as cache:
                        index = DenseIndex(encoder, cache_dir=cache, **DENSE_PARAMS).build(corpus)
                    if index.n_vectors != len(texts):
                        raise RuntimeError(f"build encoded {index.n_vectors} texts, the bare call {len(texts)}")
                timings[name][what].append(len(texts) / (time.perf_counter() - started))
    out: dict[str, Any] = {"passages": len(texts), "articles": len(corpus)}
    for name, runs in timings.items():
        bare, build = statistics.median(runs["bare"]), statistics.median(runs["build"])
        out[name] = {"bare_per_s": bare, "build_per_s": build, "ratio": build / bare,
                     "ratios": [b / a for a, b in zip(runs["bare"], runs["build"])],
                     "rounds_bare": runs["bare"], "rounds_build": runs["build"]}
    out["vectors"] = vectors
    return out


def measure_queries(encoders: dict[str, Any], queries: list[str], rounds: int = 3) -> dict[str, Any]:
    """Short-query latency, each backend timed over all the queries in a block, blocks in rotated order over
    ``rounds``. Alternating backends query by query was dropped: onnxruntime's and torch's idle threads spin
    for a while after each call and slow the other backend's next one (here torch took 26.6 ms p50 alternated
    with onnx, against 13.1 ms alone; onnx 10.0 against 6.1)."""
    times: dict[str, list[float]] = {n: [] for n in encoders}
    vectors: dict[str, list[np.ndarray]] = {n: [] for n in encoders}
    names = list(encoders)
    for encoder in encoders.values():
        for text in queries[:10]:
            encoder.encode_queries([text])
    for round_ in range(rounds):
        for name in names[round_ % len(names):] + names[: round_ % len(names)]:
            encoder = encoders[name]
            encoder.encode_queries([queries[0]])  # the block's first call pays any switch from the last backend
            for text in queries:
                started = time.perf_counter()
                vector = encoder.encode_queries([text])
                times[name].append(1000 * (time.perf_counter() - started))
                if round_ == 0:
                    vectors[name].append(vector[0])
    return {name: {"p50_ms": float(np.percentile(t, 50)), "p95_ms": float(np.percentile(t, 95)),
                   "vectors": np.array(vectors[name])} for name, t in times.items()}


def dev_subset(name: str, dev_queries: int, distractors: int, full: bool) -> tuple[Corpus, dict, dict, str]:
    """(corpus, queries, qrels, description) of the dev split of ``name``, or of its seeded subset."""
    data = load(BEIR_DIR, name, "dev")
    query_ids = sorted(data.queries)
    if not full and dev_queries < len(query_ids):
        query_ids = sorted(random.Random(0).sample(query_ids, dev_queries))
    qrels = {q: dict(data.qrels[q]) for q in query_ids}
    if full:
        return data.corpus, {q: data.queries[q] for q in query_ids}, qrels, \
            f"all {len(query_ids)} {data.split} queries, all {len(data.corpus):,} documents"
    judged = {d for q in query_ids for d in qrels[q]}
    others = sorted(a.id for a in data.corpus if a.id not in judged)
    keep = judged | set(random.Random(0).sample(others, min(distractors, len(others))))
    corpus = Corpus([a for a in data.corpus if a.id in keep])
    n_judged = sum(a.id in judged for a in corpus)
    description = (f"{len(query_ids)} of {len(data.queries)} {data.split} queries (seed 0), the {n_judged} documents "
                   f"judged for them and {len(corpus) - n_judged} others (seed 0), {len(corpus):,} of "
                   f"{len(data.corpus):,} documents")
    return corpus, {q: data.queries[q] for q in query_ids}, qrels, description


def measure_ndcg(encoders: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in DATASETS:
        if not (BEIR_DIR / name).exists():
            continue
        corpus, queries, qrels, description = dev_subset(name, args.dev_queries, args.distractors, args.full)
        figures: dict[str, Any] = {"description": description}
        for backend, encoder in encoders.items():
            started = time.perf_counter()
            index = DenseIndex(encoder, cache_dir=CACHE_DIR, **DENSE_PARAMS).build(corpus)
            run = {}
            for query_id, text in queries.items():
                hits = index.search(text, k=10)
                run[query_id] = {corpus[int(r)].id: float(s) for r, s in zip(hits.rows, hits.scores)}
            figures[backend] = float(evaluate(qrels, run, ["ndcg@10"], missing="zero").mean("ndcg@10"))
            figures[f"{backend}_seconds"] = time.perf_counter() - started
        out[name] = figures
    return out


def _cosines(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    values = np.einsum("ij,ij->i", np.asarray(a, np.float64), np.asarray(b, np.float64))
    return float(values.min()), float(values.mean())


def markdown(result: dict[str, Any]) -> str:
    t, q, nd = result["throughput"], result["queries"], result["ndcg"]
    names = [n for n in BACKENDS if n in q]
    lines = ["### Encoder backends (all-MiniLM-L6-v2; one process, backends side by side)", "",
             f"Throughput on {t['passages']} SciFact passages ({t['articles']} articles, 128 words every 96), "
             f"batch size 32, median of {result['rounds']} rounds; short-query latency over "
             f"{result['n_queries']} demo help-centre queries, one at a time, each backend in a block of all of "
             f"them ({result['rounds']} rounds, blocks in rotated order).", "",
             "| backend | bare encode passages/s | `DenseIndex.build` passages/s | build / bare | query p50 ms "
             "| query p95 ms | cosine to torch, passages min / mean | queries min | "
             + " | ".join(f"{d} dev nDCG@10 (Δ vs torch)" for d in nd) + " | first load s |",
             "|---|---|---|---|---|---|---|---|" + "---|" * len(nd) + "---|"]
    for name in names:
        row = t[name]
        cells = [name, f"{row['bare_per_s']:.1f}", f"{row['build_per_s']:.1f}", f"{row['ratio']:.3f}",
                 f"{q[name]['p50_ms']:.1f}", f"{q[name]['p95_ms']:.1f}",
                 f"{result['agreement'][name]['passages_min']:.6f} / {result['agreement'][name]['passages_mean']:.6f}",
                 f"{result['agreement'][name]['queries_min']:.6f}"]
        for d in nd.values():
            delta = d[name] - d["torch"] if "torch" in d else float("nan")
            cells.append(f"{d[name]:.4f}" + ("" if name == "torch" else f" ({delta:+.4f})"))
        cells.append(f"{result['load_seconds'][name]:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Effectiveness data: " + "; ".join(f"{d}: {v['description']}" for d, v in nd.items()) + "."]
    if not result["full"]:
        lines.append("On a subset the absolute nDCG@10 is higher than on the full corpus; compare the backends with "
                     "each other. `--full` runs the whole dev splits.")
    lines += ["",
              f"Load average (1 min) at start / end: {result['machine']['load_start']:.2f} / "
              f"{result['machine']['load_end']:.2f} on {result['machine']['cpus']} CPUs. First load includes the "
              "one-time ONNX export (and int8 quantization) into kbrank's cache when it was not there yet.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--dev-queries", type=int, default=100)
    parser.add_argument("--distractors", type=int, default=400)
    parser.add_argument("--full", action="store_true", help="every dev query and the whole corpora")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--no-readme", dest="readme", action="store_false", help="do not update README.md")
    args = parser.parse_args()
    if "torch" not in args.backends:
        parser.error("--backends must include torch (the reference for agreement and nDCG deltas)")
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "load_start": os.getloadavg()[0]}
    encoders, load_seconds = load_encoders(args.backends)
    throughput = measure_throughput(encoders, throughput_corpus(args.passages), args.rounds)
    queries = [query.text for query in load_helpcentre().queries[: args.queries]]
    query_figures = measure_queries(encoders, queries, args.rounds)
    agreement = {}
    for name in encoders:
        p_min, p_mean = _cosines(throughput["vectors"][name], throughput["vectors"]["torch"])
        q_min, _ = _cosines(query_figures[name]["vectors"], query_figures["torch"]["vectors"])
        agreement[name] = {"passages_min": p_min, "passages_mean": p_mean, "queries_min": q_min}
    ndcg = measure_ndcg(encoders, args)
    machine["load_end"] = os.getloadavg()[0]
    throughput.pop("vectors")
    for figures in query_figures.values():
        figures.pop("vectors")
    result = {"machine": machine, "rounds": args.rounds, "n_queries": len(queries), "full": args.full,
              "load_seconds": load_seconds, "throughput": throughput, "queries": query_figures,
              "agreement": agreement, "ndcg": ndcg}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_encoders.json").write_text(json.dumps(result, indent=2))
    table = markdown(result)
    (args.out / "bench_encoders.md").write_text(table)
    if args.readme:
        from _readme import update_readme

        update_readme("bench_encoders", table)
    print(table)


if __name__ == "__main__":
    main()
