"""Senders: the JSONL file sender (dedupe on the key, also across handles; torn lines; foreign files; erasure)
and the Standard Webhooks sender against a real local HTTP server that verifies every signature."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
from pathlib import Path

import pytest
from _webhook_server import SECRET, Receiver

from kbrank.errors import DeliveryError, InputError, ParameterError
from kbrank.proactive import Delivery, JsonlSender, PlannedMessage, WebhookSender, message_key


def delivery(n: int, *, customer: str = "p-0001", update: int = 1) -> Delivery:
    who = f"{customer}-{n}"
    message = PlannedMessage(message_key("KI-9", update, who), "KI-9", update, who, "email", "en", "notice",
                             "Doorbell update loop", f"<p>Hello {n} &amp; welcome</p>", True)
    return Delivery(message, f"user{n}@mail.example", 1)


def test_jsonl_sender_dedupes_on_the_key_across_handles(tmp_path: Path) -> None:
    path = tmp_path / "deliveries.jsonl"
    with JsonlSender(path) as one, JsonlSender(path) as two:
        assert not one.send(delivery(1)).duplicate
        assert two.send(delivery(1)).duplicate  # the other handle sees the line the first one appended
        assert not two.send(delivery(2)).duplicate
        assert one.send(delivery(2)).duplicate
        one.flush()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["key"] for line in lines] == [delivery(1).key, delivery(2).key]
    assert lines[0]["body"] == "<p>Hello 1 &amp; welcome</p>" and lines[0]["to"] == "user1@mail.example"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # it holds addresses
    with JsonlSender(path) as reopened:  # the keys survive a restart
        assert reopened.send(delivery(2)).duplicate
        assert reopened.delivered() == {delivery(1).key, delivery(2).key}


def test_a_torn_last_line_is_dropped_and_redelivered(tmp_path: Path) -> None:
    path = tmp_path / "deliveries.jsonl"
    with JsonlSender(path) as sender:
        sender.send(delivery(1))
    with path.open("ab") as handle:  # what a crash in the middle of a write would leave
        handle.write(json.dumps({"format": "kbrank.delivery/1", "key": delivery(2).key})[:25].encode())
    with JsonlSender(path) as sender:
        assert sender.delivered() == {delivery(1).key}
        assert not sender.send(delivery(2)).duplicate
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()] == [delivery(1).key, delivery(2).key]


def test_jsonl_sender_refuses_a_file_it_did_not_write(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text('{"id": 1}\n{"id": 2}\n')
    with pytest.raises(InputError, match=r"notes.jsonl, line 1: not a line of a kbrank delivery log"):
        JsonlSender(path)
    assert path.read_text() == '{"id": 1}\n{"id": 2}\n'


def test_jsonl_erasure_rewrites_the_log_without_the_customer(tmp_path: Path) -> None:
    path = tmp_path / "deliveries.jsonl"
    with JsonlSender(path) as sender, JsonlSender(path) as other:
        for n in range(3):
            sender.send(delivery(n, customer="keep"))
        sender.send(delivery(0, customer="gone"))
        assert sender.erase("gone-0") == 1
        assert sender.erase("gone-0") == 0
        assert other.send(delivery(0, customer="keep")).duplicate  # the other handle follows the rewrite
        assert not other.send(delivery(5, customer="keep")).duplicate
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["customer"] for r in records] == ["keep-0", "keep-1", "keep-2", "keep-5"]
    assert "gone-0" not in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_webhook_signature_is_verified_by_a_real_receiver(tmp_path: Path) -> None:
    with Receiver() as receiver:
        sender = WebhookSender(receiver.url, secret=SECRET)
        first = delivery(1)
        assert sender.send(first).detail == "HTTP 200"
        sender.send(first)  # a redelivery: same webhook-id, the receiver drops it
        assert receiver.requests == 2 and list(receiver.delivered) == [first.key]
        data = receiver.delivered[first.key]
        assert data["type"] == "known_issue.notice"
        assert data["data"]["body"] == first.message.body and data["data"]["to"] == first.address
        forged = WebhookSender(receiver.url, secret="whsec_" + base64.b64encode(b"another-secret-entirely!").decode())
        with pytest.raises(DeliveryError, match="HTTP 401") as refused:
            forged.send(delivery(2))
        assert not refused.value.retryable and receiver.rejected == 1
        receiver.fail_next = 1
        with pytest.raises(DeliveryError, match="HTTP 503") as unavailable:
            sender.send(delivery(3))
        assert unavailable.value.retryable


def test_webhook_network_errors_are_retryable_and_bad_settings_are_refused() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryError, match="unreachable") as failed:
        WebhookSender(f"http://127.0.0.1:{port}/x", secret=SECRET, timeout=2).send(delivery(1))
    assert failed.value.retryable
    with pytest.raises(ParameterError, match="url must be an http"):
        WebhookSender("ftp://example.invalid", secret=SECRET)
    with pytest.raises(ParameterError, match="secret") as bad:
        WebhookSender("http://127.0.0.1:1/x", secret="")
    assert "<hidden>" in str(bad.value)
