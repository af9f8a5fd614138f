"""Memory, disk and build figures of one BM25 implementation, each step in its own fresh subprocess.

    python benchmarks/_bm25_memory.py build SYSTEM N_DOCS DIR   # build, save to DIR, print JSON
    python benchmarks/_bm25_memory.py load SYSTEM N_DOCS DIR    # load DIR memory-mapped, query, print JSON

``build``: peak RSS growth over the build (the peak mark ``VmHWM``, reset once the input is ready, minus the
RSS then),
build seconds, and the bytes of the saved index directory. ``load``: RSS growth after loading with mmap, and
after the Zipf and stopword-free query sets have run once (pages the queries touched are then resident).
Only kbrank and bm25s (numba backend) save and load an index; the others are reported from the main run.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _synthetic as syn  # noqa: E402
import _systems as systems  # noqa: E402

SYSTEMS = ("kbrank", "bm25s_numba")


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak() -> None:
    """Reset the kernel's peak-RSS mark (VmHWM), so that warm-up and input preparation do not count."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def peak() -> int:
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _queries(system: systems.System, vocab) -> list:
    sets = [syn.make_queries(300), syn.make_queries(300, min_rank=syn.STOPWORD_FREE_MIN_RANK)]
    return [system.prepare(r, vocab[r].tolist()) for qs in sets for r in qs]


def _warm_up(name: str, vocab, out: Path) -> None:
    """Build, save, load and query a tiny index first: imports and compiled kernels stay out of the figures."""
    tiny = out.parent / f".warm-{name}"
    system = systems.FACTORIES[name]()
    inputs = systems.Inputs(syn.make_corpus(500), vocab)
    system.build(inputs)
    if not tiny.exists():
        (system.index.save(tiny) if name == "kbrank" else system.model.save(str(tiny)))
    _open(name, tiny, system)
    for query in _queries(system, vocab)[:50]:
        system.search(query)
    gc.collect()


def _open(name: str, path: Path, system: systems.System) -> None:
    if name == "kbrank":
        from kbrank import BM25Index

        system.index = BM25Index.load(path, mmap=True)
    else:
        import bm25s

        system.model = bm25s.BM25.load(str(path), mmap=True)


def build(name: str, n_docs: int, out: Path) -> dict:
    vocab = syn.words()
    _warm_up(name, vocab, out)
    inputs = systems.Inputs(syn.make_corpus(n_docs), vocab)
    system = systems.FACTORIES[name]()
    for need in system.needs:
        getattr(inputs, need)
    gc.collect()
    reset_peak()
    before = rss()
    start = time.perf_counter()
    system.build(inputs)
    seconds = time.perf_counter() - start
    build_peak = peak() - before
    if name == "kbrank":
        system.index.save(out)
    else:
        system.model.save(str(out))
    return {"build_s": seconds, "build_peak_rss_delta_bytes": build_peak, "disk_bytes": dir_bytes(out)}


def load(name: str, n_docs: int, out: Path) -> dict:
    vocab = syn.words()
    _warm_up(name, vocab, out)
    system = systems.FACTORIES[name]()
    if name != "kbrank":  # bm25s queries need the id mapping of the corpus (not part of the index)
        system.ids = syn.CompactIds.of(syn.make_corpus(n_docs), vocab)
    queries = _queries(system, vocab) if name == "kbrank" else None
    gc.collect()
    before = rss()
    start = time.perf_counter()
    _open(name, out, system)
    seconds = time.perf_counter() - start
    after_load = rss() - before
    if queries is None:
        queries = _queries(system, vocab)
    for query in queries:
        system.search(query)
    return {"load_s": seconds, "rss_after_load_bytes": after_load, "rss_after_queries_bytes": rss() - before}


if __name__ == "__main__":
    step, name, n_docs, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    import logging

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    print(json.dumps((build if step == "build" else load)(name, n_docs, out)))
