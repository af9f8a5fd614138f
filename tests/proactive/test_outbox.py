"""The SQLite outbox: idempotent enqueue, thread rules, leases with expiry and fencing, attempts, erasure."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Iterator

import pytest
from _notify_helpers import KEY, Clock, customer, hand_plan, open_gateway

from kbrank.errors import OutboxError, ParameterError
from kbrank.privacy import ProfileGateway
from kbrank.proactive import Completion, Outbox, message_key

IDS = [f"cust-{n:05d}" for n in range(6)]


@pytest.fixture
def gateway(tmp_path: Path, clock: Clock) -> Iterator[ProfileGateway]:
    made = open_gateway(tmp_path / "profiles.db", [customer(n) for n in range(6)], clock)
    yield made
    made.close()


@pytest.fixture
def outbox(tmp_path: Path, clock: Clock) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.db", now=clock) as made:
        yield made


def test_enqueue_twice_never_makes_a_second_message(outbox: Outbox, gateway: ProfileGateway) -> None:
    first = outbox.enqueue(hand_plan(gateway, IDS))
    assert (first.added, first.existing, first.recipients) == (6, 0, 6)
    again = outbox.enqueue(hand_plan(gateway, IDS, body="re-rendered for {who}"))
    assert (again.added, again.existing) == (0, 6)
    assert outbox.counts("KI-1") == {"pending": 6, "leased": 0, "sent": 0, "failed": 0, "dead": 0, "skipped": 0}
    keys = {m.key for m in outbox.messages("KI-1")}
    assert keys == {message_key("KI-1", 1, gateway.pseudonymize(c)) for c in IDS}
    # the database itself enforces it, not only the code path
    with sqlite3.connect(outbox.path) as raw, pytest.raises(sqlite3.IntegrityError):
        raw.execute("INSERT INTO outbox_messages (key, issue, update_no, pseudonym, channel, locale, kind, subject, "
                    "body, html, state, next_us, created_us) SELECT key, issue, update_no, pseudonym, channel, "
                    "locale, kind, subject, body, html, state, next_us, created_us FROM outbox_messages LIMIT 1")
    raw.close()


def test_replanning_adds_only_newly_affected_customers(outbox: Outbox, gateway: ProfileGateway) -> None:
    outbox.enqueue(hand_plan(gateway, IDS[:4]))
    report = outbox.enqueue(hand_plan(gateway, IDS))
    assert (report.added, report.existing) == (2, 4)
    assert len(outbox.recipients("KI-1")) == 6


def test_a_stale_or_skipping_plan_is_refused(outbox: Outbox, gateway: ProfileGateway) -> None:
    outbox.enqueue(hand_plan(gateway, IDS))
    with pytest.raises(OutboxError, match="thread is at update 1"):
        outbox.enqueue(hand_plan(gateway, IDS, update=3, status="fixed"))
    with pytest.raises(OutboxError, match=r"update 1 \(fixed, ETA None\).*at update 1 \(workaround, ETA None\)"):
        outbox.enqueue(hand_plan(gateway, IDS, update=1, status="fixed"))
    outbox.enqueue(hand_plan(gateway, IDS, update=2, status="fix-scheduled"))
    with pytest.raises(OutboxError, match="plan again"):  # update 1 again, after update 2
        outbox.enqueue(hand_plan(gateway, IDS, update=1))
    assert [u.status for u in outbox.thread("KI-1").updates] == ["workaround", "fix-scheduled"]


def test_a_later_update_supersedes_what_has_not_gone_out(outbox: Outbox, gateway: ProfileGateway,
                                                         clock: Clock) -> None:
    outbox.enqueue(hand_plan(gateway, IDS))
    sent = outbox.lease("w", limit=2)
    outbox.complete(Completion(lease, "sent") for lease in sent)
    report = outbox.enqueue(hand_plan(gateway, IDS, update=2, status="fixed", closes=True))
    assert report.superseded == 4 and report.closed
    old = {m.key: m for m in outbox.messages("KI-1") if m.update == 1}
    assert sorted(m.state for m in old.values()) == ["sent"] * 2 + ["skipped"] * 4
    assert {m.error for m in old.values() if m.state == "skipped"} == {"superseded by update 2 (fixed)"}
    assert outbox.told("KI-1") == {lease.message.customer for lease in sent}
    thread = outbox.thread("KI-1")
    assert thread.closed and thread.last.closes
    with pytest.raises(OutboxError, match="closed"):
        outbox.enqueue(hand_plan(gateway, IDS, update=3, status="investigating"))
    outbox.enqueue(hand_plan(gateway, IDS, update=3, status="closed", quiet=True))
    assert outbox.thread("KI-1").last.quiet


def test_leases_expire_and_are_taken_again_and_completion_is_fenced(outbox: Outbox, gateway: ProfileGateway,
                                                                    clock: Clock) -> None:
    outbox.enqueue(hand_plan(gateway, IDS))
    first = outbox.lease("a", limit=10, lease_for=dt.timedelta(seconds=30))
    assert len(first) == 6 and {lease.attempt for lease in first} == {1}
    assert outbox.lease("b", limit=10) == []  # all held
    clock.advance(seconds=31)
    second = outbox.lease("b", limit=3, lease_for=dt.timedelta(seconds=30))
    assert [lease.message.key for lease in second] == [lease.message.key for lease in first[:3]]
    assert {lease.attempt for lease in second} == {2}
    # the dead dispatcher "a" wakes up: its completion must not overwrite b's newer attempt
    assert outbox.complete([Completion(first[0], "sent")]) == 0
    assert outbox.complete([Completion(second[0], "sent")]) == 1
    attempts = outbox.attempts(first[0].message.key)
    assert [(a.number, a.worker, a.outcome) for a in attempts] == [(1, "a", "lease-expired"), (2, "b", "sent")]
    assert outbox.counts()["sent"] == 1 and outbox.counts()["leased"] == 5


def test_a_failed_message_waits_for_its_retry_time(outbox: Outbox, gateway: ProfileGateway, clock: Clock) -> None:
    outbox.enqueue(hand_plan(gateway, IDS[:1]))
    (lease,) = outbox.lease("w")
    outbox.complete([Completion(lease, "failed", error="HTTP 503", retry_at=clock.now + dt.timedelta(minutes=5))])
    assert outbox.lease("w") == []
    assert outbox.next_due() == clock.now + dt.timedelta(minutes=5)
    clock.advance(minutes=5)
    (again,) = outbox.lease("w")
    assert again.attempt == 2 and again.first_at == lease.first_at
    assert [a.outcome for a in outbox.attempts(lease.message.key)] == ["failed", "started"]
    with pytest.raises(ParameterError, match="retry_at"):
        Completion(again, "failed")


def test_renew_keeps_a_lease_past_its_first_deadline(outbox: Outbox, gateway: ProfileGateway, clock: Clock) -> None:
    outbox.enqueue(hand_plan(gateway, IDS[:2]))
    leases = outbox.lease("w", lease_for=dt.timedelta(seconds=10))
    clock.advance(seconds=8)
    renewed = outbox.renew(leases, lease_for=dt.timedelta(seconds=10))
    assert len(renewed) == 2 and renewed[0].until == clock.now + dt.timedelta(seconds=10)
    clock.advance(seconds=5)  # past the first deadline, within the renewed one
    assert outbox.lease("other") == []


def test_unsubscribe_per_issue_and_for_everything(outbox: Outbox, gateway: ProfileGateway) -> None:
    outbox.enqueue(hand_plan(gateway, IDS))
    outbox.enqueue(hand_plan(gateway, IDS, issue="KI-2"))
    one, every = gateway.pseudonymize(IDS[0]), gateway.pseudonymize(IDS[1])
    assert outbox.unsubscribe(one, "KI-1") == 1
    assert outbox.unsubscribe(one, "KI-1") == 0  # idempotent
    assert outbox.unsubscribe(every) == 2
    assert outbox.unsubscribed([one, every], "KI-1") == {one, every}
    assert outbox.unsubscribed([one, every], "KI-2") == {every}
    assert outbox.counts("KI-1")["skipped"] == 2 and outbox.counts("KI-2")["skipped"] == 1
    with pytest.raises(ParameterError, match="pseudonym"):
        outbox.unsubscribe("")


def test_erasure_hook_removes_every_row_and_its_bytes(tmp_path: Path, gateway: ProfileGateway,
                                                      clock: Clock) -> None:
    path = tmp_path / "erase-outbox.db"
    with Outbox(path, now=clock) as outbox:
        outbox.attach(gateway)
        outbox.enqueue(hand_plan(gateway, IDS))
        who = gateway.pseudonymize(IDS[2])
        outbox.unsubscribe(who, "KI-2")
        leases = outbox.lease("w", limit=10)
        outbox.complete(Completion(lease, "sent") for lease in leases)
        report = gateway.erase(IDS[2])
        # 1 message + 1 attempt + 1 audience row + 1 unsubscribe
        assert report.hooks == {"kbrank.proactive.outbox": 4}
        assert who not in {m.customer for m in outbox.messages()}
        assert who not in {r.customer for r in outbox.recipients("KI-1")}
        assert outbox.erase(who) == 0  # idempotent
    data = path.read_bytes() + (path.with_name(path.name + "-wal").read_bytes()
                                if path.with_name(path.name + "-wal").exists() else b"")
    assert who.encode() not in data
    assert gateway.pseudonymize(IDS[3]).encode() in data  # the others are still there


def test_outbox_refuses_files_it_did_not_make(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, just some words\n" * 20)
    with pytest.raises(OutboxError, match="not a SQLite database"):
        Outbox(text)
    assert text.read_text().startswith("not a database")
    foreign = tmp_path / "app.db"
    with sqlite3.connect(foreign) as raw:
        raw.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    raw.close()
    with pytest.raises(OutboxError, match="neither a kbrank outbox nor a kbrank profile store"):
        Outbox(foreign)
    with pytest.raises(OutboxError, match="no outbox here"):
        Outbox(tmp_path / "missing.db", create=False)


def test_outbox_can_live_in_the_profile_store_file(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "shared.db"
    gateway = open_gateway(path, [customer(n) for n in range(3)], clock)
    try:
        with Outbox(path, now=clock) as outbox:
            outbox.enqueue(hand_plan(gateway, IDS[:3]))
            assert outbox.counts()["pending"] == 3
        ProfileGateway.open(path, key=KEY, create=False).close()  # the profile store still opens
        with Outbox(path, create=False) as outbox:
            assert outbox.counts()["pending"] == 3
    finally:
        gateway.close()


def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    Outbox(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE outbox_meta SET value = '99'")
    raw.close()
    with pytest.raises(OutboxError, match="unknown outbox schema version 99"):
        Outbox(path)
