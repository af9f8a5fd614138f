"""`DenseIndex`: semantic retrieval over passages with faiss; an article scores as its best passage.

Data flow inside: ``Corpus -> PassageSplitter (word windows, char offsets) -> Encoder (through the
EmbeddingCache) -> faiss index (ids = passage rows) -> passage hits -> best passage per article``.

Row-aligned arrays carry everything: ``passages_.article_rows[p]`` is passage ``p``'s article row and
``passages_.starts[p]:passages_.ends[p]`` its span of ``article.text``. Each distinct passage text is
encoded once and stored once in faiss, so passages with the same text score exactly alike on any CPU
(`kbrank.index.dense_state`). Filters are applied inside faiss before the top-k (see `dense_faiss`); the
ranking of a state is `kbrank.index.dense_search`. Ties are broken by row.

Edits (`add`, `update`, `remove`) encode only passage texts the index does not hold yet (every unchanged
vector is reused, wherever its passage moved), then rebuild the faiss structure in the new row order, which
equals a full rebuild: rows shift on `remove` exactly as they would.

All fitted state is one immutable `DenseState` (``state_``), replaced in one assignment by a build or an
edit; a search reads it once.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

import numpy as np

from .._params import built_state, check_int
from ..candidates import Candidates, check_k
from ..corpus import Article, Corpus
from ..errors import ParameterError, suggestion
from . import dense_faiss
from .dense_search import top_articles, top_passages
from .dense_state import DenseState, first_occurrences, text_digests
from .embedding_cache import Progress, encode_documents
from .encoders import Encoder, SentenceTransformerEncoder, checked_vectors
from .passages import PassageHits, Passages, PassageSplitter

_MAX_HNSW_M = 1024
_MAX_EF = 1_000_000

__all__ = ["DenseIndex"]


class DenseIndex:
    """Dense retrieval of articles (and their passages) with an `Encoder` and faiss.

    >>> from kbrank import Article, Corpus
    >>> corpus = Corpus([Article(id="a", title="Reset your password"), Article(id="b", title="Pair a camera")])
    >>> index = DenseIndex().build(corpus)                                       # doctest: +SKIP
    >>> [corpus[r].id for r in index.search("forgot my login", k=1).rows]       # doctest: +SKIP
    ['a']

    Parameters (keyword-only except ``encoder``; stored unchanged): ``encoder`` (an `Encoder`; None
    means `SentenceTransformerEncoder()`, all-MiniLM-L6-v2), ``index_type`` (``"flat"`` exact,
    ``"hnsw"``, ``"sq8"``, ``"fp16"``; see `kbrank.index.dense_faiss`), ``hnsw_m`` (graph degree, 32),
    ``ef_search`` (HNSW search breadth, 128; may be changed after building), ``ef_construction`` (HNSW
    build breadth, 40), ``passage_words`` (words per passage, 128), ``passage_stride`` (words between
    passage starts, 96, so passages overlap by 32), ``passage_title`` (prefix later passages with the
    title when encoding), ``cache_dir`` (a folder for the embedding cache; None disables it), ``cache_flush``
    (passages encoded between two commits to the cache, 1,024: an interrupted build resumes from the last one).

    Why 128/96 (the default everywhere, the BEIR reproduction included): all-MiniLM-L6-v2 was trained on inputs of up to 128 tokens and truncates at 256;
    128 English words are about 165 tokens (200 in technical text), so nothing is cut. On SciFact
    (train queries, 1,665 documents) nDCG@10 was 0.762 for whole documents, 0.759 for 200/150, 0.775
    for 128/96 and 0.781 for 96/72 (with 30% more passages than 128/96).
    """

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        index_type: str = "flat",
        hnsw_m: int = 32,
        ef_search: int = 128,
        ef_construction: int = 40,
        passage_words: int = 128,
        passage_stride: int = 96,
        passage_title: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        cache_flush: int = 1024,
    ) -> None:
        self.encoder = encoder
        self.index_type = index_type
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.ef_construction = ef_construction
        self.passage_words = passage_words
        self.passage_stride = passage_stride
        self.passage_title = passage_title
        self.cache_dir = cache_dir
        self.cache_flush = cache_flush
        self._default_encoder: Encoder | None = None

    # -- parameters --------------------------------------------------------------------------------
    def _check_params(self) -> PassageSplitter:
        if self.index_type not in dense_faiss.INDEX_TYPES:
            raise ParameterError("index_type", f"one of {list(dense_faiss.INDEX_TYPES)}", self.index_type,
                                 hint=suggestion(self.index_type, dense_faiss.INDEX_TYPES))
        # faiss stores these as C ints; far smaller bounds than that already exhaust memory or time.
        for name, low, high in (("hnsw_m", 2, _MAX_HNSW_M), ("ef_search", 1, _MAX_EF), ("ef_construction", 1, _MAX_EF)):
            check_int(name, getattr(self, name), low, high)
        check_int("cache_flush", self.cache_flush, 1)
        if self.encoder is not None and not isinstance(self.encoder, Encoder):
            raise ParameterError("encoder", "an Encoder (name, dim, fingerprint, encode_queries, encode_documents)",
                                 type(self.encoder).__name__, hint="see kbrank.index.encoders.Encoder")
        return PassageSplitter(words=self.passage_words, stride=self.passage_stride, title=bool(self.passage_title))

    def get_params(self) -> dict[str, Any]:
        """The settings that shape the index (the encoder and cache folder are recorded separately)."""
        return {"index_type": self.index_type, "hnsw_m": self.hnsw_m, "ef_search": self.ef_search,
                "ef_construction": self.ef_construction, "passage_words": self.passage_words,
                "passage_stride": self.passage_stride, "passage_title": bool(self.passage_title)}

    @property
    def encoder_(self) -> Encoder:
        """The encoder in use (the default one is created on first use)."""
        if self.encoder is not None:
            return self.encoder
        if self._default_encoder is None:
            self._default_encoder = SentenceTransformerEncoder()
        return self._default_encoder

    def _split(self, splitter: PassageSplitter, articles: Sequence[Article],
               rows: np.ndarray) -> tuple[Passages, list[str]]:
        spans = [splitter.spans(a) for a in articles]
        texts = [text for a, s in zip(articles, spans) for text in splitter.texts(a, s)]
        flat = np.array([span for s in spans for span in s], dtype=np.int64).reshape(-1, 2)
        article_rows = np.repeat(np.asarray(rows, dtype=np.int64), [len(s) for s in spans])
        return Passages(article_rows=article_rows, starts=flat[:, 0], ends=flat[:, 1]), texts

    # -- building ----------------------------------------------------------------------------------
    def build(self, corpus: Corpus, *, progress: Progress | None = None) -> DenseIndex:
        """Split, encode (through the cache) and index ``corpus``; ``progress(done, total)`` counts passage
        texts to encode (each distinct text once)."""
        splitter = self._check_params()
        if not isinstance(corpus, Corpus):
            raise ParameterError("corpus", "a kbrank.Corpus", type(corpus).__name__,
                                 hint="wrap articles with Corpus(...) or load with Corpus.from_jsonl")
        passages, texts = self._split(splitter, corpus, np.arange(len(corpus)))
        digests = text_digests(texts)
        keep, vector_rows = first_occurrences(digests)
        vectors = encode_documents(self.encoder_, [texts[i] for i in keep.tolist()], cache_dir=self.cache_dir,
                                   progress=progress, flush_every=self.cache_flush)
        self._install(corpus, passages, vectors, digests[keep], vector_rows, splitter, self.encoder_.fingerprint)
        return self

    def _install(self, corpus: Corpus, passages: Passages, vectors: np.ndarray, digests: np.ndarray,
                 vector_rows: np.ndarray, splitter: PassageSplitter, fingerprint: str) -> None:
        """Index distinct ``vectors`` (one per digest) for ``passages`` and swap the new state in at once."""
        index = dense_faiss.build_faiss(self.index_type, vectors, hnsw_m=self.hnsw_m,
                                        ef_construction=self.ef_construction)
        keep = np.asarray(vectors, np.float32) if self.index_type in dense_faiss.LOSSY_TYPES else None
        self.state_ = DenseState.assemble(corpus, passages, index, keep, splitter, fingerprint, vector_rows, digests)

    def _fitted(self) -> DenseState:
        """The current state (read it once per operation), or `NotFittedError`."""
        return built_state(self, DenseState)

    def _check_fitted(self) -> None:
        self._fitted()

    @property
    def corpus_(self) -> Corpus:
        return self._fitted().corpus

    @property
    def passages_(self) -> Passages:
        return self._fitted().passages

    @property
    def dim_(self) -> int:
        return self._fitted().dim

    # Fitted parts, each read from the current state (see `DenseState`).
    faiss_index_ = property(lambda self: self._fitted().faiss_index)
    embeddings_ = property(lambda self: self._fitted().embeddings)
    encoder_fingerprint_ = property(lambda self: self._fitted().fingerprint)
    splitter_ = property(lambda self: self._fitted().splitter)

    @property
    def n_docs(self) -> int:
        return len(self._fitted().corpus)

    @property
    def n_passages(self) -> int:
        return len(self._fitted().passages)

    @property
    def n_vectors(self) -> int:
        """Distinct passage texts, each stored as one vector (at most `n_passages`)."""
        return self._fitted().n_vectors

    @staticmethod
    def _unique_vectors(state: DenseState) -> np.ndarray:
        return state.embeddings if state.embeddings is not None else dense_faiss.stored_vectors(state.faiss_index)

    def vectors(self) -> np.ndarray:
        """The float32 vector of every passage, one row per passage (passages with one text share a vector)."""
        state = self._fitted()
        unique = self._unique_vectors(state)
        return unique if not state.shared else unique[state.vector_rows]

    # -- incremental updates -----------------------------------------------------------------------
    def _reconcile(self, state: DenseState, corpus: Corpus, sources: np.ndarray, progress: Progress | None) -> None:
        """Index ``corpus`` whose article ``r`` equals old article ``sources[r]`` (-1: new or changed),
        reusing every stored vector whose text the new corpus still has."""
        old = state.passages
        kept = np.flatnonzero(sources >= 0)
        kept_passages = old.rows_of(sources[kept])
        fresh_rows = np.flatnonzero(sources < 0)
        fresh, texts = self._split(state.splitter, [corpus[int(r)] for r in fresh_rows], fresh_rows)
        article_rows = np.concatenate([np.repeat(kept, old.counts()[sources[kept]]), fresh.article_rows])
        order = np.argsort(article_rows, kind="stable")  # each article's passages come from one side, in order
        passages = Passages(article_rows=article_rows[order],
                            starts=np.concatenate([old.starts[kept_passages], fresh.starts])[order],
                            ends=np.concatenate([old.ends[kept_passages], fresh.ends])[order])
        text_of = np.concatenate([np.full(kept_passages.size, -1), np.arange(len(texts))])[order]
        digests = np.concatenate([state.digests[state.vector_rows[kept_passages]], text_digests(texts)])[order]
        first, vector_rows = first_occurrences(digests)
        known = {digest: row for row, digest in enumerate(state.digests.tolist())}
        source = np.array([known.get(d, -1) for d in digests[first].tolist()], dtype=np.int64)
        missing = np.flatnonzero(source < 0)  # texts no stored vector has: only these are encoded
        encoded = encode_documents(self.encoder_, [texts[int(text_of[first[j]])] for j in missing.tolist()],
                                   cache_dir=self.cache_dir, progress=progress, flush_every=self.cache_flush)
        vectors = np.empty((first.size, state.dim), np.float32)
        vectors[source >= 0] = self._unique_vectors(state)[source[source >= 0]]
        vectors[missing] = encoded
        self._install(corpus, passages, vectors, digests[first], vector_rows, state.splitter, state.fingerprint)

    def _edit_state(self) -> DenseState:
        state = self._fitted()
        fingerprint = self.encoder_.fingerprint
        if fingerprint != state.fingerprint:
            raise ParameterError("encoder", "the encoder this index was built with (same fingerprint)",
                                 f"fingerprint {fingerprint[:12]}...",
                                 hint=f"the index holds vectors of {state.fingerprint[:12]}...; rebuild it")
        return state

    def add(self, articles: Iterable[Article], *, progress: Progress | None = None) -> DenseIndex:
        """Append new articles (their ids must be new). Only texts the index does not hold are encoded."""
        new = list(articles)
        state = self._edit_state()
        corpus = state.corpus.with_added(new)
        self._reconcile(state, corpus, np.concatenate([np.arange(len(state.corpus)), np.full(len(new), -1)]),
                        progress)
        return self

    def update(self, articles: Iterable[Article], *, progress: Progress | None = None) -> DenseIndex:
        """Replace articles by id, keeping their rows. Only texts the index does not hold are encoded."""
        new = list(articles)
        state = self._edit_state()
        corpus = state.corpus.with_replaced(new)
        sources = np.arange(len(state.corpus))
        for article in new:
            row = corpus.row(article.id)
            if state.corpus[row].content_key() != article.content_key():
                sources[row] = -1
        self._reconcile(state, corpus, sources, progress)
        return self

    def remove(self, article_ids: Iterable[str]) -> DenseIndex:
        """Remove articles by id; later rows move up, exactly as in a rebuilt corpus. Nothing is encoded."""
        ids = list(article_ids)
        state = self._edit_state()
        keep = np.ones(len(state.corpus), bool)
        keep[[state.corpus.row(i) for i in ids]] = False
        corpus = state.corpus.without(ids)  # raises CorpusError if this would empty the corpus
        self._reconcile(state, corpus, np.flatnonzero(keep), None)
        return self

    # -- searching ---------------------------------------------------------------------------------
    def encode_query(self, query: str) -> np.ndarray:
        """The query's unit vector, shape ``(dim,)`` (encode once, then search with the vector)."""
        state = self._fitted()
        if not isinstance(query, str):
            raise ParameterError("query", "a string", type(query).__name__)
        vectors = self.encoder_.encode_queries([query])
        vector: np.ndarray = checked_vectors(vectors, 1, state.dim, "encode_queries")[0]
        return vector

    def _query_matrix(self, state: DenseState, query: str | np.ndarray) -> np.ndarray:
        if isinstance(query, str):
            return self.encode_query(query)[None, :]
        vector = np.asarray(query, dtype=np.float32)
        if vector.shape != (state.dim,) or not np.all(np.isfinite(vector)):
            raise ParameterError("query", f"a string or a finite vector of shape ({state.dim},)",
                                 f"an array of shape {vector.shape}")
        return checked_vectors(vector[None, :], 1, state.dim, "encode_query")

    def search(self, query: str | np.ndarray, k: int = 10, *, mask: np.ndarray | None = None) -> Candidates:
        """The best ``k`` articles, each scored by its best passage (cosine); ``mask`` filters before top-k.

        ``query`` is a string or a vector from `encode_query`. A masked top-k has ``k`` rows whenever
        ``k`` articles are allowed. Ties are broken by row.
        """
        state = self._fitted()
        k = check_k(k)
        if k == 0:
            return Candidates.empty()
        return top_articles(state, lambda: self._query_matrix(state, query), k, mask, index_type=self.index_type,
                            ef_search=self.ef_search)

    def search_passages(self, query: str | np.ndarray, k: int = 10, *, mask: np.ndarray | None = None) -> PassageHits:
        """The best ``k`` passages (several may come from one article); ``mask`` filters articles before top-k."""
        state = self._fitted()
        k = check_k(k)
        if k == 0:
            return PassageHits.empty()
        return top_passages(state, lambda: self._query_matrix(state, query), k, mask, index_type=self.index_type,
                            ef_search=self.ef_search)

    def passage_text(self, passage_row: int) -> str:
        """The text of a passage: its span of the article's ``text``."""
        state = self._fitted()
        p = state.passages
        article = state.corpus[int(p.article_rows[passage_row])]
        return article.text[int(p.starts[passage_row]) : int(p.ends[passage_row])]

    # -- persistence -------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> None:
        """Save to an index directory with its corpus (atomic; faiss's native file plus ``.npy`` arrays).

        ``path`` must be new, empty or an index directory kbrank wrote; ``force=True`` also allows another
        non-empty directory (its files are never deleted or overwritten)."""
        from ..corpus.io import write_corpus
        from ..storage import IndexWriter
        from .dense_persistence import write_dense

        state = self._fitted()
        with IndexWriter(path, force=force) as writer:
            write_corpus(writer, state.corpus)
            write_dense(writer, state, params=self.get_params(), encoder=self.encoder_)
            writer.commit()

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, encoder: Encoder | None = None,
             cache_dir: str | os.PathLike[str] | None = None, mmap: bool = True) -> DenseIndex:
        """Load an index directory, verifying checksums, array bounds and that ``encoder`` is the one it was
        built with. ``encoder=None`` recreates the encoder recorded in the manifest (a
        `SentenceTransformerEncoder`)."""
        from ..storage import IndexReader

        with IndexReader(path) as reader:
            return cls.read(reader, encoder=encoder, cache_dir=cache_dir, mmap=mmap)

    @classmethod
    def read(cls, reader: Any, *, corpus: Corpus | None = None, prefix: str = "dense", encoder: Encoder | None = None,
             cache_dir: str | os.PathLike[str] | None = None, mmap: bool = True) -> DenseIndex:
        """The index stored under ``prefix`` in an opened `kbrank.storage.IndexReader` (``corpus``: the
        directory's corpus when the caller has already read it). The stored parameters pass the
        constructor's checks, and the arrays and faiss file `DenseState`'s, before anything uses them."""
        from .dense_persistence import read_dense

        def checked(params: dict[str, Any], given: Encoder | None) -> DenseIndex:
            index = cls(given, cache_dir=cache_dir, **params)
            index._check_params()
            return index

        index, resolved, state = read_dense(reader, prefix, corpus=corpus, encoder=encoder, mmap=mmap, build=checked)
        if encoder is None:
            index._default_encoder = resolved
        index.state_ = state
        return index

    def __copy__(self) -> "DenseIndex":
        """A shallow copy sharing the (immutable) state; an edit of the copy leaves this index unchanged."""
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__.copy())  # a snapshot: a search in another thread may add to it
        return new

    def __getstate__(self) -> None:
        raise TypeError("kbrank never pickles; use DenseIndex.save(path) and DenseIndex.load(path)")

    def __repr__(self) -> str:
        state = self.__dict__.get("state_")
        size = f", {len(state.corpus)} articles, {len(state.passages)} passages" if state is not None else ""
        return f"DenseIndex(index_type={self.index_type!r}{size})"
