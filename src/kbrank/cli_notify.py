"""``kbrank notify``: tell the customers a known issue will hit, through the outbox, and keep them updated.

Where things are (the same options on every command):

* ``--store DB``: the SQLite profile store, opened through the privacy gate with the key in ``$KBRANK_KEY``
  (``--key-env`` names another variable), exactly as ``kbrank privacy report`` does. The store must exist.
* ``--outbox DB``: the outbox; by default the store's own file (one file to back up, and erasure's compaction
  covers both). An outbox of its own is fine too.
* ``--issues FILE``: the known issues (JSONL or YAML), read only: kbrank never rewrites it. ``notify update``
  records the new status in the outbox's thread for the issue; a later command starts from the file and, when
  ``--status`` is given, from the status the thread last announced.
* ``--corpus FILE`` (articles JSONL, for the titles and links of the workaround and fix articles) or
  ``--article-url 'https://help.example.com/a/{id}'``; ``--templates DIR`` adds or overrides templates.
* ``notify send`` delivers to ``--deliveries FILE`` (JSONL, default beside the outbox:
  ``<outbox>.deliveries.jsonl``) or, with ``--webhook URL``, to a Standard Webhooks endpoint signed with the
  secret in ``$KBRANK_WEBHOOK_SECRET`` (``--secret-env``).

Errors are one line with the CLI's exit codes (2 bad input, 3 a store or outbox that cannot be trusted, 4 a
missing optional dependency); an interrupted ``send`` exits 130 and resumes where it stopped when run again.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import JustifyMethod
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

__all__ = ["notify_app", "print_plan", "demo_plan"]

_KEY_ENV = typer.Option("KBRANK_KEY", "--key-env", help="The environment variable holding the store's key.")
_STORE = typer.Option(..., "--store", help="The SQLite profile store (read through the privacy gate).")
_OUTBOX = typer.Option(None, "--outbox", help="The outbox database (default: the store's own file).")
_ISSUES = typer.Option(..., "--issues", help="Known issues, JSONL or YAML (read only).")
_CORPUS = typer.Option(None, "--corpus", help="Articles (JSONL) for the linked articles' titles and URLs.")
_ARTICLE_URL = typer.Option(None, "--article-url", help="URL format for linked articles, e.g. 'https://kb/{id}'.")
_TEMPLATES = typer.Option(None, "--templates", help="A folder of message templates (one subfolder per locale).")
_ROUTE = typer.Option(None, "--route", help="Send one channel's messages as another, e.g. push=in_app (repeat).")
_CONFIRM = typer.Option(False, "--confirm", help="Confirm a plan above the audience guard's limit.")
_DRY_RUN = typer.Option(False, "--dry-run", help="Show the plan (audience and three samples); store nothing.")


def _key(key_env: str) -> str:
    from .errors import InputError

    key = os.environ.get(key_env)
    if not key:
        raise InputError("the environment variable holding the key is not set", field="--key-env", value=key_env,
                         fix=f"export {key_env}=<the key the store was written with>")
    return key


def _gateway(store: Path, key_env: str) -> Any:
    from .privacy import ProfileGateway

    return ProfileGateway.open(store, key=_key(key_env), create=False, requester="kbrank.cli.notify")


def _outbox(path: Path, *, create: bool) -> Any:
    from .proactive import Outbox

    return Outbox(path, create=create)


def _issue(issues: Path, issue_id: str) -> Any:
    from .errors import InputError, did_you_mean
    from .proactive import read_known_issues

    known = {issue.id: issue for issue in read_known_issues(issues)}
    if issue_id not in known:
        close = did_you_mean(issue_id, known, cutoff=0.5)
        raise InputError("no known issue with this id", source=str(issues), field="id", value=issue_id,
                         fix=f"did you mean {close!r}?" if close else f"use one of {', '.join(known) or '(none)'}")
    return known[issue_id]


def _articles(corpus: Optional[Path]) -> Any:
    if corpus is None:
        return None
    from .corpus import Corpus

    return Corpus.from_jsonl(corpus)


def _templates(directory: Optional[Path], article_url: Optional[str]) -> Any:
    from .proactive import Templates

    return Templates(directory=directory, article_url=article_url)


def _routes(route: Optional[list[str]]) -> dict[str, str]:
    from .errors import ParameterError

    out = {}
    for item in route or []:
        source, sep, target = item.partition("=")
        if not sep or not source or not target:
            raise ParameterError("--route", "FROM=TO, e.g. push=in_app", item)
        out[source.strip()] = target.strip()
    return out


def print_plan(console: Any, plan: Any, audience: Any, *, samples: int = 3) -> None:
    """Print a plan: the audience by segment, channel and decision, what is held back, and sample messages.
    Everything taken from data is shown as plain text (never as rich markup)."""
    update = plan.update
    console.print(Text(f"Plan for {update.issue} ({update.title}): update {update.number}, status {update.status}"
                       f"{', quiet' if update.quiet else ''}{', closes the thread' if update.closes else ''}",
                       style="bold"))
    if audience is not None:
        console.print(Text(f"{audience.n_affected} customers affected of {audience.n_scanned} scanned; "
                           f"{len(plan)} messages planned."))
    table = Table(title="Audience by segment, channel and impact decision", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (("segment", "left"), ("channel", "left"), ("decision", "left"),
                                                     ("customers", "right"))
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for row in plan.summary():
        table.add_row(Text(str(row["segment"])), Text(row["channel"]), Text(row["decision"]), str(row["customers"]))
    console.print(table)
    for reason, n in plan.held_back.items():
        console.print(Text(f"  held back: {n} ({reason})"))
    if plan.requires_confirmation:
        console.print(Text(f"This plan sends {len(plan)} messages, above the guard's {plan.confirm_above}: "
                           "enqueue it with --confirm.", style="yellow"))
    shown: list[Any] = []
    for message in plan.messages:  # one sample per distinct channel and locale first
        if len(shown) < samples and all((m.channel, m.locale) != (message.channel, message.locale) for m in shown):
            shown.append(message)
    shown += [m for m in plan.messages if m not in shown][: samples - len(shown)]
    for message in shown:
        title = Text(f"{message.channel} · {message.locale} · {message.kind} · customer {message.customer[:12]}…")
        console.print(Panel(Text(f"Subject: {message.subject}\n\n{message.body.strip()}"), title=title,
                            title_align="left"))


def demo_plan(console: Any, helpcentre: Any, *, key: str) -> None:
    """The demo's last step: a dry-run plan for one of the help centre's known issues (nothing is stored).

    It picks the open issue with a scheduled fix whose audience shows the impact policy at work (some affected
    customers contacted, some not), the most affected first.
    """
    from .privacy import ProfileGateway
    from .proactive import plan, select_affected

    console.rule(Text("Proactive service: who a known issue will hit, told before they call"))
    with ProfileGateway.from_helpcentre(helpcentre, key=key, requester="kbrank-demo") as gateway:
        candidates = [(issue, select_affected(issue, gateway, requester="kbrank-demo"))
                      for issue in helpcentre.known_issues if issue.open and issue.eta is not None]
    mixed = [c for c in candidates if 0 < c[1].n_to_contact < len(c[1])] or candidates
    issue, audience = max(mixed, key=lambda c: (c[1].n_affected, c[0].id))
    console.print(Text(f"{issue.id}: {issue.title} (impact {issue.impact}, {issue.status}, fix due {issue.eta}). "
                       f"Selected through the privacy gate (purpose proactive-contact, one audited columnar scan)."))
    print_plan(console, plan(issue, audience, articles=helpcentre.corpus), audience)
    console.print(Text("Dry run: nothing was stored. For real: kbrank notify plan ISSUE --issues FILE --store DB, "
                       "then kbrank notify send.", style="italic"))


def notify_app(*, run: Callable[[Callable[[], Any]], Any], console: Any, errors: Any,
               progress_bar: Callable[[], Any]) -> typer.Typer:
    """The ``notify`` sub-app, given the CLI's error handler ``run`` (one line, meaningful exit codes), its
    consoles and its progress bar (so this module never imports `kbrank.cli`)."""
    app = typer.Typer(no_args_is_help=True, help="Proactive service: tell affected customers about known issues.")

    def plan_and_store(issue: Any, store: Path, outbox_path: Optional[Path], key_env: str, corpus: Optional[Path],
                       article_url: Optional[str], templates_dir: Optional[Path], route: Optional[list[str]],
                       dry_run: bool, confirm: bool, quiet: bool = False) -> None:
        from .proactive import Outbox, plan, plan_update, select_affected

        templates, articles, routes = _templates(templates_dir, article_url), _articles(corpus), _routes(route)
        outbox_file = outbox_path or store
        with _gateway(store, key_env) as gateway:
            audience = select_affected(issue, gateway, requester="kbrank.cli.notify")
            if dry_run and not Outbox.exists(outbox_file):
                made = plan(issue, audience, templates, articles=articles, route=routes, quiet=quiet)
                print_plan(console, made, audience)
                console.print(Text("Dry run: nothing was stored.", style="italic"))
                return
            with _outbox(outbox_file, create=not dry_run) as outbox:
                made = plan_update(issue, outbox=outbox, audience=audience, templates=templates, articles=articles,
                                   route=routes, quiet=quiet)
                print_plan(console, made, audience)
                if dry_run:
                    console.print(Text("Dry run: nothing was stored.", style="italic"))
                    return
                report = outbox.enqueue(made, confirm=confirm)
            console.print(Text(f"Stored update {report.update} of {report.issue}: {report.added} new messages, "
                               f"{report.existing} already in the outbox, {report.superseded} superseded. "
                               f"Send them with `kbrank notify send`."))

    @app.command("plan")
    def plan_command(issue_id: str = typer.Argument(..., help="The known issue's id."), issues: Path = _ISSUES,
                     store: Path = _STORE, outbox: Optional[Path] = _OUTBOX, key_env: str = _KEY_ENV,
                     corpus: Optional[Path] = _CORPUS, article_url: Optional[str] = _ARTICLE_URL,
                     templates: Optional[Path] = _TEMPLATES, route: Optional[list[str]] = _ROUTE,
                     dry_run: bool = _DRY_RUN, confirm: bool = _CONFIRM) -> None:
        """Select the customers an issue affects and plan one message each (the first notice)."""
        run(lambda: plan_and_store(_issue(issues, issue_id), store, outbox, key_env, corpus, article_url, templates,
                                   route, dry_run, confirm))

    @app.command("update")
    def update_command(issue_id: str = typer.Argument(..., help="The known issue's id."), issues: Path = _ISSUES,
                       store: Path = _STORE, outbox: Optional[Path] = _OUTBOX, key_env: str = _KEY_ENV,
                       status: Optional[str] = typer.Option(None, "--status", help="The new status, e.g. fixed."),
                       eta: Optional[str] = typer.Option(None, "--eta", help="The fix's ETA (YYYY-MM-DD)."),
                       note: str = typer.Option("", "--note", help="A note kept in the issue's history."),
                       quiet: bool = typer.Option(False, "--quiet", help="Record the change; notify nobody."),
                       corpus: Optional[Path] = _CORPUS, article_url: Optional[str] = _ARTICLE_URL,
                       templates: Optional[Path] = _TEMPLATES, route: Optional[list[str]] = _ROUTE,
                       dry_run: bool = _DRY_RUN, confirm: bool = _CONFIRM) -> None:
        """Announce a status change (or an ETA change) to everyone told before and the newly affected."""

        def body() -> None:
            issue = _issue(issues, issue_id)
            if status is not None or eta is not None:
                issue = _current(issue, outbox or store)
                issue = issue.with_status(status or issue.status, eta=_eta(eta) if eta is not None else ...,
                                          note=note, at=dt.datetime.now(dt.timezone.utc))
            plan_and_store(issue, store, outbox, key_env, corpus, article_url, templates, route, dry_run, confirm,
                           quiet=quiet)

        run(body)

    @app.command("send")
    def send_command(store: Path = _STORE, outbox: Optional[Path] = _OUTBOX, key_env: str = _KEY_ENV,
                     deliveries: Optional[Path] = typer.Option(None, "--deliveries", help="The JSONL delivery log."),
                     webhook: Optional[str] = typer.Option(None, "--webhook", help="POST to this URL instead."),
                     secret_env: str = typer.Option("KBRANK_WEBHOOK_SECRET", "--secret-env",
                                                    help="The variable holding the webhook signing secret."),
                     batch_size: int = typer.Option(100, "--batch-size", min=1, help="Messages per lease."),
                     lease: float = typer.Option(60.0, "--lease", min=0.1, help="Seconds a lease holds."),
                     attempts: int = typer.Option(8, "--max-attempts", min=1, help="Attempts before dead-letter."),
                     worker: Optional[str] = typer.Option(None, "--worker", help="This dispatcher's name.")) -> None:
        """Deliver every due message through the outbox (resumable: run it again after a crash)."""

        def body() -> None:
            from .proactive import Dispatcher, JsonlSender, RetryPolicy, WebhookSender

            outbox_file = outbox or store
            with _gateway(store, key_env) as gateway, _outbox(outbox_file, create=False) as box:
                if webhook is not None:
                    sender: Any = WebhookSender(webhook, secret=_key(secret_env))
                else:
                    sender = JsonlSender(deliveries or outbox_file.with_name(outbox_file.name + ".deliveries.jsonl"))
                dispatcher = Dispatcher(outbox=box, gateway=gateway, senders=sender, batch_size=batch_size,
                                        lease_for=dt.timedelta(seconds=lease), worker=worker,
                                        retry=RetryPolicy.up_to(attempts))
                counts = box.counts()
                total = counts["pending"] + counts["failed"] + counts["leased"]
                held_until = box.next_due(leased_only=True)
                if held_until is not None:
                    errors.print(Text(f"{counts['leased']} messages are leased by another dispatcher (or one that "
                                      f"stopped); they are sent here once their leases end, from "
                                      f"{held_until.isoformat()}"))
                try:
                    with progress_bar() as progress:
                        task = progress.add_task("sending", total=total)
                        report = dispatcher.run(progress=lambda r: progress.update(task, completed=r.handled))
                except KeyboardInterrupt:
                    errors.print("interrupted: run `kbrank notify send` again to resume", markup=False)
                    raise typer.Exit(130) from None
                finally:
                    sender.close()
                skipped = sum(report.skipped.values())
                console.print(Text(f"sent {report.sent} ({report.duplicates} already delivered before), skipped "
                                   f"{skipped}, failed {report.failed} (will retry), dead {report.dead}"))
                for reason, n in report.skipped.items():
                    console.print(Text(f"  skipped {n}: {reason}"))
                waiting = box.next_due()
                if waiting is not None:
                    console.print(Text(f"next retry due at {waiting.isoformat()}: run `kbrank notify send` again"))

        run(body)

    @app.command("status")
    def status_command(issue_id: str = typer.Argument(..., help="The known issue's id."),
                       outbox: Optional[Path] = typer.Option(None, "--outbox", help="The outbox database."),
                       store: Optional[Path] = typer.Option(None, "--store", help="The store holding the outbox.")
                       ) -> None:
        """Counts of pending, sent, failed and dead messages for an issue, and its thread of updates."""

        def body() -> None:
            from .errors import InputError, ParameterError

            path = outbox or store
            if path is None:
                raise ParameterError("--outbox", "the outbox database (or --store, when the outbox is inside it)",
                                     None)
            with _outbox(path, create=False) as box:
                thread = box.thread(issue_id)
                if thread is None:
                    raise InputError("nothing was planned for this issue", source=str(path), value=issue_id,
                                     fix="plan it first: kbrank notify plan ISSUE --issues FILE --store DB")
                counts = box.counts(issue_id)
            console.print(Text(f"{issue_id}: {thread.title}", style="bold"))
            table = Table(title="Messages", title_justify="left")
            table.add_column("state")
            table.add_column("messages", justify="right")
            for state, n in counts.items():
                table.add_row(state, str(n))
            console.print(table)
            updates = Table(title="Thread", title_justify="left")
            for column in ("update", "status", "ETA", "notes"):
                updates.add_column(column)
            for u in thread.updates:
                notes = ", ".join(n for n, on in (("quiet", u.quiet), ("closes the thread", u.closes)) if on)
                updates.add_row(str(u.number), Text(u.status), Text(u.eta or "-"), notes or "-")
            console.print(updates)
            if thread.closed:
                console.print(Text("The thread is closed: nobody is told more about this issue."))

        run(body)

    @app.command("unsubscribe")
    def unsubscribe_command(customer: str = typer.Argument(..., help="The customer's id (pseudonymized)."),
                            store: Path = _STORE, outbox: Optional[Path] = _OUTBOX, key_env: str = _KEY_ENV,
                            issue: Optional[str] = typer.Option(None, "--issue", help="Only this issue "
                                                                "(default: every issue).")) -> None:
        """Stop proactive messages to a customer, for one issue or for all."""

        def body() -> None:
            with _gateway(store, key_env) as gateway, _outbox(outbox or store, create=True) as box:
                skipped = box.unsubscribe(gateway.pseudonymize(customer), issue)
            scope = f"issue {issue}" if issue else "every issue"
            console.print(Text(f"unsubscribed from {scope}; {skipped} waiting messages will not be sent"))

        run(body)

    return app


def _eta(text: str) -> dt.date:
    from .errors import ParameterError

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParameterError("--eta", "a date written YYYY-MM-DD", text) from None


def _current(issue: Any, outbox_file: Path) -> Any:
    """The issue as last announced: the file's issue, moved to the status its thread last announced."""
    from .proactive import Outbox

    if not Outbox.exists(outbox_file):
        return issue
    with _outbox(outbox_file, create=False) as box:
        thread = box.thread(issue.id)
    if thread is None or (thread.last.status, thread.last.eta) == (
            issue.status, issue.eta.isoformat() if issue.eta else None):
        return issue
    last = thread.last
    eta = _eta(last.eta) if last.eta else None
    if last.status == issue.status or last.status in _later(issue.status):
        return issue.with_status(last.status, eta=eta)
    return issue


def _later(status: str) -> tuple[str, ...]:
    from .proactive import TRANSITIONS

    return TRANSITIONS.get(status, ())

