"""Cost of one incremental edit against a full rebuild, at 100k articles (issue: incremental updates).

Run: python benchmarks/bench_updates.py [--articles 100000]. Writes benchmarks/results/bench_updates.{json,md}.
An edit re-analyzes only the edited article, then recomputes every entry's weight from stored term counts
(IDF and average length change with every edit), so its cost grows with the index size, not with the text.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from kbrank import Article, BM25Index, Corpus


def synthetic_corpus(n: int, seed: int = 0) -> Corpus:
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(50_000)])
    p = 1.0 / np.arange(1, 50_001) ** 1.1
    p /= p.sum()
    lengths = rng.integers(60, 121, n)
    words = vocab[rng.choice(50_000, size=int(lengths.sum()), p=p)].tolist()
    out, offset = [], 0
    for i, length in enumerate(lengths.tolist()):
        out.append(Article(id=f"a{i}", title=" ".join(words[offset:offset + 5]),
                           body=" ".join(words[offset + 5:offset + length])))
        offset += length
    return Corpus(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    corpus = synthetic_corpus(args.articles)
    started = time.perf_counter()
    index = BM25Index().build(corpus)
    rebuild = time.perf_counter() - started
    timings: dict[str, list[float]] = {"update": [], "add": [], "remove": []}
    for i in range(5):
        started = time.perf_counter()
        index.update([Article(id=f"a{i}", title="edited title", body=f"new body w{i} w{i + 7}")])
        timings["update"].append(time.perf_counter() - started)
        started = time.perf_counter()
        index.add([Article(id=f"new{i}", title="new article", body="fresh text w1 w2")])
        timings["add"].append(time.perf_counter() - started)
        started = time.perf_counter()
        index.remove([f"new{i}"])
        timings["remove"].append(time.perf_counter() - started)
    result = {"articles": args.articles, "full_rebuild_s": rebuild,
              **{f"{k}_s_median": statistics.median(v) for k, v in timings.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_updates.json").write_text(json.dumps(result, indent=2))
    lines = [f"### One edit at {args.articles:,} articles vs a full rebuild (analysis included)", "",
             "| operation | seconds (median of 5) | share of a full rebuild |", "|---|---|---|",
             f"| full rebuild | {rebuild:.2f} | 100% |"]
    for name in ("update", "add", "remove"):
        value = result[f"{name}_s_median"]
        lines.append(f"| {name} one article | {value:.3f} | {100 * value / rebuild:.1f}% |")
    (args.out / "bench_updates.md").write_text("\n".join(lines) + "\n")
    from _readme import update_readme

    update_readme("bench_updates", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
