"""Erasure is complete: after ``erase`` no table, file, cache or hook holds the customer's raw id, pseudonym or
personal values. For SQLite the raw bytes of the database, ``-wal`` and ``-shm`` files are searched, while the
store is open (after the checkpoint) and after it is closed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _privacy_helpers import KEY, record

from kbrank.errors import ErasureError, UnknownCustomerError
from kbrank.privacy import ProfileGateway

TARGET = "cust-0007"


class FakeOutbox:
    """A later feature that keeps messages by pseudonym in a JSONL file and registers an erasure hook."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.write_text("")

    def enqueue(self, pseudonym: str, text: str) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps({"to": pseudonym, "text": text}) + "\n")

    def erase(self, pseudonym: str) -> int:
        lines = self.path.read_text().splitlines()
        kept = [line for line in lines if json.loads(line)["to"] != pseudonym]
        self.path.write_text("".join(line + "\n" for line in kept))
        return len(lines) - len(kept)


def _needles(gateway: ProfileGateway, customer: dict) -> list[bytes]:
    pseudonym = gateway.pseudonymize(customer["customer_id"])
    needles = [customer["customer_id"].encode(), pseudonym.encode(), pseudonym.upper().encode(),
               bytes.fromhex(pseudonym), pseudonym[:24].encode()]
    needles += [address.encode() for address in customer["addresses"].values()]
    return needles


def _files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def _assert_absent(root: Path, needles: list[bytes]) -> None:
    for path in _files(root):
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} found in {path.name}"


def _use(gateway: ProfileGateway, outbox: FakeOutbox, customer_ids: list[str]) -> None:
    """Exercise every table and the cache: reads, scans, consent changes, usage, outbox messages."""
    for cid in customer_ids:
        gateway.read(cid, "personalization", degrade=True)
        gateway.read(cid, "proactive-contact", degrade=True)
        gateway.set_consent(cid, "analytics", True)
        gateway.record_usage(cid, [])
        outbox.enqueue(gateway.pseudonymize(cid), "firmware 2.4 fixes the wifi drops")
    for view in gateway.scan("proactive-contact"):
        assert view.customer


def test_erasure_leaves_no_trace_in_the_sqlite_files(tmp_path: Path, helpcentre) -> None:
    store_dir = tmp_path / "store"
    target = helpcentre.customer(TARGET)
    gateway = ProfileGateway.from_helpcentre(helpcentre, key=KEY, path=store_dir / "profiles.db")
    try:
        outbox = FakeOutbox(tmp_path / "outbox.jsonl")
        gateway.register_erasure_hook("outbox", outbox.erase)
        _use(gateway, outbox, [TARGET, "cust-0002", "cust-0003"])
        gateway.read(TARGET, "chat", degrade=True)  # cached now
        assert gateway.pseudonymize(TARGET) in gateway._cache
        needles = _needles(gateway, target)
        assert any(needles[1] in path.read_bytes() for path in _files(tmp_path))  # present before

        report = gateway.erase(TARGET, requester="dpo")

        assert report.complete and report.found and report.storage_compacted
        assert dict(report.store) == {"profiles": 1, "owned_products": len(target["owned"]),
                                      "usage_events": len(target["usage"]), "addresses": len(target["addresses"]),
                                      "consents": len(gateway.access_report("cust-0002").profile.consents)}
        assert report.audit_records >= 6 and report.cache_entries == 1 and dict(report.hooks) == {"outbox": 1}
        assert report.tombstone.startswith("erased-") and needles[1].decode() not in str(report)
        assert sorted(path.name for path in _files(store_dir)) == ["profiles.db", "profiles.db-shm", "profiles.db-wal"]
        _assert_absent(tmp_path, needles)  # open: database, WAL (checkpointed) and shared memory
        # the search is meaningful: the other customers are all still there
        data = (store_dir / "profiles.db").read_bytes()
        assert b"cust-0002@example.com" in data and gateway.pseudonymize("cust-0002").encode() in data
        # the audit trail keeps the events, under the tombstone
        tomb = gateway._audit.for_customer(report.tombstone)
        assert [r.action for r in tomb][-1] == "erase" and len(tomb) == report.audit_records + 1
        assert TARGET not in str(gateway._cache.__dict__) and gateway.pseudonymize(TARGET) not in gateway._cache
        with pytest.raises(UnknownCustomerError):
            gateway.access_report(TARGET)
        assert not gateway.read(TARGET, "personalization", degrade=True).personalized  # not audited: no trace
        _assert_absent(tmp_path, needles)
    finally:
        gateway.close()
    _assert_absent(tmp_path, needles)  # closed
    with ProfileGateway.open(store_dir / "profiles.db", key=KEY, create=False) as reopened:
        assert reopened.read(TARGET, "personalization", degrade=True).reason == "no profile"
        assert reopened.read("cust-0002", "evaluation", degrade=True).purpose == "evaluation"


