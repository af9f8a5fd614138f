"""Adapters that give every BM25 implementation the same four operations for the benchmark.

- ``build(inputs)``: index from pre-tokenized input, in the library's fastest documented ingestion form;
- ``prepare(query)``: turn a query (ranks + token strings) into the library's native query form, untimed;
- ``search(native)``: top-10 of one query as ``(rows, scores)``, best first;
- ``search_batch(natives)``: the same for many queries through the library's batch API (or a thread pool
  where the library has none but releases the GIL), ``None`` if there is no parallel path.

Rows are article positions in the input order. Libraries that return full score vectors (rank_bm25,
rank-bm25-rs) get the same negate-partition-sort top-k (see PERF-NOTES "top-k idiom pitfall").
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import _synthetic as syn
import numpy as np

K = 10
THREADS = os.cpu_count() or 1
Hits = tuple[np.ndarray, np.ndarray]
# Bytes of dense score rows rank-bm25-rs materialises per get_scores_many call (at least one row per core).
# Small chunks stay in cache: at 100k articles 4-8 MiB chunks ran 3-6x faster than 256 MiB ones.
_MATRIX_BUDGET = 8 * 2**20


def top_k_dense(scores: np.ndarray, k: int = K) -> Hits:
    """Best ``k`` of a full score vector: partition the negated scores, then sort only the survivors."""
    k = min(k, scores.shape[0])
    rows = np.argpartition(-scores, k - 1)[:k]
    rows = rows[np.lexsort((rows, -scores[rows]))]
    return rows, scores[rows]


def top_k_rows(matrix: np.ndarray, k: int = K) -> list[Hits]:
    k = min(k, matrix.shape[1])
    part = np.argpartition(-matrix, k - 1, axis=1)[:, :k]
    out = []
    for row, cand in zip(matrix, part):
        cand = cand[np.lexsort((cand, -row[cand]))]
        out.append((cand, row[cand]))
    return out


def _array_bytes(*objects: Any) -> int:
    """Bytes held by the numpy arrays among the attributes (or dict values) of ``objects``."""
    total = 0
    for obj in objects:
        values = obj.values() if isinstance(obj, dict) else vars(obj).values()
        total += sum(v.nbytes for v in values if isinstance(v, np.ndarray))
    return total


@dataclass
class Inputs:
    """Pre-tokenized corpus in every form the systems ingest; each form is built once, on first use."""

    corpus: syn.SyntheticCorpus
    vocab: np.ndarray
    _cache: dict[str, Any] = field(default_factory=dict)

    def _get(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    @property
    def token_lists(self) -> list[list[str]]:
        return self._get("token_lists", lambda: syn.token_lists(self.corpus, self.vocab))

    @property
    def compact_ids(self) -> syn.CompactIds:
        return self._get("compact_ids", lambda: syn.CompactIds.of(self.corpus, self.vocab))

    @property
    def id_lists(self) -> list[list[int]]:
        return self._get("id_lists", lambda: self.compact_ids.id_lists(self.corpus))

    @property
    def joined(self) -> list[str]:
        return self._get("joined", lambda: [" ".join(doc) for doc in self.token_lists])

    def release(self) -> None:
        self._cache.clear()


class System:
    name = ""
    batch_kind = "none"  # "library batch API", "thread pool over search", or "none"
    max_queries: int | None = None  # cap on timed queries (slow reference implementations)
    max_docs: int | None = None  # sizes above this are skipped
    needs: tuple[str, ...] = ()  # Inputs forms to prepare before any build (keeps RSS deltas clean)
    notes = ""

    def build(self, inputs: Inputs) -> None:
        raise NotImplementedError

    def prepare(self, ranks: np.ndarray, tokens: list[str]) -> Any:
        return tokens

    def search(self, query: Any) -> Hits:
        raise NotImplementedError

    def search_batch(self, queries: Sequence[Any]) -> list[Hits] | None:
        return None

    def array_bytes(self) -> int | None:
        return None

    def version(self) -> str:
        return ""


class KBRank(System):
    name = "kbrank"
    batch_kind = f"library batch API (search_tokens_batch, n_threads={THREADS})"
    needs = ("token_lists",)
    notes = ("BM25Index.build_from_tokens; search_tokens(k=10); uint8/uint16 counts by term, weights computed "
             "in the kernel in float64, bit-identical to rank_bm25")

    def build(self, inputs: Inputs) -> None:
        from kbrank import BM25Index

        self.index = BM25Index().build_from_tokens(inputs.token_lists)

    def search(self, query: list[str]) -> Hits:
        found = self.index.search_tokens(query, k=K)
        return found.rows, found.scores

    def search_batch(self, queries: Sequence[list[str]]) -> list[Hits]:
        return [(found.rows, found.scores) for found in self.index.search_tokens_batch(queries, k=K, n_threads=THREADS)]

    def array_bytes(self) -> int:
        return self.index.state_.nbytes()

    def version(self) -> str:
        import kbrank

        return kbrank.__version__


class RankBM25(System):
    name = "rank_bm25"
    max_queries = 20
    max_docs = 100_000
    needs = ("token_lists",)
    notes = "BM25Okapi(token_lists); get_scores + top-k; reference implementation, no batch API"

    def build(self, inputs: Inputs) -> None:
        from rank_bm25 import BM25Okapi

        self.model = BM25Okapi(inputs.token_lists)

    def scores(self, query: list[str]) -> np.ndarray:
        return self.model.get_scores(query)

    def search(self, query: list[str]) -> Hits:
        return top_k_dense(self.model.get_scores(query))

    def version(self) -> str:
        from importlib.metadata import version

        return version("rank-bm25")


class BM25S(System):
    batch_kind = f"library batch API (retrieve, n_threads={THREADS})"
    needs = ("id_lists",)

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.name = f"bm25s_{backend}"
        self.notes = (f"BM25(method='robertson', backend={backend!r}).index(Tokenized(ids, vocab)); "
                      "retrieve(list of id lists); float32; negative IDF clamped to 0, no (k1+1) factor")

    def build(self, inputs: Inputs) -> None:
        import bm25s
        from bm25s.tokenization import Tokenized

        ids = inputs.compact_ids
        self.ids = ids
        self.model = bm25s.BM25(method="robertson", backend=self.backend)
        self.model.index(Tokenized(ids=inputs.id_lists, vocab=ids.vocab), show_progress=False)

    def prepare(self, ranks: np.ndarray, tokens: list[str]) -> list[int]:
        return self.ids.query(ranks)

    def search(self, query: list[int]) -> Hits:
        found = self.model.retrieve([query], k=K, show_progress=False)
        return found.documents[0], found.scores[0]

    def search_batch(self, queries: Sequence[list[int]]) -> list[Hits]:
        found = self.model.retrieve(list(queries), k=K, show_progress=False, n_threads=THREADS)
        return list(zip(found.documents, found.scores))

    def array_bytes(self) -> int:
        extra = self.model.nonoccurrence_array
        return _array_bytes(self.model.scores) + (0 if extra is None else extra.nbytes)

    def version(self) -> str:
        import bm25s

        return bm25s.__version__


class RankBM25RS(System):
    name = "rank_bm25_rs"
    batch_kind = "library batch API (get_scores_many, all cores) + top-k"
    needs = ("token_lists",)
    notes = "rank_bm25_rs.BM25Okapi(token_lists) (Rust build); get_scores + top-k; bit-identical to rank_bm25"

    def build(self, inputs: Inputs) -> None:
        from rank_bm25_rs import BM25Okapi

        self.model = BM25Okapi(inputs.token_lists)
        self.n_docs = inputs.corpus.n_docs

    def search(self, query: list[str]) -> Hits:
        return top_k_dense(self.model.get_scores(query))

    def search_batch(self, queries: Sequence[list[str]]) -> list[Hits]:
        step = max(THREADS, _MATRIX_BUDGET // (8 * self.n_docs))
        out: list[Hits] = []
        for start in range(0, len(queries), step):
            out.extend(top_k_rows(self.model.get_scores_many(list(queries[start : start + step]))))
        return out

    def version(self) -> str:
        from importlib.metadata import version

        return version("rank-bm25-rs")


class Tantivy(System):
    name = "tantivy"
    batch_kind = f"thread pool ({THREADS}) over search (releases the GIL)"
    needs = ("joined",)
    notes = ("in-RAM index, whitespace tokenizer, index_option='freq', row as i64 fast field; prebuilt "
             "BooleanQuery of Should term queries; Lucene BM25 (k1=1.2) with quantised norms")

    def build(self, inputs: Inputs) -> None:
        import tantivy

        builder = tantivy.SchemaBuilder()
        builder.add_text_field("body", tokenizer_name="whitespace", index_option="freq")
        builder.add_integer_field("row", fast=True)
        self.schema = builder.build()
        self.index = tantivy.Index(self.schema)
        writer = self.index.writer(heap_size=1_000_000_000, num_threads=0)
        document = tantivy.Document
        for row, text in enumerate(inputs.joined):
            writer.add_document(document(body=text, row=row))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()

    def prepare(self, ranks: np.ndarray, tokens: list[str]) -> Any:
        import tantivy

        should = tantivy.Occur.Should
        return tantivy.Query.boolean_query(
            [(should, tantivy.Query.term_query(self.schema, "body", t)) for t in tokens])

    def search(self, query: Any) -> Hits:
        hits = self.searcher.search(query, K, count=False).hits
        if not hits:
            return np.empty(0, np.int64), np.empty(0)
        rows = self.searcher.fast_field_values("row", [address for _, address in hits])
        return np.asarray(rows, dtype=np.int64), np.array([score for score, _ in hits])

    def search_batch(self, queries: Sequence[Any]) -> list[Hits]:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            return list(pool.map(self.search, queries))

    def version(self) -> str:
        from importlib.metadata import version

        return version("tantivy")


FACTORIES: dict[str, Callable[[], System]] = {
    "kbrank": KBRank,
    "rank_bm25": RankBM25,
    "bm25s_numpy": lambda: BM25S("numpy"),
    "bm25s_numba": lambda: BM25S("numba"),
    "rank_bm25_rs": RankBM25RS,
    "tantivy": Tantivy,
}
