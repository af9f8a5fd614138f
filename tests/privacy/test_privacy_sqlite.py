"""What only the SQLite store has to prove: WAL and its settings, the indexes the access patterns use, that a
write failing halfway changes nothing, that readers are safe while a writer writes, and that foreign or
newer files are refused."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest
from _privacy_helpers import KEY, record

from kbrank.errors import ProfileStoreError
from kbrank.privacy import OwnedProduct, Pseudonymizer, Where, profile_from_record
from kbrank.privacy.store import SQLiteProfileStore

PSEUDONYMIZE = Pseudonymizer(KEY)


def profile(customer_id: str = "cust-0001", **overrides):
    return profile_from_record(record(customer_id, **overrides), pseudonymize=PSEUDONYMIZE)


def _raw(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def test_settings_wal_foreign_keys_secure_delete(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with SQLiteProfileStore(path) as store:
        conn = store._db.connection
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1


def test_indexes_serve_the_access_patterns(tmp_path: Path) -> None:
    with SQLiteProfileStore(tmp_path / "p.db") as store:
        store.upsert_many(profile(f"cust-{n}") for n in range(20))
        conn = store._db.connection

        def plan(sql: str, *args: object) -> str:
            return " | ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args))

        assert "USING PRIMARY KEY" in plan("SELECT * FROM profiles WHERE pseudonym = ?", "x")
        by_product = plan("SELECT DISTINCT pseudonym FROM owned_products WHERE product IN (?) AND version IN (?, ?)",
                          "router-x200", "2.3.1", "2.4.0")
        assert "owned_by_product_version" in by_product
        assert "owned_by_product_version" in plan("SELECT DISTINCT product, version FROM owned_products "
                                                  "WHERE product IN (?)", "router-x200")
        assert "usage_by_time" in plan("DELETE FROM usage_events WHERE at_us < ?", 0)
        assert "audit_by_customer" in plan("SELECT * FROM audit WHERE customer = ? ORDER BY id", "x")


def test_a_write_failing_halfway_leaves_the_previous_state(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with SQLiteProfileStore(path) as store:
        before = profile()
        store.upsert(before)
        # inject a failure deep inside the write: after the profile row, owned products and some events
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("CREATE TRIGGER boom BEFORE INSERT ON usage_events WHEN NEW.feature = 'boom' "
                         "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
            conn.commit()
        usage = record()["usage"] + [{"product": "x", "feature": "boom", "timestamp": "2026-10-02T00:00:00Z"}]
        after = profile(region="us", owned=[{"product": "cam-c30", "version": "9.0"}], usage=usage)
        with pytest.raises(ProfileStoreError, match="rolled back; nothing changed.*injected failure"):
            store.upsert(after)
        assert store.get(before.id) == before
        other = profile("cust-0002")
        with pytest.raises(ProfileStoreError):
            store.upsert_many([other, after])
        assert store.get(other.id) is None and len(store) == 1
        # and the store still works afterwards
        store.upsert(other)
        assert store.get(other.id) == other


def test_readers_are_not_blocked_by_an_open_write_and_never_see_it_half_done(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with SQLiteProfileStore(path) as writer, SQLiteProfileStore(path, timeout=0.5) as reader:
        before = profile()
        writer.upsert(before)
        with writer._db.write() as cur:  # a write transaction left open while another connection reads
            cur.execute("UPDATE profiles SET region = 'us' WHERE pseudonym = ?", (before.id,))
            cur.execute("DELETE FROM owned_products WHERE pseudonym = ?", (before.id,))
            assert reader.get(before.id) == before
            assert [p.id for p in reader.scan(Where(product="router-x200"))] == [before.id]
        got = reader.get(before.id)
        assert got.region == "us" and got.owned == ()


def _versioned(k: int):
    """A profile whose every part says which write it came from."""
    return profile(region=f"r{k}", owned=[{"product": f"p{n}", "version": f"1.{k}"} for n in range(4)],
                   usage=[{"product": "p0", "feature": f"f{k}", "timestamp": "2026-10-01T00:00:00Z", "count": k}
                          for _ in range(5)],
                   consents={"chat": k % 2 == 0, "usage": k % 2 == 1})


def test_concurrent_readers_see_whole_profiles_while_a_writer_writes(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    writes = 150
    with SQLiteProfileStore(path) as writer, SQLiteProfileStore(path) as reader:
        writer.upsert(_versioned(0))
        pseudonym = PSEUDONYMIZE("cust-0001")
        done = threading.Event()
        failures: list[BaseException] = []

        def write() -> None:
            try:
                for k in range(1, writes + 1):
                    writer.upsert(_versioned(k))
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=write)
        thread.start()
        seen = set()
        try:
            while not done.is_set():
                got = reader.get(pseudonym)
                k = int(got.region[1:])
                assert {o.version for o in got.owned} == {f"1.{k}"} and len(got.owned) == 4
                assert {(e.feature, e.count) for e in got.usage} == {(f"f{k}", k)} and len(got.usage) == 5
                assert got.consented("chat") == (k % 2 == 0) and got.consented("usage") == (k % 2 == 1)
                seen.add(k)
        finally:
            thread.join()
        assert not failures
        assert reader.get(pseudonym) == _versioned(writes)
        assert len(seen) > 1  # the reads really interleaved with the writes


def test_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    p = profile()
    with SQLiteProfileStore(path) as store:
        store.upsert(p)
    with SQLiteProfileStore(path, create=False) as store:
        assert store.get(p.id) == p


def test_missing_foreign_and_newer_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileStoreError, match="no profile store here"):
        SQLiteProfileStore(tmp_path / "missing.db", create=False)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(ProfileStoreError, match="not a SQLite database"):
        SQLiteProfileStore(junk)
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
    with pytest.raises(ProfileStoreError, match="not a kbrank profile store"):
        SQLiteProfileStore(other)
    newer = tmp_path / "newer.db"
    SQLiteProfileStore(newer).close()
    with closing(sqlite3.connect(newer)) as conn:
        conn.execute("PRAGMA user_version = 99")
        conn.commit()
    with pytest.raises(ProfileStoreError, match="schema version 99"):
        SQLiteProfileStore(newer)


def test_the_raw_customer_id_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with SQLiteProfileStore(path) as store:
        store.upsert(profile("raw-id-7f3e9", addresses={"email": "someone@example.com"}))
        store.compact()
        files = [f for f in tmp_path.iterdir() if f.is_file()]
        assert any(b"someone@example.com" in f.read_bytes() for f in files)  # the scan does see data
        assert all(b"raw-id-7f3e9" not in f.read_bytes() for f in files)


def test_owned_products_keep_their_order(tmp_path: Path) -> None:
    owned = [{"product": f"p{n}", "version": "1.0"} for n in (3, 1, 2)]
    with SQLiteProfileStore(tmp_path / "p.db") as store:
        store.upsert(profile(owned=owned))
        assert [o.product for o in store.get(PSEUDONYMIZE("cust-0001")).owned] == ["p3", "p1", "p2"]
        assert isinstance(store.get(PSEUDONYMIZE("cust-0001")).owned[0], OwnedProduct)
