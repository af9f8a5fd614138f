"""Property test: on random small bases and random issues, the vectorised selection picks exactly the customers
that the plain per-customer reference (`Scope.assess` per owned item, usage summed by hand) says are affected,
with the same matched item, impact decision and channel; everyone else fails the issue's applicability."""

from __future__ import annotations

import datetime as dt

from _proactive_reference import reference_audience
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbrank.applicability import Scope
from kbrank.privacy import ProfileGateway
from kbrank.proactive import IMPACTS, KnownIssue, UsageCondition, select_affected

KEY = "proactive-property-key-0123456789"
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
PRODUCTS = ("cam-c10", "cam-c20", "router-x200")
VERSIONS = ("4.1.0", "4.2", "4.2.1", "4.3.2rc1", "4.3.2", "1.0", "1.0.5", "2.0.0", "2.3.1", None, "FW_4.2.1",
            "v4.3.2-beta", "4.2.1 (build 77)")
SPECS = (">=4.2,<4.3.2", "==4.2.*", "~=1.0", ">=2", "<4.2", "!=4.2.1")
FEATURES = ("night-vision", "live-view", "speed-test")


def _opt(values: tuple[str, ...]) -> st.SearchStrategy:
    return st.one_of(st.none(), st.sampled_from(values))


@st.composite
def customers(draw: st.DrawFn, number: int) -> dict:
    owned = draw(st.lists(st.fixed_dictionaries({
        "product": st.sampled_from(PRODUCTS), "version": st.sampled_from(VERSIONS),
        "platform": _opt(("ios", "android")), "status": st.sampled_from(("active", "active", "returned", "retired")),
    }), max_size=3))
    usage = draw(st.lists(st.builds(
        lambda p, f, days, n: {"product": p, "feature": f, "count": n,
                               "timestamp": (NOW - dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        st.sampled_from(PRODUCTS), st.sampled_from(FEATURES), st.integers(0, 400), st.integers(0, 4)), max_size=4))
    channels = draw(st.fixed_dictionaries({c: st.booleans() for c in ("email", "sms", "push")}))
    return {"customer_id": f"cust-{number:04d}", "region": draw(_opt(("eu", "us", "uk"))),
            "locale": draw(_opt(("en-GB", "de-DE"))), "segment": draw(_opt(("consumer", "pro", "business"))),
            "owned": owned, "usage": usage,
            "preferred_channel": draw(st.sampled_from(("email", "sms", "push", "none"))),
            "addresses": {"email": f"c{number}@example.com", "sms": "+447700900123"},
            "consents": {"proactive-contact": draw(st.booleans()), "usage": draw(st.booleans()), "channels": channels}}


@st.composite
def issues(draw: st.DrawFn) -> KnownIssue:
    products = tuple(draw(st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=2, unique=True)))
    versions = {p: draw(st.sampled_from(SPECS)) for p in products if draw(st.booleans())}
    subset = lambda values: st.lists(st.sampled_from(values), max_size=2, unique=True).map(tuple)  # noqa: E731
    usage = draw(st.none() | st.builds(
        UsageCondition, feature=st.lists(st.sampled_from(FEATURES), min_size=1, max_size=2, unique=True).map(tuple),
        product=subset(PRODUCTS), within_days=st.none() | st.integers(1, 500), min_events=st.integers(1, 6)))
    scope = Scope(products=products, versions=versions, platforms=draw(subset(("ios", "android"))),
                  regions=draw(subset(("eu", "us", "uk"))), locales=draw(subset(("en-GB", "de-DE"))),
                  audience=draw(subset(("consumer", "pro", "business"))))
    return KnownIssue(id="ki", title="", scope=scope, impact=draw(st.sampled_from(IMPACTS)), usage=usage)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 25).flatmap(lambda n: st.tuples(*[customers(i) for i in range(1, n + 1)])), issues(),
       st.sampled_from(["memory", "sqlite"]))
def test_selection_equals_the_per_customer_reference(base: tuple[dict, ...], issue: KnownIssue, store: str) -> None:
    records = list(base)
    opened = (ProfileGateway.in_memory(key=KEY, now=lambda: NOW) if store == "memory"
              else ProfileGateway.open(":memory:", key=KEY, now=lambda: NOW))
    with opened as gateway:
        gateway.load_records(records)
        audience = select_affected(issue, gateway)
        expected, affected, unconsented = reference_audience(issue, records, now=NOW)
        pseudonym = {gateway.pseudonymize(r["customer_id"]): r["customer_id"] for r in records}
    got = {pseudonym[e.customer]: e for e in audience}
    assert set(got) == set(expected)
    assert (audience.n_affected, audience.n_unconsented) == (affected, unconsented)
    for customer_id, entry in got.items():
        want = expected[customer_id]
        assert (entry.product, entry.version, entry.decision.contact, entry.decision.reason, entry.channel) == (
            want["product"], want["version"], want["contact"], want["reason"], want["channel"])
        assert "out" not in want["outcomes"].values()
    for record in records:  # the unselected fail: no active item of theirs passes every dimension
        if record["customer_id"] in expected:
            continue
        consented = record["consents"]["proactive-contact"] and any(record["consents"]["channels"].values())
        if consented:
            for item in record["owned"]:
                if item["status"] == "active" and item["product"] in issue.scope.products:
                    applies = issue.scope.assess(item["product"], item["version"], platform=item["platform"],
                                                 region=record["region"], locale=record["locale"],
                                                 segment=record["segment"]).applies
                    assert not applies or issue.usage is not None
