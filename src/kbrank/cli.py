"""The ``kbrank`` command line (typer + rich). The only module that prints.

Exit codes: 0 success; 1 an unexpected kbrank error; 2 bad input (a file, an argument, an unknown id, a usage
error); 3 an index directory or profile store that cannot be trusted (missing, tampered, unknown format,
another key); 4 a missing optional dependency; 5 an output that cannot be written (an existing file, a
directory kbrank did not write, a read-only or full disk; what was there is left intact); 130 interrupted.
Errors are one line on stderr, never a traceback (set ``KBRANK_DEBUG=1`` to see it). Everything that comes
from data (titles, ids, queries, error messages quoting them) is printed as plain text: rich markup in it is
never interpreted, and terminal control sequences are removed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.table import Table
from rich.text import Text

from ._cli_common import _error_line, _progress_bar, _run, _utf8, console, errors, plain
from .cli_chat import chat_app
from .cli_notify import notify_app
from .cli_serve import serve
from .errors import InputError, ParameterError, did_you_mean

if TYPE_CHECKING:
    from rich.console import JustifyMethod

    from .corpus import Corpus

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="kbrank: personalized knowledge-base search (BM25 + dense, fused, explained).")
def _output_path(value: str, option: str) -> Path:
    """A non-empty output path (an empty one would silently mean the current directory)."""
    if not value.strip():
        raise ParameterError(option, "a non-empty path", value, hint="Name the directory to write.")
    return Path(value)


def _load_corpus(path: Path) -> Corpus:
    from .corpus import Corpus

    if path.is_dir():
        return Corpus.from_beir(path)
    return Corpus.from_jsonl(path)


@app.command()
def index(
    corpus: Path = typer.Argument(..., help="A JSONL file of articles, or a BEIR folder holding corpus.jsonl."),
    out: str = typer.Option(..., "--out", "-o", help="The index directory to write (replaced atomically): new, "
                            "empty, or an index kbrank wrote."),
    mode: str = typer.Option("hybrid", help="bm25, dense or hybrid (both, fused)."),
    variant: str = typer.Option("okapi", help="BM25 variant: okapi, bm25l or bm25+."),
    force: bool = typer.Option(False, "--force", help="Also write into a non-empty directory that is not a kbrank "
                               "index (its files are never deleted or overwritten)."),
) -> None:
    """Build an index directory from a corpus, with a progress bar."""
    from .index import BM25Index
    from .searcher import Searcher
    from .storage import check_target

    def body() -> None:
        _output_path(out, "--out")
        check_target(out, force=force)  # refuse a bad --out before the (long) build
        articles = _load_corpus(corpus)
        with _progress_bar() as progress:
            tasks: dict[str, Any] = {}

            def report(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = progress.add_task(step, total=total)
                progress.update(tasks[step], completed=done)

            searcher = Searcher(mode=mode, bm25=BM25Index(variant=variant)).build(articles, progress=report)
            searcher.save(out, force=force)
        console.print(Text(plain(f"indexed {len(articles)} articles ({mode}) into {out}")))

    _run(body)


def _profile_view(profile_file: Path, customer: Optional[str]) -> Any:
    """Read one customer from a JSON/JSONL file *through the privacy gate* (purpose personalization).

    The records go into an in-memory gateway keyed by ``$KBRANK_KEY`` (or a random key for this run), so
    even the CLI reads profiles only by purpose, with consent, minimized and audited.
    """
    import secrets

    from ._io import iter_jsonl
    from .errors import ProfileError
    from .privacy import ProfileGateway

    records = [record for _, record in iter_jsonl(profile_file, error=ProfileError)]
    ids = [str(r.get("customer_id")) for r in records if isinstance(r, dict) and r.get("customer_id") is not None]
    if customer is None:
        if len(records) != 1:
            raise InputError(f"the file holds {len(records)} customers", source=str(profile_file),
                             fix="pick one with --customer ID")
        customer = ids[0] if ids else ""
    elif customer not in ids:
        close = did_you_mean(customer, ids)
        raise InputError("no customer with this id in the file", source=str(profile_file), field="--customer",
                         value=customer, fix=f"did you mean {close!r}?" if close else "check the id")
    gateway = ProfileGateway.in_memory(key=os.environ.get("KBRANK_KEY") or secrets.token_bytes(32))
    try:
        gateway.load_records(records, source=str(profile_file))
        return gateway.read(customer, "personalization", requester="kbrank-cli", degrade=True)
    finally:
        gateway.close()


@app.command()
def search(
    index_dir: Path = typer.Argument(..., help="An index directory written by `kbrank index`."),
    query: str = typer.Argument(..., help="The query text."),
    k: int = typer.Option(10, "-k", min=1, help="How many results."),
    mode: Optional[str] = typer.Option(None, help="bm25, dense or hybrid (default: the index's mode)."),
    profile: Optional[Path] = typer.Option(None, "--profile", help="Personalize for a customer (JSON/JSONL)."),
    customer: Optional[str] = typer.Option(None, "--customer", help="Which customer of --profile."),
    show_hidden: bool = typer.Option(False, "--show-hidden", help="Also list what the profile hid, and why."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Search an index directory, optionally personalized for a customer, with a receipt per result."""
    from .searcher import Searcher

    def body() -> None:
        text = _utf8(query, "QUERY")
        if customer is not None and profile is None:
            raise InputError("--customer needs --profile", field="--customer", value=customer,
                             fix="add --profile customers.jsonl (the file that holds this customer)")
        view = _profile_view(profile, customer) if profile is not None else None
        # One query per process: numpy's BM25 search answers it sooner than loading the compiled kernels would.
        searcher = Searcher.load(index_dir, kernels="numpy")
        results = searcher.search(text, k=k, mode=mode, profile=view, explain_hidden=show_hidden)
        if as_json:
            console.print_json(json.dumps(results.to_dict()))
            return
        _print_results(results)

    _run(body)