def test_erasure_in_memory_leaves_nothing_in_store_audit_or_cache(helpcentre) -> None:
    target = helpcentre.customer(TARGET)
    with ProfileGateway.from_helpcentre(helpcentre, key=KEY) as gateway:
        gateway.read(TARGET, "personalization", degrade=True)
        pseudonym = gateway.pseudonymize(TARGET)
        report = gateway.erase(TARGET)
        assert report.found and report.cache_entries == 1
        inside = repr(gateway._store._profiles) + repr(gateway._audit._records) + repr(gateway._cache._entries)
        for needle in (TARGET, pseudonym, *target["addresses"].values()):
            assert needle not in inside
        assert len(gateway._audit._records) > 0


def test_erasure_empties_the_version_memos_a_profile_fed(gateway: ProfileGateway) -> None:
    from kbrank.applicability import version_in

    version_in(">=2.0,<2.4", "7.7.7-only-this-customer")  # what a personalized search does with an owned version
    assert version_in.cache_info().currsize > 0
    gateway.load_records([record()])
    gateway.erase("cust-0001")
    assert version_in.cache_info().currsize == 0


def test_erasure_is_idempotent_and_reports_an_absent_customer(gateway: ProfileGateway) -> None:
    gateway.load_records([record()])
    first = gateway.erase("cust-0001")
    second = gateway.erase("cust-0001")
    assert first.found and not second.found and second.total == 0
    assert first.tombstone != second.tombstone


def test_hooks_get_the_pseudonym_and_a_failure_is_reported_then_retried(gateway: ProfileGateway) -> None:
    gateway.load_records([record()])
    pseudonym = gateway.pseudonymize("cust-0001")
    calls: list[str] = []
    broken = {"on": True}

    def chat_logs(who: str) -> int:
        calls.append(who)
        if broken["on"]:
            raise OSError(f"disk full while erasing {who}")
        return 2

    gateway.register_erasure_hook("chat-logs", chat_logs)
    gateway.register_erasure_hook("outbox", lambda who: calls.append(who) or 0)
    with pytest.raises(ErasureError, match="hooks chat-logs failed.*erase\\(\\) again") as caught:
        gateway.erase("cust-0001")
    report = caught.value.report
    assert not report.complete and report.found and dict(report.hooks) == {"outbox": 0}
    assert report.failed_hooks["chat-logs"] == "OSError: disk full while erasing <pseudonym>"
    assert calls == [pseudonym, pseudonym]
    broken["on"] = False
    retry = gateway.erase("cust-0001")
    assert retry.complete and dict(retry.hooks) == {"chat-logs": 2, "outbox": 0}
    with pytest.raises(Exception, match="not registered yet"):
        gateway.register_erasure_hook("outbox", lambda who: 0)
    gateway.unregister_erasure_hook("outbox")
    assert gateway.erasure_hooks == ("chat-logs",)


def test_a_reader_holding_the_wal_is_reported_and_compact_finishes_later(tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    path = tmp_path / "profiles.db"
    with ProfileGateway.open(path, key=KEY) as gateway:
        gateway.load_records([record(TARGET), record("cust-0002")])
        needles = [gateway.pseudonymize(TARGET).encode(), f"{TARGET}-mail@example.com".encode()]
        with closing(sqlite3.connect(path)) as reader:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM profiles").fetchone()  # a read transaction pins the WAL
            report = gateway.erase(TARGET)
            assert not report.complete and not report.storage_compacted
            assert "call ProfileGateway.compact()" in report.incomplete_reasons[0]
            reader.execute("COMMIT")
        assert gateway.compact() is True
        _assert_absent(tmp_path, needles)
