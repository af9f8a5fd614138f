"""bench_serve's client drivers and bench_search's synthetic corpus, on tiny inputs (no timings asserted)."""

from __future__ import annotations

import threading

import pytest
from _shared_helpers import load_benchmark

clients = load_benchmark("_serve_clients")
synthetic = load_benchmark("_synthetic")


def test_thread_clients_send_every_request_and_report_percentiles() -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def search(query: str) -> None:
        with lock:
            seen.append(query)

    stats = clients.run_threads(search, ["a", "b", "c"], 4, 5)
    assert stats["requests"] == 20 and sorted(seen) == sorted(["a", "b", "c"] * 6 + ["a", "b"])
    assert stats["qps"] > 0 and 0 <= stats["p50"] <= stats["p99"]


def test_the_http_hook_needs_a_query_slot() -> None:
    with pytest.raises(ValueError, match="query"):
        clients.run_http("http://127.0.0.1:1/api/search", ["a"], 1, 1)


def test_recombined_articles_keep_their_source_applicability() -> None:
    from kbrank.datasets import load_helpcentre

    demo = load_helpcentre().corpus
    corpus = synthetic.recombined_corpus(50)
    assert len(corpus) == 50 and len({a.id for a in corpus}) == 50
    for article in corpus:
        source = demo.get(article.title.split(" ", 1)[0])
        assert article.products == source.products and dict(article.versions) == dict(source.versions)
        assert article.body.startswith(source.body)