def _article(title: str, article_id: str) -> Text:
    return Text.assemble(plain(title), "\n", (plain(article_id), "dim"))


def _print_results(results: Any) -> None:
    if results.notice:
        console.print(Text(plain(results.notice), style="yellow"))
    if not len(results):
        console.print(Text(f"no article matches “{plain(results.query)}”"))
        return
    title = Text(f"“{plain(results.query)}” ({results.mode}{', personalized' if results.personalized else ''})")
    table = Table(title=title, title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (("#", "right"), ("article", "left"), ("score", "right"),
                                                     ("why", "left"))
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for result in results:
        why = [", ".join(f"{name} #{hit.rank}" if hit.rank else f"{name} -" for name, hit in result.sources.items())]
        why += [f"{c.delta:+.2f} {c.rule}: {c.reason}" for c in result.contributions]
        table.add_row(str(result.rank), _article(result.title, result.article_id), f"{result.score:.4g}",
                      Text(plain("\n".join(why))))
    console.print(table)
    if results.hidden:
        hidden = Table(title="hidden by your profile", title_justify="left")
        hidden.add_column("would rank", justify="right")
        hidden.add_column("article")
        hidden.add_column("why hidden")
        for item in results.hidden:
            hidden.add_row(str(item.retrieval_rank), _article(item.title, item.article_id),
                           Text(plain("\n".join(f"{c.rule}: {c.reason}" for c in item.reasons))))
        console.print(hidden)


@app.command("eval")
def evaluate_index(
    index_dir: Path = typer.Argument(..., help="An index directory built on the data set's corpus."),
    dataset: Path = typer.Option(..., "--dataset", help="A BEIR folder (queries.jsonl, qrels/<split>.tsv)."),
    split: str = typer.Option("test", help="The qrels split to evaluate."),
    mode: Optional[str] = typer.Option(None, help="bm25, dense or hybrid (default: the index's mode)."),
    depth: int = typer.Option(100, "-k", min=1, help="Results per query in the run."),
    out: str = typer.Option("eval-report", "--out", "-o", help="Folder for report.md and report.json."),
) -> None:
    """Run a data set's queries against an index and write a markdown and JSON report."""
    from ._io import check_output_dir
    from .datasets.beir import load_beir
    from .evaluation import Run, evaluate, write_report
    from .searcher import Searcher

    def body() -> None:
        check_output_dir(_output_path(out, "--out"))  # refuse a bad --out before running every query
        data = load_beir(dataset, split=split)
        searcher = Searcher.load(index_dir)
        ids = set(searcher.corpus_.ids)
        unknown = [doc for judged in data.qrels.values() for doc in judged if doc not in ids][:3]
        if unknown:
            raise InputError("the qrels judge articles the index does not hold", source=str(dataset),
                             value=unknown, fix="build the index from this data set's corpus")
        run: dict[str, dict[str, float]] = {}
        with _progress_bar() as progress:
            task = progress.add_task("searching", total=len(data.queries))
            for n, (qid, text) in enumerate(data.queries.items(), start=1):
                found = searcher.search(text, k=depth, mode=mode)
                run[qid] = {r.article_id: r.score for r in found}
                progress.update(task, completed=n)
        name = mode or searcher.mode
        result = evaluate(data.qrels, Run(run, name=name),
                          ["ndcg_cut_10", "map", "recip_rank", "recall_100", "P_10"])
        files = write_report(result, out)
        table = Table(title=Text(plain(f"{dataset.name} ({split}, {name})")), title_justify="left")
        table.add_column("metric")
        table.add_column("mean", justify="right")
        for metric, value in result.means.items():
            table.add_row(metric, f"{value:.4f}")
        console.print(table)
        console.print(Text(plain(f"report: {files.markdown} and {files.json}")))

    _run(body)


@app.command()
def demo(
    k: int = typer.Option(5, "-k", min=1, help="Results per query."),
    mode: str = typer.Option("hybrid", help="bm25, dense or hybrid (hybrid shows all three)."),
) -> None:
    """Build the bundled demo help centre and run a few searches, explaining what they show."""
    from .demo import run_demo

    _run(lambda: run_demo(console, k=k, mode=mode))


app.add_typer(chat_app, name="chat")  # kbrank chat: a conversation with the demo help centre (cli_chat.py)
app.command("serve")(serve)  # kbrank serve: the help-centre page and its JSON API (cli_serve.py, kbrank.web)


# -- privacy ---------------------------------------------------------------------------------------------------
privacy_app = typer.Typer(no_args_is_help=True, help="Customer data behind the privacy gate: access reports.")
app.add_typer(privacy_app, name="privacy")


@privacy_app.command("report")
def privacy_report(
    customer: str = typer.Argument(..., help="The customer's id (pseudonymized with the key, never stored)."),
    store: Path = typer.Option(..., "--store", help="The SQLite profile store (with its audit trail)."),
    key_env: str = typer.Option("KBRANK_KEY", "--key-env", help="The environment variable holding the key."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (a portable copy of the data) instead."),
) -> None:
    """Print a data-subject access report: the data held, what each purpose may use, and who read it."""
    from .privacy import ProfileGateway

    def body() -> None:
        key = os.environ.get(key_env)
        if not key:
            raise InputError("the environment variable holding the key is not set", field="--key-env",
                             value=key_env, fix=f"export {key_env}=<the key the store was written with>")
        with ProfileGateway.open(store, key=key, create=False, requester="kbrank.cli") as gateway:
            report = gateway.access_report(customer)
        if as_json:
            console.print_json(json.dumps(report.to_dict()))
        else:
            _print_access_report(report.to_dict())

    _run(body)


def _add(table: Table, *cells: object) -> None:
    """A table row of data: each cell plain text (no markup interpreted, control characters removed)."""
    table.add_row(*(Text(plain(cell)) for cell in cells))


def _print_access_report(report: dict[str, Any]) -> None:
    console.print(f"[bold]Data-subject access report[/] for customer {report['customer']} (pseudonym), "
                  f"generated {report['generated_at']}")
    data = report["data"]
    if data is None:
        console.print("No profile is held (it was never stored, or it was erased).")
    else:
        table = Table(title="Data held", title_justify="left", show_header=False)
        for name in ("region", "locale", "segment", "preferred_channel"):
            _add(table, name, str(data[name]))
        for channel, address in data["addresses"].items():
            _add(table, f"address ({channel})", address)
        owned = [f"{o['product']} {o['version'] or '(version unknown)'} ({o['status']}, {o['platform'] or 'platform unknown'}, "
                 f"since {o['registered_at']})" for o in data["owned"]]
        _add(table, "owned products", "\n".join(owned) or "none")
        features = sorted({f"{u['product']}: {u['feature']}" for u in data["usage"]})
        _add(table, "usage events", f"{len(data['usage'])} ({report['expired_events']} past retention, awaiting "
                      f"purge)\n" + "\n".join(features))
        consents = [f"{scope}: {'yes' if value is True or (isinstance(value, dict) and value['granted']) else 'no'}"
                    for scope, value in data["consents"].items() if scope != "channels"]
        consents += [f"channel {name}: {'yes' if value is True or (isinstance(value, dict) and value['granted']) else 'no'}"
                     for name, value in data["consents"].get("channels", {}).items()]
        _add(table, "consents", "\n".join(consents) or "none recorded")
        console.print(table)
    uses = Table(title="What each purpose may use", title_justify="left")
    for column in ("purpose", "why", "consented", "fields it gets now"):
        uses.add_column(column)
    for use in report["purposes"]:
        _add(uses, use["purpose"], use["description"], "yes" if use["consented"] else "no",
                     ", ".join(use["fields"]) or "-")
    console.print(uses)
    days = report["retention_days"]
    console.print(f"Usage history is kept for {days:g} days." if days else "Usage history is kept until erased.")
    history = Table(title=f"Access history ({len(report['history'])} events)", title_justify="left")
    for column in ("when", "who", "action", "purpose", "outcome", "fields"):
        history.add_column(column)
    for event in report["history"]:
        _add(history, event["at"], event["requester"], event["action"], event["purpose"] or "-",
                        event["outcome"], ", ".join(event["fields"]) or "-")
    console.print(history)


# -- proactive service (kbrank.cli_notify) -----------------------------------------------------------------
app.add_typer(notify_app(run=_run, console=console, errors=errors, progress_bar=_progress_bar), name="notify")


def main(argv: list[str] | None = None) -> int:
    """The console entry point: runs a command and returns its exit code. Usage errors (an unknown option, a
    missing argument, a bad value) are one line too, with exit code 2."""
    try:  # typer vendors click (typer._click) since 0.29; older versions raise click's own classes
        from typer._click import exceptions as click_errors
    except ImportError:  # pragma: no cover - typer < 0.29
        import click as click_errors  # type: ignore[no-redef]  # the same classes, before typer vendored click

    try:
        code = app(args=argv, prog_name="kbrank", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except getattr(click_errors, "NoArgsIsHelpError", ()) as exc:  # bare `kbrank`: the help, as usual
        console.print(Text(plain(exc.format_message())))
        return 2
    except click_errors.UsageError as exc:
        errors.print(_error_line(f"{exc.format_message()} (see kbrank --help)"), highlight=False, soft_wrap=True)
        return 2
    except click_errors.ClickException as exc:
        errors.print(_error_line(exc.format_message()), highlight=False, soft_wrap=True)
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        errors.print(_error_line("interrupted"), highlight=False)
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
