"""Serving under load: N concurrent clients against one loaded searcher at 100k articles, BM25 and hybrid.

    python benchmarks/bench_serve.py [--size 100000] [--clients 1 2 4 8] [--per-client 40] [--bm25-per-client 1000]
                                     [--url 'http://127.0.0.1:8000/api/search?q={query}'] [--no-http]
                                     [--cache DIR] [--no-readme]

- threads: N client threads share one `Searcher` (query encodes overlap: serializing them was measured and
  lost, 26.6 against 36.0 QPS with 2 clients at 100k on a quiet 2-core machine);
- processes: N processes each load the saved searcher (memory-mapped), each with ``cores // N`` torch threads
  (the setting the README recommends to deployers);
- HTTP: N client threads against the web app's JSON API (``GET /api/search``, unpersonalized) served by
  uvicorn in a child process on the saved searcher (``--no-http`` skips it), or against a running
  ``kbrank serve`` given by ``--url``.

Document vectors are synthetic (`_synthetic.SyntheticDocumentVectors`, a named fake); queries are the demo
help centre's, encoded by the real all-MiniLM-L6-v2. QPS counts every client's requests over the wall time
(for processes, from the first worker's first query to the last one's last, on the workers' own clocks).
Each client sends ``--per-client`` hybrid requests and ``--bm25-per-client`` BM25 ones: 40 BM25 queries take
about 10 ms, less than the spread in waking the worker processes, so two processes barely overlapped and
measured no faster than one (4,369 against 4,442 QPS in one run).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from _floor import build_searcher, load_average, publish
from _serve_clients import http_server, run_http, run_processes, run_threads
from _synthetic import demo_anchors

from kbrank.datasets import load_helpcentre
from kbrank.index.encoders import SentenceTransformerEncoder

REPO = Path(__file__).resolve().parents[1]


def markdown(result: dict) -> str:
    lines = [f"### Serving: concurrent clients on one searcher ({result['articles']:,} articles, top-10)", "",
             "QPS over all clients / per-request p50 and p99 in ms. Synthetic article vectors, real query encoder. "
             f"Each client sends {result.get('bm25_per_client', result.get('per_client', 40)):,} BM25 or "
             f"{result.get('per_client', 40):,} hybrid requests.",
             "", "| clients | how | mode | QPS | p50 | p99 | load avg |", "|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        lines.append(f"| {row['clients']} | {row['how']} | {row['mode']} | {row['qps']:.1f} | {row['p50']:.1f} | "
                     f"{row['p99']:.1f} | {row['load_average']:.1f} |")
    lines += ["", f"{result['cpus']} CPUs; load average (1 min) at the start {result['load_average_at_start']:.1f}. "
              "Re-run on a quiet machine for final figures: `python benchmarks/bench_serve.py`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--per-client", type=int, default=40, help="hybrid requests per client")
    parser.add_argument("--bm25-per-client", type=int, default=1000, help="BM25 requests per client")
    parser.add_argument("--url", help="a running kbrank serve, with a {query} slot")
    parser.add_argument("--process-clients", type=int, nargs="*", help="client counts for the process runs "
                        "(default: --clients; none to skip them)")
    parser.add_argument("--no-http", dest="http", action="store_false", help="skip the HTTP server runs")
    parser.add_argument("--cache", type=Path, help="a bench_search --cache folder: load the saved searcher from it")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    hc = load_helpcentre()
    encoder = SentenceTransformerEncoder()
    searcher, _ = build_searcher(args.size, encoder, demo_anchors(encoder), index_type="flat", cache=args.cache)
    queries = [q.text for q in hc.queries]
    result = {"articles": args.size, "cpus": os.cpu_count(), "load_average_at_start": load_average(), "rows": [],
              "per_client": args.per_client, "bm25_per_client": args.bm25_per_client}
    per_client = {"bm25": args.bm25_per_client, "hybrid": args.per_client}

    def record(clients: int, how: str, mode: str, stats: dict) -> None:
        row = {"clients": clients, "how": how, "mode": mode, "load_average": load_average(), **stats}
        result["rows"].append(row)
        print(f"{clients} {how} {mode}: {stats['qps']:.1f} QPS, p50 {stats['p50']:.1f} ms, p99 {stats['p99']:.1f} ms "
              f"(load {row['load_average']})", flush=True)

    for mode in ("bm25", "hybrid"):
        searcher.search(queries[0], 10, mode=mode)
        for n in args.clients:
            record(n, "threads", mode, run_threads(lambda q, m=mode: searcher.search(q, 10, mode=m), queries, n,
                                                   per_client[mode]))
    process_clients = args.clients if args.process_clients is None else args.process_clients
    if process_clients or args.http:
        with tempfile.TemporaryDirectory(prefix="kbrank-serve-") as folder:
            path = str(Path(folder) / "index")
            searcher.save(path)
            del searcher
            for mode in ("bm25", "hybrid"):
                for n in process_clients:
                    threads = max(1, (os.cpu_count() or 1) // n)
                    record(n, f"processes ({threads} torch thread{'s' if threads > 1 else ''} each)", mode,
                           run_processes(path, mode, queries, n, per_client[mode], torch_threads=threads))
            if args.http:
                with http_server(path) as url:
                    run_http(url, queries, 1, 5)  # warm-up
                    for n in args.clients:
                        record(n, "HTTP (uvicorn, web API)", "hybrid", run_http(url, queries, n, args.per_client))
    if args.url:
        for n in args.clients:
            record(n, "HTTP", "server's", run_http(args.url, queries, n, args.per_client))
    publish("bench_serve", result, markdown(result), args.out, readme=not args.no_readme)


if __name__ == "__main__":
    main()
