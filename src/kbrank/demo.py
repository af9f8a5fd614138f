"""`kbrank demo`: build the bundled demo help centre and run a few searches, explaining what they show.

It works offline on a fresh machine: the help centre is generated (seeded) on first use.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

__all__ = ["run_demo"]


def cache_dir() -> Path:
    """Where the demo keeps its embedding cache: ``$KBRANK_CACHE_DIR`` or ``~/.cache/kbrank``."""
    return Path(os.environ.get("KBRANK_CACHE_DIR") or Path.home() / ".cache" / "kbrank")


def _compare_modes(console: Any, searcher: Any, query: str, k: int) -> None:
    from rich.table import Table

    table = Table(title=f"“{query}” in each mode", title_justify="left")
    modes = searcher.available_modes()
    for mode in modes:
        table.add_column(mode)
    columns = [[f"{r.title} [dim]{r.article_id}[/]" for r in searcher.search(query, k=k, mode=mode)] for mode in modes]
    for row in zip(*columns):
        table.add_row(*row)
    console.print(table)


def run_demo(console: Any, *, k: int = 5, mode: str = "hybrid") -> None:
    """Print the demo to a rich console."""
    from rich.table import Table

    from .datasets import load_helpcentre
    from .index import BM25Index
    from .searcher import Searcher

    started = time.perf_counter()
    hc = load_helpcentre()
    console.rule("[bold]kbrank demo: the Lumio help centre")
    console.print(
        f"Generated {len(hc.corpus)} articles for {len(hc.catalog)} products, {len(hc.customers)} customers "
        f"and {len(hc.queries)} customer queries with graded relevance ({time.perf_counter() - started:.1f} s)."
    )
    started = time.perf_counter()
    dense = None
    if mode != "bm25":
        from .index.dense import DenseIndex

        dense = DenseIndex(cache_dir=cache_dir() / "embeddings")
        console.print(f"Encoding articles with all-MiniLM-L6-v2 (offline; cached in {cache_dir()})...")
    searcher = Searcher(mode=mode, dense=dense).build(hc.corpus)
    index = searcher.bm25_ or BM25Index().build(hc.corpus)
    console.print(f"Built the {mode} index in {time.perf_counter() - started:.1f} s "
                  f"({index.counts_.n_terms} BM25 terms).\n")
    if len(searcher.available_modes()) > 1:
        _compare_modes(console, searcher, "my wifi keeps cutting out", k)
        console.print("[italic]BM25 matches words, the dense model matches meaning ('cutting out' ~ 'drops'), and "
                      "hybrid fuses both rankings (reciprocal rank fusion).[/]\n")

    def show(query: str, note: str, customer: dict | None = None, relevant: dict | None = None) -> None:
        found = index.search(query, k=k)
        table = Table(title=f"“{query}”", title_justify="left")
        for name, justify in (("#", "right"), ("article", "left"), ("score", "right"), ("applies to", "left")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        if relevant is not None:
            table.add_column(f"for {customer['customer_id'] if customer else ''}")
        for rank, (row, score) in enumerate(zip(found.rows.tolist(), found.scores.tolist()), start=1):
            article = hc.corpus[row]
            scope = ", ".join(f"{p} {article.versions.get(p, '')}".strip() for p in article.products) or "everyone"
            cells = [str(rank), f"{article.title}\n[dim]{article.id} · {article.kind} · {article.status}[/]",
                     f"{score:.2f}", scope]
            if relevant is not None:
                grade = relevant.get(article.id, 0)
                cells.append({2: "[green]exact match[/]", 1: "[green]applies[/]"}.get(grade, "[red]does not apply[/]"))
            table.add_row(*cells)
        console.print(table)
        console.print(f"[italic]{note}[/]\n")

    show("router won't connect to wifi after update",
         "A shared symptom: the best lexical matches span several products, models and firmware ranges.")
    show("error E-102",
         "Error codes, model numbers and versions are kept whole by the analyzer, so 'E-102' matches exactly.")

    query = next(q for q in hc.queries if q.names_product is None and len(hc.qrels[q.id]) >= 2)
    customer = hc.customer(query.customer_id)
    owned = ", ".join(f"{o['product']} {o['version']} ({o['status']})" for o in customer["owned"])
    found = index.search(query.text, k=k)
    applicable = sum(1 for r in found.rows.tolist() if hc.corpus[r].id in hc.qrels[query.id])
    show(query.text,
         f"{customer['customer_id']} ({customer['region']}, owns {owned}) asked this. Only {applicable} of the top "
         f"{len(found)} unpersonalized results apply to them: the ground truth depends on who asks. "
         "Personalized reranking uses exactly this signal.",
         customer=customer, relevant=dict(hc.qrels[query.id]))
    console.print("Next: `kbrank index <corpus.jsonl> --out DIR` and `kbrank search DIR \"query\"` on your own articles.")
