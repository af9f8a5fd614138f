"""Concurrent clients for bench_serve: threads sharing one loaded searcher, processes each loading the saved
searcher (mmap), and HTTP clients against a running ``kbrank serve`` (any URL with a ``{query}`` slot) or a
server `http_server` starts on the saved searcher.

Every client sends its share of the queries back to back; QPS is all requests over the wall time from the
moment every client is ready, and each request's latency goes into p50 / p99.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np


def summary(latencies: Sequence[float], wall: float) -> dict[str, float]:
    values = np.asarray(latencies) * 1e3
    return {"qps": len(latencies) / wall, "p50": float(np.percentile(values, 50)),
            "p99": float(np.percentile(values, 99)), "requests": len(latencies)}


def _parts(queries: Sequence[str], clients: int, per_client: int) -> list[list[str]]:
    return [[queries[(c * per_client + i) % len(queries)] for i in range(per_client)] for c in range(clients)]


def run_threads(search: Callable[[str], Any], queries: Sequence[str], clients: int,
                per_client: int) -> dict[str, float]:
    """``clients`` threads each calling ``search`` on its share of the queries."""
    barrier = threading.Barrier(clients + 1)
    latencies: list[list[float]] = [[] for _ in range(clients)]

    def client(c: int, part: list[str]) -> None:
        barrier.wait()
        for query in part:
            t0 = time.perf_counter()
            search(query)
            latencies[c].append(time.perf_counter() - t0)

    threads = [threading.Thread(target=client, args=(c, part)) for c, part in
               enumerate(_parts(queries, clients, per_client))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return summary([x for part in latencies for x in part], time.perf_counter() - started)


def _worker(path: str, mode: str, part: list[str], torch_threads: int, ready: Any, start: Any, out: Any) -> None:
    import torch
    from _synthetic import SyntheticDocumentVectors

    from kbrank.index.encoders import SentenceTransformerEncoder
    from kbrank.searcher import Searcher

    if torch_threads > 0:
        torch.set_num_threads(torch_threads)  # the deployer's setting: a worker's share of the cores
    encoder = SyntheticDocumentVectors(SentenceTransformerEncoder(), {})  # queries only: no document is encoded
    searcher = Searcher.load(path, encoder=encoder)
    for query in part[:3]:
        searcher.search(query, 10, mode=mode)
    ready.put(1)
    start.wait()
    latencies = []
    began = time.perf_counter()
    for query in part:
        t0 = time.perf_counter()
        searcher.search(query, 10, mode=mode)
        latencies.append(time.perf_counter() - t0)
    out.put((began, time.perf_counter(), latencies))


def run_processes(path: str, mode: str, queries: Sequence[str], clients: int, per_client: int, *,
                  torch_threads: int) -> dict[str, float]:
    """``clients`` processes, each loading the saved searcher at ``path`` and searching its share."""
    context = mp.get_context("spawn")
    ready, out, start = context.Queue(), context.Queue(), context.Event()
    workers = [context.Process(target=_worker, args=(path, mode, part, torch_threads, ready, start, out))
               for part in _parts(queries, clients, per_client)]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=900)
    start.set()
    reports = [out.get(timeout=900) for _ in workers]
    for worker in workers:
        worker.join()
    # The wall is from the first worker's first query to the last one's last, on the workers' own clocks
    # (perf_counter is the system-wide monotonic clock on Linux): waking the workers and sending their
    # latencies back took a few hundred ms, which once made 80 BM25 queries in two processes look like 250 QPS.
    wall = max(report[1] for report in reports) - min(report[0] for report in reports)
    return summary([x for report in reports for x in report[2]], wall)


def run_http(url: str, queries: Sequence[str], clients: int, per_client: int, *,
             timeout: float = 30.0) -> dict[str, float]:
    """The hook for the HTTP API: ``clients`` threads GETting ``url`` with ``{query}`` replaced by each query
    (URL-quoted), e.g. ``http://127.0.0.1:8000/api/search?q={query}``. Any non-2xx answer raises."""
    if "{query}" not in url:
        raise ValueError(f"the URL needs a {{query}} slot, got {url!r}")

    def get(query: str) -> None:
        with urllib.request.urlopen(url.replace("{query}", urllib.parse.quote(query)), timeout=timeout) as answer:
            answer.read()

    return run_threads(get, queries, clients, per_client)


#: The child that serves a saved searcher over HTTP: the web app (`kbrank.web`) under uvicorn, as `kbrank serve`
#: runs it, but loading the searcher with the FAKE document encoder its synthetic vectors came from.
SERVER = """
import sys
sys.path.insert(0, sys.argv[3])
import uvicorn
from _synthetic import SyntheticDocumentVectors
from kbrank import Searcher
from kbrank.index.encoders import SentenceTransformerEncoder
from kbrank.privacy import ProfileGateway
from kbrank.web import HelpCentreSite, create_app

searcher = Searcher.load(sys.argv[1], encoder=SyntheticDocumentVectors(SentenceTransformerEncoder(), {}))
site = HelpCentreSite(searcher=searcher, gateway=ProfileGateway.in_memory(key="bench-serve-pseudonymization", requester="bench_serve"))
uvicorn.run(create_app(site.prepare()), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


@contextlib.contextmanager
def http_server(path: str, *, startup_timeout: float = 600.0) -> Iterator[str]:
    """A child process serving the saved searcher at ``path`` over HTTP (uvicorn, the web app's JSON API);
    yields the search URL with a ``{query}`` slot, and stops the child on exit."""
    with socket.socket() as probe:  # a free port on the loopback interface
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    here = str(Path(__file__).resolve().parent)
    child = subprocess.Popen([sys.executable, "-c", SERVER, path, str(port), here])
    url = f"http://127.0.0.1:{port}/api/search?q={{query}}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"the HTTP server exited with {child.returncode} before answering")
            try:
                with urllib.request.urlopen(url.replace("{query}", "help"), timeout=5) as answer:
                    answer.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the HTTP server did not answer within {startup_timeout:.0f} s") from None
                time.sleep(0.5)
        yield url
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
