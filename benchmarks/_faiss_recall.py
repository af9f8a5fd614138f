"""Recall@10 of approximate faiss indexes (SQ8, fp16, HNSW) against exact search, for bench_search."""

from __future__ import annotations

import time

import numpy as np


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


def scifact_recall(repo, encoder) -> dict | None:
    """The same on SciFact's real passage vectors, when the data and the effectiveness run's cache are there."""
    import json

    scifact = repo.parent / "shared" / "data" / "beir" / "scifact"
    if not scifact.exists():
        return None
    from effectiveness import CACHE_DIR, DENSE_PARAMS  # the effectiveness run's passages and cache

    from kbrank import Corpus
    from kbrank.index.dense import DenseIndex

    dense = DenseIndex(cache_dir=CACHE_DIR, **DENSE_PARAMS).build(Corpus.from_beir(scifact))
    texts = [json.loads(line)["text"] for line in (scifact / "queries.jsonl").read_text().splitlines()][:300]
    return quantization_recall(np.asarray(dense.vectors(), np.float32), encoder.encode_queries(texts),
                               "SciFact passages")
