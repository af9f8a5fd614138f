"""Updates along an issue's thread: the told audience plus the newly affected, erased and unsubscribed left
out, context for those never told, quiet updates, idempotent re-planning, and `fixed` closing the thread."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Iterator

import pytest
from _notify_helpers import Clock, customer, open_gateway

from kbrank.corpus import Article, Corpus
from kbrank.errors import OutboxError
from kbrank.privacy import ProfileGateway
from kbrank.proactive import (
    Dispatcher,
    JsonlSender,
    KnownIssue,
    NotificationPlan,
    Outbox,
    known_issue_from_record,
    plan,
    plan_update,
    select_affected,
)

ARTICLES = Corpus([Article(id="kb-77", title="Turn on night vision by hand", url="https://help.example/kb-77"),
                   Article(id="kb-78", title="Firmware 4.3.2", url="https://help.example/kb-78")])
ISSUE = known_issue_from_record({
    "id": "ki-night", "title": "Night vision stays off", "impact": "broken", "products": ["cam-c10"],
    "versions": {"cam-c10": ">=4.2,<4.3.2"}, "status": "workaround", "workaround_article": "kb-77",
    "fix_article": "kb-78", "fixed_in": {"cam-c10": "4.3.2"}})


@pytest.fixture
def gateway(tmp_path: Path, clock: Clock) -> Iterator[ProfileGateway]:
    made = open_gateway(tmp_path / "profiles.db", [customer(n, version="4.2.1") for n in range(6)], clock)
    yield made
    made.close()


def send(outbox: Outbox, gateway: ProfileGateway, path: Path) -> int:
    with JsonlSender(path) as sender:
        return Dispatcher(outbox=outbox, gateway=gateway, senders=sender).run().sent


def update(issue: KnownIssue, outbox: Outbox, gateway: ProfileGateway,
           **options: object) -> NotificationPlan:
    made = plan_update(issue, outbox=outbox, audience=select_affected(issue, gateway), articles=ARTICLES, **options)
    outbox.enqueue(made)
    return made


def who(gateway: ProfileGateway, n: int) -> str:
    return gateway.pseudonymize(f"cust-{n:05d}")


def test_a_thread_from_notice_to_fix(tmp_path: Path, gateway: ProfileGateway, outbox: Outbox, clock: Clock) -> None:
    log = tmp_path / "sent.jsonl"
    outbox.enqueue(plan(ISSUE, select_affected(ISSUE, gateway), articles=ARTICLES))
    assert send(outbox, gateway, log) == 6
    # the fix gets a date: everyone told hears about it, as an update
    scheduled = ISSUE.with_status("fix-scheduled", eta=dt.date(2026, 11, 20))
    second = update(scheduled, outbox, gateway)
    assert second.update.number == 2 and {m.kind for m in second.messages} == {"update"}
    assert "It is now fix scheduled (it was workaround available)" in second.messages[0].body
    assert "We expect the fix by 2026-11-20" in second.messages[0].body
    # planning the same status again is the same update: nothing new
    again = plan_update(scheduled, outbox=outbox, audience=select_affected(scheduled, gateway), articles=ARTICLES)
    assert again.update.number == 2 and outbox.enqueue(again).added == 0
    assert send(outbox, gateway, log) == 6
    fixed = update(scheduled.with_status("fixed"), outbox, gateway)
    assert fixed.update.closes and len(fixed) == 6
    body = fixed.messages[0].body
    assert "Fixed: Night vision stays off" in body and "Update your cam-c10 to version 4.3.2" in body
    assert send(outbox, gateway, log) == 6
    thread = outbox.thread("ki-night")
    assert thread.closed and [u.status for u in thread.updates] == ["workaround", "fix-scheduled", "fixed"]
    # after the fix nobody is told anything more: closing is recorded quietly
    closed = update(scheduled.with_status("fixed").with_status("closed"), outbox, gateway)
    assert len(closed) == 0 and closed.update.quiet
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 18 and len({line["key"] for line in lines}) == 18
    per_customer = {}
    for line in lines:
        per_customer.setdefault(line["customer"], []).append((line["update"], line["kind"]))
    assert all(v == [(1, "notice"), (2, "update"), (3, "update")] for v in per_customer.values())


def test_never_told_customers_get_one_message_with_the_context(tmp_path: Path, gateway: ProfileGateway,
                                                               outbox: Outbox) -> None:
    log = tmp_path / "sent.jsonl"
    outbox.enqueue(plan(ISSUE, select_affected(ISSUE, gateway), articles=ARTICLES))
    with JsonlSender(log) as sender:  # only 4 of the 6 notices go out before the fix
        Dispatcher(outbox=outbox, gateway=gateway, senders=sender, batch_size=4).run(max_rounds=1)
    gateway.load_records([customer(6, version="4.2.3"), customer(7, version="4.3.2")])  # one more affected
    fixed = update(ISSUE.with_status("fixed"), outbox, gateway)
    kinds = {m.customer: m.kind for m in fixed.messages}
    told = outbox.told("ki-night")
    assert len(told) == 4 and all(kinds[c] == "update" for c in told)
    newcomers = {c: k for c, k in kinds.items() if c not in told}
    assert set(newcomers) == {m.customer for m in outbox.messages(states=["skipped"])} | {who(gateway, 6)}
    assert set(newcomers.values()) == {"notice"} and who(gateway, 7) not in kinds
    notice = next(m for m in fixed.messages if m.customer == who(gateway, 6))
    assert "We know about a problem that has now been fixed" in notice.body and "4.2.3" in notice.body
    # the two old notices never went out: superseded, so nobody gets a stale "workaround" after the fix
    assert {m.error for m in outbox.messages(states=["skipped"])} == {"superseded by update 2 (fixed)"}
    assert send(outbox, gateway, log) == 7


def test_erased_and_unsubscribed_customers_are_left_out(tmp_path: Path, gateway: ProfileGateway,
                                                        outbox: Outbox) -> None:
    outbox.enqueue(plan(ISSUE, select_affected(ISSUE, gateway), articles=ARTICLES))
    send(outbox, gateway, tmp_path / "sent.jsonl")
    gateway.erase("cust-00000")
    outbox.unsubscribe(who(gateway, 1), "ki-night")
    outbox.unsubscribe(who(gateway, 2))  # from everything
    outbox.unsubscribe(who(gateway, 3), "another-issue")  # does not stop this one
    made = update(ISSUE.with_status("fixed"), outbox, gateway)
    assert {m.customer for m in made.messages} == {who(gateway, n) for n in (3, 4, 5)}
    assert made.held_back["unsubscribed"] == 2
    assert who(gateway, 0) not in {r.customer for r in outbox.recipients("ki-night")}


def test_told_customers_who_upgraded_still_hear_about_the_fix(tmp_path: Path, gateway: ProfileGateway,
                                                              outbox: Outbox) -> None:
    outbox.enqueue(plan(ISSUE, select_affected(ISSUE, gateway), articles=ARTICLES))
    send(outbox, gateway, tmp_path / "sent.jsonl")
    gateway.load_records([customer(0, version="4.3.2")])  # no longer affected
    made = update(ISSUE.with_status("fixed"), outbox, gateway)
    assert who(gateway, 0) in {m.customer for m in made.messages}


def test_quiet_updates_record_without_notifying(tmp_path: Path, gateway: ProfileGateway, outbox: Outbox) -> None:
    outbox.enqueue(plan(ISSUE, select_affected(ISSUE, gateway), articles=ARTICLES))
    made = update(ISSUE.with_status("fix-scheduled", eta=dt.date(2026, 12, 1)), outbox, gateway, quiet=True)
    assert len(made) == 0 and made.update.quiet and made.held_back == {"quiet update: recorded only": 6}
    assert outbox.counts("ki-night")["pending"] == 6  # the first notices still go out
    assert outbox.thread("ki-night").last.quiet and outbox.thread("ki-night").last.eta == "2026-12-01"


def test_an_eta_change_is_an_update_and_a_stale_plan_is_refused(tmp_path: Path, gateway: ProfileGateway,
                                                                outbox: Outbox) -> None:
    outbox.enqueue(plan(ISSUE, select_affected(ISSUE, gateway), articles=ARTICLES))
    first = ISSUE.with_status("fix-scheduled", eta=dt.date(2026, 11, 20))
    stale = plan_update(first, outbox=outbox, articles=ARTICLES)
    later = plan_update(first.with_status("fix-scheduled", eta=dt.date(2026, 11, 27)), outbox=outbox,
                        articles=ARTICLES)
    outbox.enqueue(stale)
    assert later.update.number == 2
    with pytest.raises(OutboxError, match="update 2 .* thread is at update 2"):
        outbox.enqueue(later)
    slipped = plan_update(first.with_status("fix-scheduled", eta=dt.date(2026, 11, 27)), outbox=outbox,
                          articles=ARTICLES)
    assert slipped.update.number == 3 and outbox.enqueue(slipped).superseded == 6


def test_plan_update_without_a_thread_is_the_first_notice(gateway: ProfileGateway, outbox: Outbox) -> None:
    made = plan_update(ISSUE, outbox=outbox, audience=select_affected(ISSUE, gateway), articles=ARTICLES)
    assert made.update.number == 1 and {m.kind for m in made.messages} == {"notice"} and len(made) == 6
