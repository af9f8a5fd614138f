"""The ``kbrank`` command line (typer + rich). The only module that prints.

Exit codes: 0 success; 1 an unexpected kbrank error; 2 bad input (a file, an argument, an unknown id);
3 an index directory that cannot be trusted (missing, tampered, unknown format); 4 a missing optional
dependency. Errors are one line on stderr, never a traceback (set ``KBRANK_DEBUG=1`` to see it).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import IndexFormatError, InputError, KBRankError, MissingDependencyError, ParameterError, UnknownArticleError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="kbrank: personalized knowledge-base search (BM25 + dense, fused, explained).")
console = Console()
errors = Console(stderr=True)

EXIT_CODES: list[tuple[type[BaseException], int]] = [
    (MissingDependencyError, 4),
    (IndexFormatError, 3),
    (InputError, 2),
    (ParameterError, 2),
    (UnknownArticleError, 2),
    (KBRankError, 1),
]


def _run(action: Callable[[], Any]) -> Any:
    """Run a command body, turning kbrank errors into one line and a meaningful exit code."""
    try:
        return action()
    except KBRankError as exc:
        if os.environ.get("KBRANK_DEBUG") == "1":
            raise
        code = next(code for kind, code in EXIT_CODES if isinstance(exc, kind))
        errors.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(code) from None


def _load_corpus(path: Path):
    from .corpus import Corpus

    if path.is_dir():
        return Corpus.from_beir(path)
    return Corpus.from_jsonl(path)


@app.command()
def index(
    corpus: Path = typer.Argument(..., help="A JSONL file of articles, or a BEIR folder holding corpus.jsonl."),
    out: Path = typer.Option(..., "--out", "-o", help="The index directory to write (replaced atomically)."),
    variant: str = typer.Option("okapi", help="BM25 variant: okapi, bm25l or bm25+."),
) -> None:
    """Build an index directory from a corpus, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .index import BM25Index

    def body() -> None:
        articles = _load_corpus(corpus)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=errors) as progress:
            task = progress.add_task("analyzing", total=len(articles))
            bm25 = BM25Index(variant=variant).build(
                articles, progress=lambda done, total: progress.update(task, completed=done))
            progress.update(task, description="saving")
            bm25.save(out)
        console.print(f"indexed {len(articles)} articles ({bm25.counts_.n_terms} terms) into {out}")

    _run(body)


@app.command()
def search(
    index_dir: Path = typer.Argument(..., help="An index directory written by `kbrank index`."),
    query: str = typer.Argument(..., help="The query text."),
    k: int = typer.Option(10, "-k", min=1, help="How many results."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Search an index directory."""
    from .index import BM25Index

    def body() -> None:
        bm25 = BM25Index.load(index_dir)
        found = bm25.search(query, k=k)
        corpus = bm25.corpus_
        rows = [{"rank": i + 1, "id": corpus[int(r)].id, "score": float(s), "title": corpus[int(r)].title}
                for i, (r, s) in enumerate(zip(found.rows, found.scores))]
        if as_json:
            console.print_json(json.dumps({"query": query, "k": k, "results": rows}))
            return
        _print_results(query, rows)

    _run(body)


def _print_results(query: str, rows: list[dict], caption: str | None = None) -> None:
    table = Table(title=f"“{query}”", caption=caption, show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("article")
    table.add_column("score", justify="right")
    table.add_column("title")
    for row in rows:
        table.add_column if False else None
        table.add_row(str(row["rank"]), row["id"], f"{row['score']:.3f}", row["title"])
    if not rows:
        console.print(f"no article matches “{query}”")
        return
    console.print(table)


@app.command()
def demo(k: int = typer.Option(5, "-k", min=1, help="Results per query.")) -> None:
    """Build the bundled demo help centre and run a few searches, explaining what they show."""
    from .demo import run_demo

    _run(lambda: run_demo(console, k=k))


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
