"""The faiss side of `DenseIndex`: building the index by type, filtered search, and searching deeper.

Index types (all inner product over unit vectors, so scores are cosine similarities):

====== ============================ ======================================================================
name   faiss class                  notes (figures from PERF-NOTES, 100k x 384 on 2 vCPUs)
====== ============================ ======================================================================
flat   IndexFlatIP                  exact; about 11 ms per query; the default
hnsw   IndexHNSWFlat (M=hnsw_m)     graph search, about 0.3 ms at ef_search=128 (recall@10 0.998)
sq8    IndexScalarQuantizer 8-bit   4x smaller, about 4.6 ms, recall@10 0.985; scores are approximate
fp16   IndexScalarQuantizer fp16    2x smaller, about 6.6 ms, recall@10 0.999
====== ============================ ======================================================================

Filters are applied inside faiss: an article mask becomes a passage bitmap (`faiss.IDSelectorBitmap`)
passed through ``SearchParameters(sel=...)``, so excluded passages never enter the top-k. A graph index
cannot promise k results under a selective filter (it may not reach the allowed nodes), so when the
filter allows few passages the search runs exactly over the graph's stored vectors with the same selector;
when the graph returns too few, it is searched once more, four times as broad, and then exactly. An exact
scan of many allowed vectors runs in two halves at once, on two cores.

A single query is searched with one OpenMP thread (`one_faiss_thread`, scoped to the calling thread and
restored afterwards). faiss starts its OpenMP team even for one query, and a team of 2 on 2 busy cores waits at
every barrier for a descheduled thread: on a loaded 2-core machine a 100k flat search took 156 ms with 2 threads
against 78 ms with 1. When torch is imported before faiss (as kbrank does), faiss's OpenMP calls bind to
torch's libgomp, so both share one runtime and one per-thread count: the scope therefore covers only the faiss
call, never the encoder. Global thread settings are never changed.

faiss ids are vector rows; `kbrank.index.dense_state` maps them to passages (passages with the same text
share one vector). Building is deterministic: the same vectors in the same order give the same
index, byte for byte (HNSW levels come from faiss's fixed-seed generator).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import MissingDependencyError
from ._arrays import all_finite

__all__ = ["INDEX_TYPES", "LOSSY_TYPES", "SEARCH_THREADS", "faiss_module", "build_faiss", "describe", "one_faiss_thread",
           "stored_vectors", "ranked_passages"]

INDEX_TYPES = ("flat", "hnsw", "sq8", "fp16")
#: Types whose stored codes cannot give the float32 vectors back: `DenseIndex` keeps those separately.
LOSSY_TYPES = frozenset({"sq8", "fp16"})
#: Below this share of allowed passages a graph search goes straight to the exact scan.
_EXACT_SHARE = 0.05
#: A filtered graph search that reaches too few allowed vectors is tried once more this many times as broad
#: (``efSearch``) before the exact scan. At 1M vectors (HNSW32, 384 dims, one thread), on the 7 personalized
#: top-ups among 40 demo queries (19 to 44% of the articles allowed): breadth 516 found 0 to 46 of the 516
#: asked; breadth 2,064 found all 516 for 3 of them in 6 to 10 ms, and for the other 4 nothing, as breadth
#: 8,256 did (40 to 50 ms); the exact scans took 94 to 203 ms.
_WIDEN = 4

#: faiss OpenMP threads for a single-query search (see the module docstring).
SEARCH_THREADS = 1
#: An exact filtered scan of at least this many allowed vectors runs in two halves at once (`_exact_halves`):
#: faiss scans one query on one core, bound by memory bandwidth.
_SPLIT_FROM = 200_000

Satisfied = Callable[[np.ndarray, np.ndarray, "float | None"], bool]
Expand = Callable[[np.ndarray, np.ndarray], "tuple[np.ndarray, np.ndarray]"]


def faiss_module() -> Any:
    """Import faiss, or say which extra installs it."""
    try:
        import faiss
    except ImportError as exc:
        raise MissingDependencyError("faiss-cpu", "dense") from exc
    return faiss


def build_faiss(kind: str, vectors: np.ndarray, *, hnsw_m: int, ef_construction: int) -> Any:
    """A faiss index of type ``kind`` holding ``vectors`` (ids 0..n-1 in order)."""
    faiss = faiss_module()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    elif kind in LOSSY_TYPES:
        qtype = faiss.ScalarQuantizer.QT_8bit if kind == "sq8" else faiss.ScalarQuantizer.QT_fp16
        index = faiss.IndexScalarQuantizer(dim, qtype, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
    else:  # pragma: no cover - DenseIndex validates the name first
        raise ValueError(f"unknown index type {kind!r}")
    index.add(vectors)
    return index


def stored_vectors(index: Any) -> np.ndarray:
    """The float32 vectors a lossless index holds, in id order (a copy)."""
    if index.ntotal == 0:
        return np.empty((0, index.d), np.float32)
    return np.ascontiguousarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)


def describe(index: Any) -> str:
    """The index type name of a faiss index (for checking a loaded file against its manifest)."""
    faiss = faiss_module()
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexHNSWFlat):
        return "hnsw"
    if isinstance(index, faiss.IndexFlat):
        return "flat"
    if isinstance(index, faiss.IndexScalarQuantizer):
        qtype = index.sq.qtype
        return {faiss.ScalarQuantizer.QT_8bit: "sq8", faiss.ScalarQuantizer.QT_fp16: "fp16"}.get(qtype, "?")
    return type(index).__name__


@contextmanager
def one_faiss_thread(threads: int = SEARCH_THREADS) -> Iterator[None]:
    """Run faiss with at most ``threads`` OpenMP threads inside the block, then restore the previous count.

    The count is the calling thread's own OpenMP setting (libgomp keeps it per thread), so concurrent
    searches in other threads and the rest of the process are unaffected.
    """
    faiss = faiss_module()
    before = int(faiss.omp_get_max_threads())
    if before <= threads:
        yield
        return
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _search_once(index: Any, kind: str, query: np.ndarray, depth: int, selector: Any, *,
                 graph: bool, ef_search: int) -> tuple[np.ndarray, np.ndarray]:
    faiss = faiss_module()
    with one_faiss_thread():
        return _search_unscoped(faiss, index, kind, query, depth, selector, graph=graph, ef_search=ef_search)


def _search_unscoped(faiss: Any, index: Any, kind: str, query: np.ndarray, depth: int, selector: Any, *,
                     graph: bool, ef_search: int) -> tuple[np.ndarray, np.ndarray]:
    if graph:
        params = faiss.SearchParametersHNSW(efSearch=max(ef_search, depth))
        if selector is not None:
            params.sel = selector
        scores, ids = index.search(query, depth, params=params)
    else:
        target = faiss.downcast_index(index.storage) if kind == "hnsw" else index
        if selector is not None:
            scores, ids = target.search(query, depth, params=faiss.SearchParameters(sel=selector))
        else:
            scores, ids = target.search(query, depth)
    found = ids[0] >= 0
    return scores[0][found], ids[0][found].astype(np.int64)


def _exact_halves(index: Any, kind: str, query: np.ndarray, depth: int, bits: np.ndarray,
                  n: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact top-``depth`` of the vectors allowed by ``bits`` (a little-endian bitmap over ``n``), scanned in
    two halves at once: the second on a kept thread (`kbrank._threads`), or here after the first when no kept
    thread has started it by then (or this is a kept thread). Both halves score each vector as one scan does;
    the merged list is ordered by score, then id."""
    from .._threads import on_kept_thread, start

    faiss = faiss_module()
    mid = (n // 16) * 8  # a whole number of bitmap bytes
    lower, upper = bits.copy(), bits.copy()  # faiss's bitmap selector reads bits by id, with no bound of its own
    lower[mid // 8:] = 0
    upper[: mid // 8] = 0

    def scan(bitmap: np.ndarray) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
        def run() -> tuple[np.ndarray, np.ndarray]:
            selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))  # ``bitmap`` lives in this closure
            with one_faiss_thread():
                return _search_unscoped(faiss, index, kind, query, depth, selector, graph=False, ef_search=0)
        return run

    first, second = scan(lower), scan(upper)
    if on_kept_thread():
        parts = [first(), second()]
    else:
        [future] = start([second])
        low = first()
        parts = [low, second() if future.cancel() else future.result()]
    scores = np.concatenate([p[0] for p in parts])
    ids = np.concatenate([p[1] for p in parts])
    order = np.lexsort((ids, -scores))[:depth]
    return scores[order], ids[order]


def ranked_passages(index: Any, kind: str, query: np.ndarray, allowed: np.ndarray | None, n_allowed: int, *,
                    depth: int, ef_search: int, satisfied: Satisfied,
                    expand: Expand | None = None) -> tuple[np.ndarray, np.ndarray, float | None]:
    """The best allowed passages, searched deeper (x4) until ``satisfied`` or every allowed vector is in.

    ``allowed`` is a mask over the stored vectors (``n_allowed`` of them allowed) and ``expand(scores, ids)``
    turns vector hits into passage hits (every allowed passage that uses the vector); without it a vector id
    is a passage id. Returns ``(scores, passage_ids, cutoff)``. When ``cutoff`` is None the list holds every
    allowed passage; otherwise it holds every allowed passage scoring above ``cutoff`` (passages scoring
    exactly ``cutoff`` may be cut arbitrarily by faiss, so callers trust only those strictly above it).
    ``satisfied(scores, ids, cutoff)`` says whether that trusted part is enough.
    """
    faiss = faiss_module()
    selector = bits = None
    if allowed is not None:
        bits = np.packbits(allowed, bitorder="little")
        selector = faiss.IDSelectorBitmap(allowed.shape[0], faiss.swig_ptr(bits))
    graph = kind == "hnsw" and not (allowed is not None and n_allowed <= max(4 * depth, _EXACT_SHARE * index.ntotal))
    widened = False
    while True:
        asked = min(depth, n_allowed)
        if not graph and bits is not None and n_allowed >= _SPLIT_FROM:
            scores, ids = _exact_halves(index, kind, query, asked, bits, int(index.ntotal))
        else:
            scores, ids = _search_once(index, kind, query, asked, selector, graph=graph, ef_search=ef_search)
        if graph and scores.shape[0] < asked:
            # The graph reached fewer allowed vectors than asked (a query whose neighbourhood is mostly
            # filtered out). What it found is still an approximate answer, like any graph search: it is used
            # when the part strictly above its lowest score is enough; otherwise the graph is searched once
            # more, _WIDEN times as broad, and then every allowed vector is scanned exactly.
            if scores.shape[0]:
                lowest = float(scores[-1])
                found = expand(scores, ids) if expand is not None else (scores, ids)
                if satisfied(found[0], found[1], lowest):
                    return found[0], found[1], lowest
            if not widened:
                widened, ef_search = True, _WIDEN * max(ef_search, depth)
            else:
                graph = False
            continue
        if asked >= n_allowed or scores.shape[0] < asked:
            cutoff = None
        else:
            cutoff = float(scores[-1])
        if expand is not None:
            scores, ids = expand(scores, ids)
        if cutoff is None or satisfied(scores, ids, cutoff):
            return scores, ids, cutoff  # ``bits`` lived until here: the selector points into it
        depth *= 4


#: The first four bytes faiss writes for each index type (its "fourcc"), checked before faiss parses a file.
_FOURCC = {"flat": b"IxFI", "hnsw": b"IHNf", "sq8": b"IxSQ", "fp16": b"IxSQ"}


def read_faiss(path: str, kind: str, *, n_vectors: int, dim: int) -> tuple[Any, list[str]]:
    """``(index, problems)``: the faiss file of a ``kind`` index, and what is wrong with its structure.

    faiss's reader and search kernels trust the file, so it is checked on both sides: the file must start
    with the type's fourcc before faiss parses it (``problems`` then holds that one problem and ``index`` is
    None); after reading, the sizes, codes, graph links and quantizer ranges must fit ``n_vectors`` vectors of
    ``dim`` dimensions (`structure_problems`). faiss's own errors become problems too.
    """
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head != _FOURCC.get(kind):
        return None, [f"the faiss file does not start like a {kind} index (found {head!r})"]
    faiss = faiss_module()
    try:
        index = faiss.read_index(path)
    except (RuntimeError, MemoryError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return None, [f"faiss cannot read the file ({first})"]
    return index, structure_problems(index, kind, n_vectors=n_vectors, dim=dim)


def _vector(values: Any) -> np.ndarray:
    return np.asarray(faiss_module().vector_to_array(values))


def _flat_problems(index: Any, dim: int, code_size: int, dtype: Any, what: str) -> list[str]:
    problems = []
    if index.d != dim or index.code_size != code_size:
        problems.append(f"{what} has dimension {index.d} and code size {index.code_size}; expected {dim} and "
                        f"{code_size}")
        return problems
    size = int(index.codes.size())
    if size != index.ntotal * code_size:
        problems.append(f"{what} holds {size} code bytes for {index.ntotal} vectors of {code_size} bytes")
    elif dtype is not None and size and not all_finite(
            faiss_module().rev_swig_ptr(index.codes.data(), size).view(dtype)):  # a view, not a copy
        problems.append(f"{what} holds non-finite vector components")
    return problems


def structure_problems(index: Any, kind: str, *, n_vectors: int, dim: int) -> list[str]:
    """What makes a read faiss index unsafe or wrong to search (empty when it is sound); see `read_faiss`."""
    faiss = faiss_module()
    if describe(index) != kind:
        return [f"the faiss file holds a {describe(index)} index, the manifest says {kind}"]
    typed = faiss.downcast_index(index)
    problems = []
    if typed.ntotal != n_vectors:
        problems.append(f"the faiss file holds {typed.ntotal} vectors, the passage map {n_vectors}")
    if typed.d != dim:
        problems.append(f"vectors have dim {typed.d}, the manifest says {dim}")
    if typed.metric_type != faiss.METRIC_INNER_PRODUCT:
        problems.append(f"the faiss index uses metric {typed.metric_type}, not inner product")
    if problems:
        return problems
    if kind == "flat":
        return _flat_problems(typed, dim, 4 * dim, np.float32, "the flat index")
    if kind in LOSSY_TYPES:
        size = dim if kind == "sq8" else 2 * dim
        problems = _flat_problems(typed, dim, size, None if kind == "sq8" else np.float16, f"the {kind} index")
        trained = _vector(typed.sq.trained)
        if not typed.is_trained or trained.size != (2 * dim if kind == "sq8" else 0) \
                or not all_finite(trained):
            problems.append(f"the {kind} quantizer's trained ranges are missing or invalid")
        return problems
    storage = faiss.downcast_index(typed.storage)
    if not isinstance(storage, faiss.IndexFlat) or storage.ntotal != typed.ntotal \
            or storage.metric_type != faiss.METRIC_INNER_PRODUCT:
        return ["the HNSW index's vector storage does not match the graph"]
    problems = _flat_problems(storage, dim, 4 * dim, np.float32, "the HNSW vector storage")
    return problems + _graph_problems(typed.hnsw, typed.ntotal)


def _graph_problems(hnsw: Any, n: int) -> list[str]:
    """The HNSW graph's arrays: levels, offsets and links must index each other within bounds."""
    levels = _vector(hnsw.levels).astype(np.int64)
    offsets = _vector(hnsw.offsets).astype(np.uint64)
    neighbors = _vector(hnsw.neighbors)
    cum = _vector(hnsw.cum_nneighbor_per_level).astype(np.int64)
    if levels.shape != (n,) or offsets.shape != (n + 1,) or cum.size < 2 or cum[0] != 0 or np.any(np.diff(cum) < 0):
        return ["the HNSW graph's level and offset tables do not fit the vectors"]
    if n == 0:
        return [] if neighbors.size == 0 and hnsw.entry_point == -1 else ["an empty HNSW graph holds links"]
    if levels.min() < 1 or levels.max() >= cum.size:
        return ["the HNSW graph's node levels are out of range"]
    if hnsw.max_level != levels.max() - 1 or not 0 <= hnsw.entry_point < n or levels[hnsw.entry_point] - 1 != hnsw.max_level:
        return ["the HNSW graph's entry point or top level is invalid"]
    expected = np.concatenate([[0], np.cumsum(cum[levels])]).astype(np.uint64)
    if not np.array_equal(offsets, expected) or int(offsets[-1]) != neighbors.size:
        return ["the HNSW graph's offsets do not match the node levels"]
    if neighbors.size and (neighbors.min() < -1 or neighbors.max() >= n):
        return ["the HNSW graph links to vectors that do not exist"]
    return []
