"""`kbrank demo`: build the bundled demo help centre and run a few searches, explaining what they show.

It works offline on a fresh machine: the help centre is generated (seeded) on first use.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from rich.console import JustifyMethod

__all__ = ["run_demo"]


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
    from .personalize import Personalizer
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
        from .index.embedding_cache import default_embedding_cache_dir

        dense = DenseIndex(cache_dir=default_embedding_cache_dir())
        console.print(f"Encoding articles with all-MiniLM-L6-v2 (offline; cached in {default_embedding_cache_dir()})...")
    aliases = {product: [entry["short_name"], entry["name"]] for product, entry in hc.catalog.items()}
    searcher = Searcher(mode=mode, dense=dense,
                        personalizer=Personalizer(today=hc.as_of, product_aliases=aliases)).build(hc.corpus)
    console.print(f"Built the {mode} index in {time.perf_counter() - started:.1f} s.\n")
    if len(searcher.available_modes()) > 1:
        _compare_modes(console, searcher, "my wifi keeps cutting out", k)
        console.print("[italic]BM25 matches words, the dense model matches meaning ('cutting out' ~ 'drops'), and "
                      "hybrid fuses both rankings (reciprocal rank fusion).[/]\n")

    def show(results: Any, note: str, relevant: Mapping[str, int] | None = None) -> None:
        title = f"“{results.query}” ({'personalized' if results.personalized else 'unpersonalized'})"
        table = Table(title=title, title_justify="left")
        columns: tuple[tuple[str, JustifyMethod], ...] = (("#", "right"), ("article", "left"), ("applies to", "left"),
                                                         ("why", "left"))
        for name, justify in columns:
            table.add_column(name, justify=justify)
        if relevant is not None:
            table.add_column("right for them?")
        for result in results:
            article = hc.corpus.get(result.article_id)
            scope = ", ".join(f"{p} {article.versions.get(p, '')}".strip() for p in article.products) or "everyone"
            why = "\n".join(f"{c.delta:+.2f} {c.reason}" for c in result.contributions) or \
                ", ".join(f"{n} #{h.rank}" for n, h in result.sources.items() if h.rank)
            cells = [str(result.rank), f"{article.title}\n[dim]{article.id} · {article.kind} · {article.status}[/]",
                     scope, why]
            if relevant is not None:
                grade = relevant.get(article.id, 0)
                cells.append({2: "[green]exact match[/]", 1: "[green]applies[/]"}.get(grade, "[red]does not apply[/]"))
            table.add_row(*cells)
        console.print(table)
        console.print(f"[italic]{note}[/]\n")

    show(searcher.search("router won't connect to wifi after update", k=k),
         "A shared symptom: the best matches span several products, models and firmware ranges.")
    show(searcher.search("error E-102", k=k, mode="bm25" if "bm25" in searcher.available_modes() else None),
         "Error codes, model numbers and versions are kept whole by the analyzer, so 'E-102' matches exactly.")

    from .privacy import ProfileGateway

    query = next(q for q in hc.queries if q.names_product is None and len(hc.qrels[q.id]) >= 3)
    customer = hc.customer(query.customer_id)
    owned = ", ".join(f"{o['product']} {o['version']} ({o['status']})" for o in customer["owned"])
    relevant = dict(hc.qrels[query.id])
    plain = searcher.search(query.text, k=k)
    applicable = sum(1 for r in plain if r.article_id in relevant)
    show(plain, f"{customer['customer_id']} ({customer['region']}, owns {owned}) asked this. Only {applicable} of "
                f"the top {len(plain)} unpersonalized results apply to them.", relevant)
    with ProfileGateway.from_helpcentre(hc, key=os.environ.get("KBRANK_KEY", "kbrank-demo-pseudonymization-key")) as gateway:
        view = gateway.read(query.customer_id, "personalization", requester="kbrank-demo", degrade=True)
    personal = searcher.search(query.text, k=k, profile=view, explain_hidden=True)
    applicable = sum(1 for r in personal if r.article_id in relevant)
    show(personal, f"Personalized through the privacy gate (purpose 'personalization', fields {', '.join(view.fields)}): "
                   f"{applicable} of {len(personal)} apply, and every move has a receipt. "
                   f"{len(personal.hidden)} of the unpersonalized top {k} were hidden, e.g. "
                   + "; ".join(f"{h.article_id}: {h.reasons[0].reason}" for h in personal.hidden[:2]) + ".", relevant)
    console.print("Next: `kbrank index <corpus.jsonl> --out DIR`, then "
                  "`kbrank search DIR \"query\" --profile customers.jsonl --customer ID --show-hidden`.")
    from .cli_notify import demo_plan

    demo_plan(console, hc, key=os.environ.get("KBRANK_KEY", "kbrank-demo-pseudonymization-key"))
