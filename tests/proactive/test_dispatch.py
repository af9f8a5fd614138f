"""The dispatcher: delivery through real senders, consent re-checked at send time through the privacy gate,
durable retries with tenacity backoff into the dead-letter state, every attempt recorded, crash recovery."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Iterator

import pytest
import tenacity
from _notify_helpers import Clock, customer, hand_plan, open_gateway
from _webhook_server import SECRET, Receiver

from kbrank.errors import ParameterError
from kbrank.privacy import ProfileGateway
from kbrank.proactive import Dispatcher, JsonlSender, Outbox, RetryPolicy, WebhookSender

IDS = [f"cust-{n:05d}" for n in range(10)]
FAST = RetryPolicy(wait=tenacity.wait_exponential(multiplier=10, max=300), stop=tenacity.stop_after_attempt(4))


@pytest.fixture
def gateway(tmp_path: Path, clock: Clock) -> Iterator[ProfileGateway]:
    records = [customer(n) for n in range(8)]
    records += [customer(8, channel="sms", channels=("sms",)), customer(9, channel="push", channels=("push",))]
    made = open_gateway(tmp_path / "profiles.db", records, clock)
    yield made
    made.close()


def log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_every_message_is_delivered_once_with_the_address_read_at_send_time(
        tmp_path: Path, gateway: ProfileGateway, outbox: Outbox) -> None:
    outbox.enqueue(hand_plan(gateway, IDS[:8]))
    outbox.enqueue(hand_plan(gateway, IDS[8:9], issue="KI-2", channel="sms"))
    with JsonlSender(tmp_path / "out.jsonl") as sender:
        report = Dispatcher(outbox=outbox, gateway=gateway, senders=sender, batch_size=3).run()
    assert (report.sent, report.duplicates, report.dead, report.rounds) == (9, 0, 0, 3)
    lines = log_lines(tmp_path / "out.jsonl")
    assert sorted(line["key"] for line in lines) == sorted(m.key for m in outbox.messages())
    assert {line["to"] for line in lines if line["channel"] == "sms"} == {"+447700900008"}
    assert {line["to"] for line in lines if line["issue"] == "KI-1"} == {f"{c}@mail.example" for c in IDS[:8]}
    assert outbox.counts() == {"pending": 0, "leased": 0, "sent": 9, "failed": 0, "dead": 0, "skipped": 0}
    # the outbox never held an address; the audit names who was contacted, by pseudonym, never the address
    assert b"@mail.example" not in Path(outbox.path).read_bytes()
    history = gateway.access_report(IDS[8]).history
    contact = [r for r in history if r.action == "contact"]
    assert len(contact) == 1 and contact[0].fields == ("issue:KI-2", "channel:sms")
    assert contact[0].customer == gateway.pseudonymize(IDS[8]) and contact[0].purpose == "proactive-contact"
    reads = [r for r in history if r.action == "read" and r.requester == "kbrank.proactive.dispatch"]
    assert reads and "addresses.sms" in reads[0].fields


def test_consent_withdrawn_since_planning_means_no_contact(tmp_path: Path, gateway: ProfileGateway,
                                                           outbox: Outbox) -> None:
    outbox.enqueue(hand_plan(gateway, IDS[:4]))
    gateway.set_consent(IDS[0], "proactive-contact", False)
    gateway.set_consent(IDS[1], "channel:email", False)  # still reachable by sms, but this message is email
    outbox.unsubscribe(gateway.pseudonymize(IDS[2]), "KI-1")
    gateway.erase(IDS[3])
    with JsonlSender(tmp_path / "out.jsonl") as sender:
        report = Dispatcher(outbox=outbox, gateway=gateway, senders=sender).run()
    assert report.sent == 0
    assert report.skipped == {"no consent to proactive contact (withdrawn, or the customer was erased)": 1,
                              "no consent to channel email": 1}
    assert log_lines(tmp_path / "out.jsonl") == []
    states = {m.customer: (m.state, m.error) for m in outbox.messages()}
    assert states[gateway.pseudonymize(IDS[2])] == ("skipped", "unsubscribed")
    assert gateway.pseudonymize(IDS[3]) not in states  # erased: the hook removed the message


def test_transient_failures_back_off_durably_then_deliver(gateway: ProfileGateway, outbox: Outbox,
                                                          clock: Clock) -> None:
    outbox.enqueue(hand_plan(gateway, IDS[:1]))
    with Receiver() as receiver:
        dispatcher = Dispatcher(outbox=outbox, gateway=gateway, senders=WebhookSender(receiver.url, secret=SECRET),
                                retry=FAST)
        receiver.fail_next = 2
        assert dispatcher.run().failed == 1
        (message,) = outbox.messages()
        assert message.state == "failed" and message.next_at == clock.now + dt.timedelta(seconds=10)
        assert dispatcher.run().rounds == 0  # not due yet: the retry waits in the outbox, nobody sleeps
        clock.advance(seconds=10)
        assert dispatcher.run().failed == 1
        assert outbox.messages()[0].next_at == clock.now + dt.timedelta(seconds=20)  # exponential
        clock.advance(seconds=20)
        assert dispatcher.run().sent == 1
        assert list(receiver.delivered) == [message.key]
    outcomes = [(a.number, a.outcome) for a in outbox.attempts(message.key)]
    assert outcomes == [(1, "failed"), (2, "failed"), (3, "sent")]
    assert "HTTP 503" in outbox.attempts(message.key)[0].error


def test_exhausted_and_permanent_failures_are_dead_lettered(gateway: ProfileGateway, outbox: Outbox,
                                                            clock: Clock) -> None:
    outbox.enqueue(hand_plan(gateway, IDS[:1]))
    outbox.enqueue(hand_plan(gateway, IDS[1:2], issue="KI-2"))
    with Receiver() as receiver:
        dispatcher = Dispatcher(outbox=outbox, gateway=gateway, senders=WebhookSender(receiver.url, secret=SECRET),
                                retry=FAST)
        receiver.status_next = 503
        for _ in range(4):
            dispatcher.run()
            clock.advance(seconds=400)
        receiver.status_next = 422
        outbox.enqueue(hand_plan(gateway, IDS[2:3], issue="KI-3"))
        dispatcher.run()
    by_issue = {m.issue: m for m in outbox.messages()}
    assert by_issue["KI-1"].state == "dead" and by_issue["KI-1"].attempts == 4
    assert by_issue["KI-1"].error.startswith("gave up after 4 attempts; last: DeliveryError")
    assert [a.outcome for a in outbox.attempts(by_issue["KI-1"].key)] == ["failed"] * 3 + ["dead"]
    assert by_issue["KI-3"].state == "dead" and by_issue["KI-3"].attempts == 1 and "422" in by_issue["KI-3"].error
    assert outbox.counts()["dead"] == 3


def test_a_crash_between_delivery_and_completion_is_redelivered_and_deduped(
        tmp_path: Path, gateway: ProfileGateway, outbox: Outbox, clock: Clock) -> None:
    outbox.enqueue(hand_plan(gateway, IDS[:5]))
    path = tmp_path / "out.jsonl"
    with JsonlSender(path) as sender:
        # a dispatcher that delivered three messages and died before recording anything
        leases = outbox.lease("dead-worker", limit=3, lease_for=dt.timedelta(seconds=30))
        views = gateway.read_pseudonyms([lease.message.customer for lease in leases], "proactive-contact")
        for lease in leases:
            sender.send(_delivery(lease, views[lease.message.customer]))
        clock.advance(seconds=31)
        report = Dispatcher(outbox=outbox, gateway=gateway, senders=sender, worker="new").run()
    assert (report.sent, report.duplicates) == (5, 3)
    keys = [line["key"] for line in log_lines(path)]
    assert sorted(keys) == sorted(m.key for m in outbox.messages()) and len(set(keys)) == 5
    assert [a.outcome for a in outbox.attempts(leases[0].message.key)] == ["lease-expired", "duplicate"]


def test_a_restart_waits_out_a_dead_dispatchers_leases_and_delivers_those_messages(
        tmp_path: Path, gateway: ProfileGateway) -> None:
    # the real clock: the dead worker's lease expires in real time while the new dispatcher waits
    with Outbox(tmp_path / "real-clock.db") as outbox, JsonlSender(tmp_path / "out.jsonl") as sender:
        outbox.enqueue(hand_plan(gateway, IDS[:6]))
        held = outbox.lease("dead-worker", limit=4, lease_for=dt.timedelta(seconds=0.5))
        report = Dispatcher(outbox=outbox, gateway=gateway, senders=sender, worker="new").run()
        assert (report.sent, report.duplicates) == (6, 0)
        assert outbox.counts()["sent"] == 6 and outbox.next_due(leased_only=True) is None
        assert [a.outcome for a in outbox.attempts(held[0].message.key)] == ["lease-expired", "sent"]
    assert len(log_lines(tmp_path / "out.jsonl")) == 6


def _delivery(lease, view):  # type: ignore[no-untyped-def]
    from kbrank.proactive import Delivery

    return Delivery(lease.message, view.addresses.get(lease.message.channel), lease.attempt)


def test_routing_by_channel_and_missing_sender(tmp_path: Path, gateway: ProfileGateway, outbox: Outbox) -> None:
    outbox.enqueue(hand_plan(gateway, IDS[:2]))
    outbox.enqueue(hand_plan(gateway, IDS[9:10], issue="KI-2", channel="push"))
    with JsonlSender(tmp_path / "email.jsonl") as email:
        report = Dispatcher(outbox=outbox, gateway=gateway, senders={"email": email}).run()
    assert (report.sent, report.dead) == (2, 1)
    (push,) = outbox.messages(states=["dead"])
    assert push.error == "no sender for channel push"
    with pytest.raises(ParameterError, match="senders"):
        Dispatcher(outbox=outbox, gateway=gateway, senders={"email": object()}).run()  # type: ignore[dict-item]
    with pytest.raises(ParameterError, match="batch_size"):
        Dispatcher(outbox=outbox, gateway=gateway, senders=email, batch_size=0).run()


def test_retry_policy_uses_tenacity_strategies_on_the_recorded_attempts() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    error = ConnectionError("down")
    policy = RetryPolicy(wait=tenacity.wait_exponential(multiplier=2, max=60),
                         stop=tenacity.stop_after_attempt(6) | tenacity.stop_after_delay(3600))
    assert [policy.decide(n, start, start, error) for n in range(1, 7)] == [2, 4, 8, 16, 32, None]
    assert policy.decide(2, start, start + dt.timedelta(hours=2), error) is None  # past the overall deadline
    default = RetryPolicy()
    waits = [default.decide(n, start, start, error) for n in range(1, 8)]
    assert all(w is not None and 2 * 2 ** (n - 1) <= w <= min(600, 2 * 2 ** (n - 1)) + 1
               for n, w in enumerate(waits, start=1))
    assert default.decide(8, start, start, error) is None
