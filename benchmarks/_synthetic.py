"""Synthetic corpora for the benchmarks: Zipfian token corpora and queries for the BM25 benchmark (see
../../shared/PERF-NOTES.md), and help-centre-like articles with FAKE document vectors for the search and
serving benchmarks (`recombined_corpus`, `SyntheticDocumentVectors`, at the end of this module).

Everything is generated as integer arrays with fixed seeds, then converted once into each library's input
form. Word ``r`` (0-based Zipf rank, 0 = most frequent) is the token ``f"w{r}"``.

- corpus: ``n_docs`` articles of 60-120 tokens, tokens drawn from a Zipf law over 50k words;
- ``zipf`` queries: 3-8 distinct words from the same law (most contain a word found in > half the corpus);
- ``stopword_free`` queries: the same, restricted to ranks >= 100 (closer to real help-centre queries).

The query sets do not depend on the corpus size, so every size answers the same queries.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

VOCAB_SIZE = 50_000
ZIPF_EXPONENT = 1.1
DOC_LEN = (60, 120)  # inclusive
QUERY_LEN = (3, 8)  # inclusive
STOPWORD_FREE_MIN_RANK = 100
SEED = 20_250_611
_SAMPLE_CHUNK = 8_000_000  # tokens drawn per step (bounds the float64 scratch to 64 MB)
_CONVERT_CHUNK = 50_000  # articles converted per step


def zipf_cdf(vocab_size: int = VOCAB_SIZE, exponent: float = ZIPF_EXPONENT, min_rank: int = 0) -> np.ndarray:
    """The cumulative distribution over ranks ``min_rank..vocab_size-1`` (p ∝ (rank+1)^-exponent)."""
    weights = np.arange(min_rank + 1, vocab_size + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def sample_ranks(rng: np.random.Generator, cdf: np.ndarray, n: int, min_rank: int = 0) -> np.ndarray:
    """``n`` int32 Zipf ranks by inverse-CDF sampling, in chunks to keep the scratch memory small."""
    out = np.empty(n, dtype=np.int32)
    for start in range(0, n, _SAMPLE_CHUNK):
        stop = min(start + _SAMPLE_CHUNK, n)
        draws = cdf.searchsorted(rng.random(stop - start), side="right")
        np.minimum(draws, cdf.shape[0] - 1, out=draws)
        out[start:stop] = draws + min_rank
    return out


@dataclass(frozen=True)
class SyntheticCorpus:
    """Articles as one flat int32 array of ranks; article ``i`` is ``tokens[offsets[i]:offsets[i+1]]``."""

    tokens: np.ndarray
    offsets: np.ndarray
    vocab_size: int

    @property
    def n_docs(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_tokens(self) -> int:
        return int(self.tokens.shape[0])

    def doc_freqs(self) -> np.ndarray:
        """Number of articles containing each rank (for the query statistics in the report).

        Sorts (article, rank) keys chunk by chunk: ``np.unique`` over all 90M keys of the 1M corpus took 265 s
        here (numpy 2.4), this takes about 2.5 s.
        """
        size = self.vocab_size
        df = np.zeros(size, dtype=np.int64)
        for tokens, bounds in self.chunks():
            doc_of = np.repeat(np.arange(len(bounds) - 1, dtype=np.int64), np.diff(bounds))
            keys = np.sort(doc_of * size + tokens)
            first = np.ones(keys.shape[0], dtype=bool)
            np.not_equal(keys[1:], keys[:-1], out=first[1:])
            df += np.bincount(keys[first] % size, minlength=size)
        return df

    def chunks(self) -> Iterator[tuple[np.ndarray, list[int]]]:
        """Yield (tokens of a run of articles, bounds of each article inside that run)."""
        for start in range(0, self.n_docs, _CONVERT_CHUNK):
            stop = min(start + _CONVERT_CHUNK, self.n_docs)
            lo, hi = int(self.offsets[start]), int(self.offsets[stop])
            yield self.tokens[lo:hi], (self.offsets[start : stop + 1] - lo).tolist()


def make_corpus(n_docs: int, *, seed: int = SEED, vocab_size: int = VOCAB_SIZE,
                exponent: float = ZIPF_EXPONENT) -> SyntheticCorpus:
    rng = np.random.default_rng([seed, n_docs])
    lengths = rng.integers(DOC_LEN[0], DOC_LEN[1] + 1, size=n_docs)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = sample_ranks(rng, zipf_cdf(vocab_size, exponent), int(offsets[-1]))
    return SyntheticCorpus(tokens=tokens, offsets=offsets, vocab_size=vocab_size)


def make_queries(n_queries: int, *, min_rank: int = 0, seed: int = SEED, vocab_size: int = VOCAB_SIZE,
                 exponent: float = ZIPF_EXPONENT) -> list[np.ndarray]:
    """``n_queries`` queries of 3-8 distinct ranks (>= ``min_rank``), independent of the corpus size."""
    rng = np.random.default_rng([seed, 7, min_rank])
    cdf = zipf_cdf(vocab_size, exponent, min_rank)
    queries = []
    for _ in range(n_queries):
        length = int(rng.integers(QUERY_LEN[0], QUERY_LEN[1] + 1))
        picked: list[int] = []
        while len(picked) < length:
            for rank in sample_ranks(rng, cdf, length, min_rank).tolist():
                if rank not in picked and len(picked) < length:
                    picked.append(rank)
        queries.append(np.array(picked, dtype=np.int32))
    return queries


def words(vocab_size: int = VOCAB_SIZE) -> np.ndarray:
    """An object array of the token strings, so conversions share one str object per word."""
    return np.array([f"w{r}" for r in range(vocab_size)], dtype=object)


def token_lists(corpus: SyntheticCorpus, vocab: np.ndarray) -> list[list[str]]:
    """The corpus as ``list[list[str]]`` (what kbrank, rank_bm25 and rank-bm25-rs ingest)."""
    out: list[list[str]] = []
    for tokens, bounds in corpus.chunks():
        flat = vocab[tokens].tolist()
        out.extend(flat[a:b] for a, b in zip(bounds[:-1], bounds[1:]))
    return out


@dataclass(frozen=True)
class CompactIds:
    """Contiguous ids ``0..m-1`` for the ranks present in a corpus, plus an unused id ``m`` for ``""``.

    bm25s indexes its idf array by token id, so ids must be contiguous; the extra empty token is what bm25s
    itself adds (``create_empty_token``) so that a query with no known word still has a valid id.
    """

    of_rank: np.ndarray  # rank -> id, -1 if absent from the corpus
    vocab: dict[str, int]
    empty_id: int

    @classmethod
    def of(cls, corpus: SyntheticCorpus, vocab: np.ndarray) -> CompactIds:
        present = np.flatnonzero(np.bincount(corpus.tokens, minlength=corpus.vocab_size))
        of_rank = np.full(corpus.vocab_size, -1, dtype=np.int64)
        of_rank[present] = np.arange(present.shape[0])
        mapping = dict(zip(vocab[present].tolist(), range(present.shape[0])))
        mapping[""] = int(present.shape[0])
        return cls(of_rank=of_rank, vocab=mapping, empty_id=int(present.shape[0]))

    def id_lists(self, corpus: SyntheticCorpus) -> list[list[int]]:
        """The corpus as ``list[list[int]]`` sharing one int object per id (memory: 8 bytes a token)."""
        pool = np.arange(self.empty_id + 1, dtype=np.int64).astype(object)
        out: list[list[int]] = []
        for tokens, bounds in corpus.chunks():
            flat = pool[self.of_rank[tokens]].tolist()
            out.extend(flat[a:b] for a, b in zip(bounds[:-1], bounds[1:]))
        return out

    def query(self, ranks: np.ndarray) -> list[int]:
        ids = [int(i) for i in self.of_rank[ranks] if i >= 0]
        return ids or [self.empty_id]


# -- help-centre-like articles and their FAKE vectors (bench_search, bench_serve) -----------------------------

def recombined_corpus(n: int, seed: int = 0) -> Any:
    """``n`` articles recombining the demo help centre's paragraphs with fresh model numbers, versions and error
    codes (seeded), so BM25 sees a natural vocabulary. Each keeps its source article's applicability (products,
    versions, platforms, ...), so demo customers' profiles personalize them as they do the demo. The title's
    first token is the source article's id (what `SyntheticDocumentVectors` keys on)."""
    from kbrank import Corpus
    from kbrank.datasets import load_helpcentre

    sources = list(load_helpcentre().corpus)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        base = sources[rng.randrange(len(sources))]
        other = sources[rng.randrange(len(sources))]
        model = f"X{rng.randrange(100, 999)}"
        version = f"{rng.randrange(1, 9)}.{rng.randrange(0, 9)}.{rng.randrange(0, 20)}"
        code = f"E-{rng.randrange(100, 999)}"
        body = f"{base.body} {other.body.split('. ')[0]}. Seen on {model} firmware {version} with {code}."
        out.append(dataclasses.replace(base, id=f"s{i}", title=f"{base.id} {base.title}", body=body, url=""))
    return Corpus(out)


