"""Single-query latency of bm25, dense and hybrid search at 10k and 100k articles, broken down by stage.

    python benchmarks/bench_search.py [--sizes 10000 100000] [--queries 200] [--out benchmarks/results]

Method (one process, one run, stages timed side by side):

- Articles: help-centre-like text, made by recombining the paragraphs of the bundled demo help centre
  with fresh model numbers, versions and error codes (seeded), so BM25 sees a natural vocabulary.
- Queries: the demo help centre's customer queries (natural text), encoded for real by all-MiniLM-L6-v2.
- Document vectors: encoding 100k articles takes over 20 minutes on 2 cores, so the article vectors are
  **synthetic**: the real MiniLM vectors of the 795 demo articles plus seeded Gaussian noise, normalized
  (clustered like real embeddings, unlike uniform random vectors). `SyntheticDocumentVectors` is that fake,
  named as one; queries are always encoded by the real model. The table says so.
- Stages: query encoding (the encoder's forward pass), BM25, dense (faiss search, and kbrank's
  wrapper around it), fusion (RRF of two top-100 lists), and the rest. "kbrank overhead" is everything
  but the encoder's forward pass and faiss's own search; the target is <= 10% of a hybrid query.
- Also: corpus encoding throughput (real model, 500 demo articles), index build times, and the recall@10 of
  scalar-quantized faiss indexes (SQ8, fp16) and HNSW against exact search, on SciFact's real vectors
  when ``../shared/data/beir/scifact`` and the embedding cache are there (else on the demo vectors).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

import numpy as np

from kbrank import Article, BM25Index, Corpus
from kbrank.datasets import load_helpcentre
from kbrank.index.dense import DenseIndex
from kbrank.index.encoders import SentenceTransformerEncoder
from kbrank.retrieval.fusion import fuse
from kbrank.retrieval.hybrid import HybridRetriever

REPO = Path(__file__).resolve().parents[1]


class SyntheticDocumentVectors:
    """A FAKE encoder for documents only: real MiniLM for queries, synthetic vectors for articles.

    An article's vector is the real vector of the demo article it was recombined from, plus seeded noise.
    """

    def __init__(self, real: SentenceTransformerEncoder, anchors: dict[str, np.ndarray], noise: float = 0.35):
        self.real = real
        self.anchors = anchors
        self.noise = noise

    @property
    def name(self) -> str:
        return f"synthetic-documents+{self.real.name}"

    @property
    def dim(self) -> int:
        return self.real.dim

    @property
    def fingerprint(self) -> str:
        return "synthetic-" + self.real.fingerprint

    def encode_queries(self, texts):
        return self.real.encode_queries(texts)

    def encode_documents(self, texts):
        out = np.empty((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            source = text.split(" ", 1)[0]
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            noise = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            vector = self.anchors.get(source, np.zeros(self.dim, np.float32)) + self.noise * noise / np.sqrt(self.dim)
            out[i] = vector / np.linalg.norm(vector)
        return out


def recombined_corpus(n: int, seed: int = 0) -> Corpus:
    """``n`` articles whose text recombines demo paragraphs with fresh codes; the first token names the source."""
    hc = load_helpcentre()
    rng = random.Random(seed)
    sources = list(hc.corpus)
    out = []
    for i in range(n):
        base = sources[rng.randrange(len(sources))]
        other = sources[rng.randrange(len(sources))]
        model = f"X{rng.randrange(100, 999)}"
        version = f"{rng.randrange(1, 9)}.{rng.randrange(0, 9)}.{rng.randrange(0, 20)}"
        code = f"E-{rng.randrange(100, 999)}"
        body = f"{base.body} {other.body.split('. ')[0]}. Seen on {model} firmware {version} with {code}."
        out.append(Article(id=f"s{i}", title=f"{base.id} {base.title}", body=body))
    return Corpus(out)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1e3, q))


def measure_size(n: int, queries: list[str], encoder: SentenceTransformerEncoder, anchors: dict) -> dict:
    corpus = recombined_corpus(n)
    started = time.perf_counter()
    bm25 = BM25Index().build(corpus)
    bm25_build = time.perf_counter() - started
    fake = SyntheticDocumentVectors(encoder, anchors)
    started = time.perf_counter()
    dense = DenseIndex(fake, passage_words=10_000, passage_stride=10_000).build(corpus)
    dense_build = time.perf_counter() - started  # synthetic vectors: this is faiss + bookkeeping, not encoding
    hybrid = HybridRetriever(bm25, dense, depth=100)
    stages = {name: [] for name in ("encode", "bm25", "faiss", "dense_wrapper", "fusion", "hybrid_total",
                                    "bm25_total", "dense_total")}
    faiss_index = dense.faiss_index_
    for query in queries[:3]:  # warm-up
        hybrid.search(query, 10)
    for query in queries:
        t0 = time.perf_counter()
        vector = encoder.encode_queries([query])
        t1 = time.perf_counter()
        faiss_index.search(vector, 100)
        t2 = time.perf_counter()
        dense_hits = dense.search(vector[0], 100)
        t3 = time.perf_counter()
        bm25_hits = bm25.search(query, 100)
        t4 = time.perf_counter()
        fuse({"bm25": bm25_hits, "dense": dense_hits}, 10)
        t5 = time.perf_counter()
        hybrid.search(query, 10)
        t6 = time.perf_counter()
        bm25.search(query, 10)
        t7 = time.perf_counter()
        dense.search(query, 10)
        t8 = time.perf_counter()
        stages["encode"].append(t1 - t0)
        stages["faiss"].append(t2 - t1)
        stages["dense_wrapper"].append(max(0.0, (t3 - t2) - (t2 - t1)))
        stages["bm25"].append(t4 - t3)
        stages["fusion"].append(t5 - t4)
        stages["hybrid_total"].append(t6 - t5)
        stages["bm25_total"].append(t7 - t6)
        stages["dense_total"].append(t8 - t7)
    medians = {k: statistics.median(v) * 1e3 for k, v in stages.items()}
    overhead = medians["hybrid_total"] - medians["encode"] - medians["faiss"]
    return {
        "articles": n, "passages": dense.n_passages, "bm25_build_s": bm25_build, "dense_index_build_s": dense_build,
        "median_ms": medians, "p99_ms": {k: _pct(v, 99) for k, v in stages.items()},
        "p50_ms": {k: _pct(v, 50) for k, v in stages.items()},
        "kbrank_overhead_ms": overhead, "kbrank_overhead_share": overhead / medians["hybrid_total"],
    }


def quantization_recall(vectors: np.ndarray, queries: np.ndarray, label: str) -> dict:
    import faiss

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    _, truth = flat.search(queries, 10)
    out = {"data": label, "vectors": int(vectors.shape[0])}
    for name, factory in (("sq8", "SQ8"), ("fp16", "SQfp16"), ("hnsw32", "HNSW32")):
        index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.add(vectors)
        if name == "hnsw32":
            index.hnsw.efSearch = 128
        started = time.perf_counter()
        _, got = index.search(queries, 10)
        elapsed = (time.perf_counter() - started) / len(queries)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got.tolist(), truth.tolist())])
        out[name] = {"recall_at_10": float(recall), "ms_per_query": elapsed * 1e3}
    return out


def encoding_throughput(encoder: SentenceTransformerEncoder, texts: list[str]) -> float:
    encoder.encode_documents(texts[:16])
    started = time.perf_counter()
    encoder.encode_documents(texts)
    return len(texts) / (time.perf_counter() - started)


def markdown(result: dict) -> str:
    lines = ["### Search latency (single query, top-10, milliseconds; median / p99)", "",
             "Article vectors at these sizes are synthetic (real MiniLM vectors of demo articles plus noise); "
             "every query is encoded by the real all-MiniLM-L6-v2. Exact (flat) faiss search.", "",
             "| articles | bm25 | dense | hybrid | query encoding | faiss search | BM25 (depth 100) | fusion (RRF) "
             "| kbrank overhead (share of hybrid) |", "|---|---|---|---|---|---|---|---|---|"]
    for size in result["sizes"]:
        m, p = size["median_ms"], size["p99_ms"]
        lines.append(
            f"| {size['articles']:,} | {m['bm25_total']:.2f} / {p['bm25_total']:.2f} | {m['dense_total']:.2f} / "
            f"{p['dense_total']:.2f} | {m['hybrid_total']:.2f} / {p['hybrid_total']:.2f} | {m['encode']:.2f} | "
            f"{m['faiss']:.2f} | {m['bm25']:.2f} | {m['fusion']:.3f} | {size['kbrank_overhead_ms']:.2f} "
            f"({100 * size['kbrank_overhead_share']:.1f}%) |")
    lines += ["", "| articles | BM25 build s | faiss build s (flat, synthetic vectors) |", "|---|---|---|"]
    for size in result["sizes"]:
        lines.append(f"| {size['articles']:,} | {size['bm25_build_s']:.1f} | {size['dense_index_build_s']:.1f} |")
    lines += ["", f"Load average (1 min) when the run started: {result['machine']['load_average_at_start']:.1f} on "
              f"{result['machine']['cpus']} CPUs; a busy machine slows the query encoder most.", "",
              f"Corpus encoding throughput (real model, 2 cores, demo articles): "
              f"**{result['encoding_docs_per_s']:.0f} articles/s**.", ""]
    q = result["quantization"]
    lines += [f"Approximate faiss indexes against exact search ({q['data']}, {q['vectors']:,} vectors):", "",
              "| index | recall@10 vs flat | ms per query |", "|---|---|---|"]
    for name in ("sq8", "fp16", "hnsw32"):
        lines.append(f"| {name} | {q[name]['recall_at_10']:.3f} | {q[name]['ms_per_query']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    hc = load_helpcentre()
    encoder = SentenceTransformerEncoder()
    anchors_vectors = encoder.encode_documents([a.text for a in hc.corpus])
    anchors = {a.id: v for a, v in zip(hc.corpus, anchors_vectors)}
    queries = [q.text for q in hc.queries[: args.queries]]
    result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_average_at_start": os.getloadavg()[0]},
              "sizes": [measure_size(n, queries, encoder, anchors) for n in args.sizes]}
    result["encoding_docs_per_s"] = encoding_throughput(encoder, [a.text for a in hc.corpus][:500])
    query_vectors = encoder.encode_queries(queries)
    result["quantization"] = quantization_recall(np.asarray(anchors_vectors, np.float32),
                                                 np.asarray(query_vectors, np.float32), "demo help centre articles")
    scifact = REPO.parent / "shared" / "data" / "beir" / "scifact"
    if scifact.exists():
        from effectiveness import CACHE_DIR, DENSE_PARAMS  # the effectiveness run's passages and cache

        sci = Corpus.from_beir(scifact)
        dense = DenseIndex(cache_dir=CACHE_DIR, **DENSE_PARAMS).build(sci)
        texts = [json.loads(line)["text"] for line in (scifact / "queries.jsonl").read_text().splitlines()][:300]
        result["quantization"] = quantization_recall(np.asarray(dense.vectors(), np.float32),
                                                     encoder.encode_queries(texts), "SciFact passages")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_search.json").write_text(json.dumps(result, indent=2))
    table = markdown(result)
    (args.out / "bench_search.md").write_text(table)
    from _readme import update_readme

    update_readme("bench_search", table)
    print(table)


if __name__ == "__main__":
    main()
