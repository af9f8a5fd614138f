"""The `ProfileStore` contract: every test here runs against both the in-memory and the SQLite store, and a
differential property test drives both with the same random operations and compares everything."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from _privacy_helpers import KEY, NOW, record, records, usage_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbrank.errors import ParameterError, ProfileStoreError, UnknownCustomerError
from kbrank.privacy import ConsentRecord, Pseudonymizer, UsageEvent, Where, profile_from_record
from kbrank.privacy.store import DELETION_KINDS, InMemoryProfileStore, ProfileStore, SQLiteProfileStore

PSEUDONYMIZE = Pseudonymizer(KEY)


def profile(customer_id: str = "cust-0001", **overrides):
    return profile_from_record(record(customer_id, **overrides), pseudonymize=PSEUDONYMIZE)


def test_both_stores_implement_the_protocol(store: ProfileStore) -> None:
    assert isinstance(store, ProfileStore)


def test_get_returns_what_upsert_stored_and_none_when_absent(store: ProfileStore) -> None:
    p = profile()
    assert store.get(p.id) is None
    store.upsert(p)
    assert store.get(p.id) == p
    assert len(store) == 1


def test_upsert_replaces_the_whole_profile(store: ProfileStore) -> None:
    store.upsert(profile())
    replacement = profile(region="us", owned=[], usage=[], addresses={}, consents={"chat": True})
    store.upsert(replacement)
    got = store.get(replacement.id)
    assert got == replacement
    assert got.owned == () and got.usage == () and dict(got.addresses) == {}
    assert [c.scope for c in got.consents] == ["chat"]


def test_get_without_addresses_leaves_them_unread(store: ProfileStore) -> None:
    p = profile()
    store.upsert(p)
    assert dict(store.get(p.id, with_addresses=False).addresses) == {}
    assert dict(store.get(p.id).addresses) == dict(p.addresses)


def test_upsert_many_is_all_or_nothing(store: ProfileStore) -> None:
    original = profile("cust-0001")
    store.upsert(original)
    changed = profile("cust-0001", region="us")
    newcomer = profile("cust-0002")
    with pytest.raises(ParameterError, match="CustomerProfile"):
        store.upsert_many([changed, newcomer, {"customer_id": "not a profile"}])  # type: ignore[list-item]
    assert store.get(original.id) == original  # the change before the bad item was rolled back
    assert store.get(newcomer.id) is None
    assert len(store) == 1


def test_upsert_many_counts_distinct_customers(store: ProfileStore) -> None:
    assert store.upsert_many([profile("cust-0001"), profile("cust-0002"), profile("cust-0001", region="us")]) == 2
    assert store.get(PSEUDONYMIZE("cust-0001")).region == "us"  # the last one given wins


def test_scan_yields_everyone_in_pseudonym_order(store: ProfileStore) -> None:
    ids = [f"cust-{n:04d}" for n in range(1, 8)]
    store.upsert_many(profile(i) for i in ids)
    scanned = [p.id for p in store.scan()]
    assert scanned == sorted(PSEUDONYMIZE(i) for i in ids)


def _fleet(store: ProfileStore) -> dict[str, str]:
    """Five customers owning routers at different versions and states; returns id -> pseudonym."""
    def owned(version: str, status: str = "active", product: str = "router-x200") -> list[dict]:
        return [{"product": product, "version": version, "status": status, "platform": "ios"}]

    fleet = {
        "a": profile("cust-a", owned=owned("2.0.3"), region="eu"),
        "b": profile("cust-b", owned=owned("2.3.1"), region="us"),
        "c": profile("cust-c", owned=owned("2.4.0"), region="eu"),
        "d": profile("cust-d", owned=owned("2.1.0", "returned"), region="eu"),
        "e": profile("cust-e", owned=owned("2.1.0", product="cam-c10"), region="uk"),
    }
    store.upsert_many(fleet.values())
    return {name: p.id for name, p in fleet.items()}


@pytest.mark.parametrize("where, expected", [
    (Where(product="router-x200"), "abcd"),
    (Where(product="router-x200", version=">=2.0.3,<2.4"), "abd"),
    (Where(product="router-x200", version=">=2.0.3,<2.4", status="active"), "ab"),
    (Where(product=["router-x200", "cam-c10"], version="<2.2"), "ade"),
    (Where(product="router-x200", region="eu"), "acd"),
    (Where(region=["eu", "uk"]), "acde"),
    (Where(segment="consumer", locale="en-GB"), "abcde"),
    (Where(platform="android"), ""),
    (Where(feature="feat-guest-net"), "abcde"),
    (Where(feature="feat-guest-net", product="cam-c10"), ""),
    (Where(product="router-x999"), ""),
])
def test_scan_by_predicate(store: ProfileStore, where: Where, expected: str) -> None:
    ids = _fleet(store)
    got = [p.id for p in store.scan(where)]
    assert got == sorted(ids[name] for name in expected)


def test_the_same_item_must_satisfy_every_owned_condition(store: ProfileStore) -> None:
    mixed = profile("cust-m", owned=[{"product": "router-x200", "version": "2.0.0", "status": "retired"},
                                     {"product": "router-x200", "version": "3.0.0", "status": "active"}])
    store.upsert(mixed)
    assert list(store.scan(Where(product="router-x200", version="<2.4", status="active"))) == []
    assert [p.id for p in store.scan(Where(product="router-x200", version="<2.4"))] == [mixed.id]


def test_delete_reports_rows_per_kind_and_is_idempotent(store: ProfileStore) -> None:
    p = profile()
    store.upsert(p)
    removed = store.delete(p.id)
    assert dict(removed) == {"profiles": 1, "owned_products": 2, "usage_events": 2, "addresses": 2, "consents": 9}
    assert store.get(p.id) is None and len(store) == 0
    assert dict(store.delete(p.id)) == dict.fromkeys(DELETION_KINDS, 0)


def test_append_events_and_set_consent(store: ProfileStore) -> None:
    p = profile()
    store.upsert(p)
    event = UsageEvent("cam-c10", "feat-x", NOW, "eu", 2)
    assert store.append_events(p.id, [event]) == 1
    assert store.get(p.id).usage == (*p.usage, event)
    store.set_consent(p.id, ConsentRecord("chat", False, NOW))
    got = store.get(p.id)
    assert got.consent("chat") == ConsentRecord("chat", False, NOW)
    assert not got.consented("chat") and got.consented("usage")


def test_writes_to_an_absent_customer_raise_unknown_customer(store: ProfileStore) -> None:
    with pytest.raises(UnknownCustomerError, match="pseudonym"):
        store.append_events("f" * 64, [UsageEvent("p", "f", NOW)])
    with pytest.raises(UnknownCustomerError):
        store.set_consent("f" * 64, ConsentRecord("chat", True))
    assert len(store) == 0


def test_purge_events_before_a_cutoff(store: ProfileStore) -> None:
    p = profile()
    store.upsert(p)
    assert store.purge_events_before(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)) == 1
    assert [e.feature for e in store.get(p.id).usage] == ["feat-guest-net"]
    with pytest.raises(ParameterError, match="timezone-aware"):
        store.purge_events_before(dt.datetime(2026, 1, 1))


def test_generation_changes_on_every_write(store: ProfileStore) -> None:
    p = profile()
    seen = {store.generation()}
    store.upsert(p)
    seen.add(store.generation())
    store.set_consent(p.id, ConsentRecord("chat", False))
    seen.add(store.generation())
    store.delete(p.id)
    seen.add(store.generation())
    assert len(seen) == 4
    assert store.generation() == store.generation()  # and stays put without writes


def test_meta_round_trips(store: ProfileStore) -> None:
    assert store.get_meta("x") is None
    store.set_meta("x", "1")
    store.set_meta("x", "2")
    assert store.get_meta("x") == "2"


def test_compact_succeeds(store: ProfileStore) -> None:
    store.upsert(profile())
    store.delete(PSEUDONYMIZE("cust-0001"))
    assert store.compact() is True


def test_a_closed_store_refuses_work(store: ProfileStore) -> None:
    store.upsert(profile())
    store.close()
    store.close()  # idempotent
    with pytest.raises(ProfileStoreError, match="closed"):
        store.get(PSEUDONYMIZE("cust-0001"))
    with pytest.raises(ProfileStoreError, match="closed"):
        store.upsert(profile())


# -- differential: the same random operations on both stores give the same results ------------------------------
OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("upsert"), records()),
    st.tuples(st.just("delete"), st.integers(0, 5)),
    st.tuples(st.just("append"), st.integers(0, 5), st.lists(usage_events(), max_size=3)),
    st.tuples(st.just("consent"), st.integers(0, 5), st.sampled_from(["chat", "usage", "channel:sms"]), st.booleans()),
    st.tuples(st.just("purge"), st.integers(0, 700)),
), max_size=12)


def _apply(store: ProfileStore, op: tuple, known: list[str]) -> object:
    kind = op[0]
    try:
        if kind == "upsert":
            p = profile_from_record(op[1], pseudonymize=PSEUDONYMIZE)
            known.append(p.id)
            store.upsert(p)
            return None
        target = known[op[1] % len(known)] if known else "0" * 64
        if kind == "delete":
            return dict(store.delete(target))
        if kind == "append":
            events = [profile_from_record({"customer_id": "x", "usage": op[2]}, pseudonymize=PSEUDONYMIZE).usage]
            return store.append_events(target, events[0])
        if kind == "consent":
            store.set_consent(target, ConsentRecord(op[2], op[3], NOW))
            return None
        return store.purge_events_before(NOW - dt.timedelta(days=op[1]))
    except UnknownCustomerError as exc:
        return ("unknown", exc.customer)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=OPERATIONS)
def test_memory_and_sqlite_stores_behave_identically(operations: list[tuple]) -> None:
    memory, sqlite = InMemoryProfileStore(), SQLiteProfileStore(":memory:")
    try:
        known_m: list[str] = []
        known_s: list[str] = []
        for op in operations:
            assert _apply(memory, op, known_m) == _apply(sqlite, op, known_s), op
            assert list(memory.scan()) == list(sqlite.scan())
            assert len(memory) == len(sqlite)
        for key in set(known_m):
            assert memory.get(key) == sqlite.get(key)
            assert memory.get(key, with_addresses=False) == sqlite.get(key, with_addresses=False)
        where = Where(product="router-x200", version=">=1.0", status="active")
        assert list(memory.scan(where)) == list(sqlite.scan(where))
    finally:
        memory.close()
        sqlite.close()


def test_profiles_are_frozen(store: ProfileStore) -> None:
    p = profile()
    store.upsert(p)
    got = store.get(p.id)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.region = "us"  # type: ignore[misc]
    with pytest.raises(TypeError):
        got.addresses["email"] = "x@example.com"  # type: ignore[index]