def first_token(text: str) -> str:
    """The anchor of a `recombined_corpus` article: its text starts with the id of its source demo article."""
    return text.split(" ", 1)[0]


class SyntheticDocumentVectors:
    """A FAKE encoder for documents only: real MiniLM for queries, synthetic vectors for articles.

    Encoding 100k articles takes over 20 minutes on 2 cores, so an article's vector is the real vector of the
    demo article it was made from (``anchors[key(text)]``; by default the first token of its text) plus seeded
    Gaussian noise, normalized: clustered like real embeddings, unlike uniform random vectors. Queries are
    always encoded by ``real``. A ``key`` other than `first_token` is part of the fingerprint, so caches never
    mix the vectors of two keys.
    """

    def __init__(self, real: Any, anchors: Mapping[str, np.ndarray], noise: float = 0.35, *,
                 key: Callable[[str], str] = first_token) -> None:
        self.real = real
        self.anchors = anchors
        self.noise = noise
        self.key = key

    @property
    def name(self) -> str:
        return f"synthetic-documents+{self.real.name}"

    @property
    def dim(self) -> int:
        return int(self.real.dim)

    @property
    def fingerprint(self) -> str:
        keyed = "" if self.key is first_token else f"-by-{self.key.__name__}"
        return f"synthetic{keyed}-" + self.real.fingerprint

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.real.encode_queries(texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            source = self.key(text)
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            noise = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            vector = self.anchors.get(source, np.zeros(self.dim, np.float32)) + self.noise * noise / np.sqrt(self.dim)
            out[i] = vector / np.linalg.norm(vector)
        return out


def demo_anchors(encoder: Any) -> dict[str, np.ndarray]:
    """The real vectors of the demo articles (through kbrank's embedding cache, so a re-run does not encode)."""
    from kbrank.datasets import load_helpcentre
    from kbrank.index.embedding_cache import default_embedding_cache_dir, encode_documents

    corpus = load_helpcentre().corpus
    vectors = encode_documents(encoder, [a.text for a in corpus], cache_dir=default_embedding_cache_dir())
    return {a.id: v for a, v in zip(corpus, vectors)}
