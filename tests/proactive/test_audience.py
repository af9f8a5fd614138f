"""Audience selection over the demo help centre: the embedded path against the plain-Python reference, on both
stores; one audit record per scan; consent, purpose and guard; clauses and summaries."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from _proactive_reference import reference_audience

from kbrank.applicability import Scope
from kbrank.datasets import generate_helpcentre
from kbrank.errors import ParameterError
from kbrank.privacy import ProfileGateway
from kbrank.proactive import (
    DEFAULT_POLICY,
    AudienceGuard,
    ImpactPolicy,
    ImpactRule,
    KnownIssue,
    UsageCondition,
    select_affected,
    select_from_columns,
)

KEY = "proactive-test-key-0123456789abcdef"
HC = generate_helpcentre(n_customers=400)
NOW = dt.datetime.combine(HC.as_of, dt.time(), tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    path = None if request.param == "memory" else tmp_path_factory.mktemp("store") / "profiles.db"
    with ProfileGateway.from_helpcentre(HC, key=KEY, path=path) as gateway:
        yield gateway


def _check_against_reference(issue: KnownIssue, gateway: ProfileGateway) -> None:
    audience = select_affected(issue, gateway)
    expected, affected, unconsented = reference_audience(issue, list(HC.customers), now=NOW)
    got = {entry.customer: entry for entry in audience}
    assert set(got) == {gateway.pseudonymize(c) for c in expected}
    assert (audience.n_affected, audience.n_unconsented) == (affected, unconsented)
    for customer_id, want in expected.items():
        entry = got[gateway.pseudonymize(customer_id)]
        assert (entry.product, entry.version, entry.decision.contact, entry.decision.reason, entry.channel) == (
            want["product"], want["version"], want["contact"], want["reason"], want["channel"])
        assert entry.clause.startswith(f"owns {want['product']} {want['version']}")


def test_every_demo_known_issue_selects_exactly_the_reference_audience(gateway: ProfileGateway) -> None:
    assert HC.known_issues
    for issue in HC.known_issues:
        _check_against_reference(issue, gateway)


def test_platform_region_locale_segment_and_usage_restrictions(gateway: ProfileGateway) -> None:
    issues = [
        KnownIssue(id="a", title="", impact="broken", scope=Scope(products=("cam-c10", "cam-c20"), versions={
            "cam-c10": ">=4.2,<4.3.2"}, regions=("eu", "uk"), platforms=("ios",))),
        KnownIssue(id="b", title="", impact="degraded", scope=Scope(products=("router-x200",), locales=("de-DE",),
                                                                    audience=("pro", "consumer")),
                   usage=UsageCondition(feature=("parental-controls", "speed-test"), within_days=45, min_events=10)),
        KnownIssue(id="c", title="", impact="cosmetic", scope=Scope(products=("app-home",), versions={
            "app-home": "~=5.2"}, platforms=("android", "web"))),
    ]
    for issue in issues:
        _check_against_reference(issue, gateway)


def test_the_clause_names_the_item_the_range_and_the_restrictions(gateway: ProfileGateway) -> None:
    issue = KnownIssue(id="c10", title="", impact="broken", scope=Scope(products=("cam-c10",), versions={
        "cam-c10": ">=4.2,<4.3.2"}, regions=("eu",)))
    audience = select_affected(issue, gateway)
    assert len(audience) >= 1
    assert {entry.clause for entry in audience} == {"owns cam-c10 4.2.0, within >=4.2,<4.3.2, EU"}
    usage_issue = KnownIssue(id="n", title="", impact="degraded", scope=Scope(products=("cam-c10",)),
                             usage=UsageCondition(feature="night-vision", within_days=30))
    clauses = {entry.clause for entry in select_affected(usage_issue, gateway)}
    assert clauses <= {f"owns cam-c10 {v}, uses night-vision (last 30 days)" for v in HC.catalog["cam-c10"]["versions"]
                       } | {f"owns cam-c10 {v}, usage not known" for v in HC.catalog["cam-c10"]["versions"]}
    assert any("usage not known" in c for c in clauses) and any("uses night-vision" in c for c in clauses)


def test_one_audit_record_names_the_fields_and_counts(gateway: ProfileGateway) -> None:
    issue = HC.known_issues[0]
    before = len(gateway._audit)
    audience = select_affected(issue, gateway, requester="test.proactive")
    records = gateway._audit.for_customer("*")
    assert len(gateway._audit) == before + 1
    record = records[-1]
    assert (record.action, record.purpose, record.requester) == ("scan", "proactive-contact", "test.proactive")
    assert "addresses" not in " ".join(record.fields) and "owned.version" in record.fields
    counts = dict(f[1:].split("=") for f in record.fields if f.startswith("#"))
    assert int(counts["customers"]) == audience.n_scanned
    assert int(counts["unconsented"]) >= audience.n_unconsented


def test_withdrawn_consent_moves_a_customer_from_the_audience_to_the_count(tmp_path: Path) -> None:
    issue = KnownIssue(id="c10", title="", impact="broken", scope=Scope(products=("cam-c10",)))
    with ProfileGateway.from_helpcentre(HC, key=KEY, path=tmp_path / "p.db") as gateway:
        first = select_affected(issue, gateway)
        customer = next(c for c in HC.customers if gateway.pseudonymize(c["customer_id"]) == first[0].customer)
        gateway.set_consent(customer["customer_id"], "proactive-contact", False)
        second = select_affected(issue, gateway)
    assert len(second) == len(first) - 1 and first[0].customer not in {e.customer for e in second}
    assert second.n_unconsented == first.n_unconsented + 1 and second.n_affected == first.n_affected
    assert b"" not in set(second.customers.tolist())


def test_the_impact_policy_decides_and_explains_per_customer(gateway: ProfileGateway) -> None:
    scope = Scope(products=("router-x200",))
    cosmetic = select_affected(KnownIssue(id="x", title="", impact="cosmetic", scope=scope), gateway)
    assert len(cosmetic) > 0 and cosmetic.n_to_contact == 0
    assert {e.decision.reason for e in cosmetic} == {"cosmetic: not worth an interruption"}
    broken = select_affected(KnownIssue(id="y", title="", impact="broken", scope=scope), gateway)
    assert broken.n_to_contact == len(broken) == len(cosmetic)
    degraded = select_affected(KnownIssue(id="z", title="", impact="degraded", scope=scope), gateway)
    by_segment = {(e.segment, e.decision.contact) for e in degraded}
    assert by_segment == {("pro", True), ("business", True), ("consumer", False)}
    strict = ImpactPolicy((ImpactRule(True, "business only", segments=("business",)), ImpactRule(False, "others")))
    custom = select_affected(KnownIssue(id="y", title="", impact="broken", scope=scope), gateway, policy=strict)
    assert {e.segment for e in custom if e.decision.contact} == {"business"}
    assert DEFAULT_POLICY.decide("outage", None, "unknown").contact


@pytest.mark.parametrize("bad", [5, None, ("broken", 3), ("",)])
def test_an_impact_rule_refuses_what_is_not_names(bad: object) -> None:
    """A number or None used to escape as a bare TypeError ('int' object is not iterable)."""
    with pytest.raises(ParameterError, match="impacts must be a name or a tuple of names"):
        ImpactRule(True, "x", impacts=bad)


def test_the_guard_asks_for_confirmation_and_holds_back_tiny_audiences(gateway: ProfileGateway) -> None:
    issue = KnownIssue(id="y", title="", impact="broken", scope=Scope(products=("router-x200",)))
    audience = select_affected(issue, gateway, guard=AudienceGuard(confirm_above=10))
    assert audience.requires_confirmation and audience.notify
    assert not select_affected(issue, gateway).requires_confirmation
    lone = KnownIssue(id="l", title="", impact="broken", scope=Scope(products=("router-x200",), versions={
        "router-x200": "==9.9"}))
    nobody = select_affected(lone, gateway)
    assert (len(nobody), nobody.n_affected, nobody.notify) == (0, 0, False)
    fixed = select_affected(issue.with_status("fixed"), gateway)
    assert not fixed.notify


def test_to_pandas_summary_and_explain(gateway: ProfileGateway) -> None:
    issue = KnownIssue(id="z", title="", impact="degraded", scope=Scope(products=("router-x200",)))
    audience = select_affected(issue, gateway)
    frame = audience.to_pandas()
    assert len(frame) == len(audience) and list(frame["customer"]) == [e.customer for e in audience]
    summary = audience.summary()
    assert summary["customers"].sum() == len(audience) + audience.n_unconsented
    assert set(summary["channel"]) <= {"email", "sms", "push", "none"}
    entry = audience[3]
    assert audience.explain(entry.customer) == entry
    with pytest.raises(ParameterError, match="customer in this audience"):
        audience.explain("0" * 64)


def test_only_proactive_contact_columns_are_accepted(gateway: ProfileGateway) -> None:
    columns = gateway.scan_columns("analytics", products=["cam-c10"])
    assert set(columns.customer.tolist()) == {b""}  # analytics never hands out pseudonyms
    with pytest.raises(ParameterError, match="CustomerColumns scanned for 'proactive-contact'"):
        select_from_columns(HC.known_issues[0], columns)
    with pytest.raises(ParameterError, match="products must be product ids"):
        gateway.scan_columns("proactive-contact", products=[""])
    with pytest.raises(TypeError, match="never pickled"):
        import pickle

        pickle.dumps(columns)


def test_columns_of_both_stores_are_identical(tmp_path: Path) -> None:
    from kbrank.privacy import UsageQuery

    with ProfileGateway.from_helpcentre(HC, key=KEY) as memory, \
            ProfileGateway.from_helpcentre(HC, key=KEY, path=tmp_path / "p.db") as sqlite:
        for products in (None, ["cam-c10", "app-home"]):
            usage = UsageQuery(("night-vision", "live-view"), since=NOW - dt.timedelta(days=40))
            a = memory.scan_columns("proactive-contact", products=products, usage=usage, include_unconsented=True)
            b = sqlite.scan_columns("proactive-contact", products=products, usage=usage, include_unconsented=True)
            for name in ("products", "versions", "platforms", "regions", "locales", "segments"):
                assert getattr(a, name) == getattr(b, name)
            for name in ("customer", "region", "locale", "segment", "consented", "channels", "preferred", "usage",
                         "owner", "position", "product", "version", "platform", "status"):
                assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_an_erased_customer_is_gone_from_the_columnar_scan(tmp_path: Path) -> None:
    issue = KnownIssue(id="c10", title="", impact="broken", scope=Scope(products=("cam-c10",)))
    with ProfileGateway.from_helpcentre(HC, key=KEY, path=tmp_path / "p.db") as gateway:
        first = select_affected(issue, gateway)
        customer = next(c for c in HC.customers if gateway.pseudonymize(c["customer_id"]) == first[0].customer)
        gateway.erase(customer["customer_id"])
        columns = gateway.scan_columns("proactive-contact", include_unconsented=True)
        assert first[0].customer.encode() not in set(columns.customer.tolist())
        assert select_affected(issue, gateway).n_affected == first.n_affected - 1


def test_the_readme_example_holds() -> None:
    from kbrank.datasets import load_helpcentre

    hc = load_helpcentre()
    with ProfileGateway.from_helpcentre(hc, key="a deployer secret of 32 bytes...") as gateway:
        audience = select_affected(hc.known_issues[0], gateway)
    assert audience[0].clause == "owns bell-d1 2.3.0, within >=2.3"
    assert audience[0].decision.reason == "the product does not work as it should"


def test_the_access_report_lists_the_columnar_scan(tmp_path: Path) -> None:
    customer = HC.customers[0]["customer_id"]
    with ProfileGateway.from_helpcentre(HC, key=KEY, path=tmp_path / "p.db") as gateway:
        select_affected(HC.known_issues[0], gateway, requester="test.proactive")
        history = gateway.access_report(customer).history
    scans = [r for r in history if r.action == "scan" and r.customer == "*"]
    assert len(scans) == 1 and scans[0].requester == "test.proactive" and scans[0].purpose == "proactive-contact"
    assert [r.at for r in history] == sorted(r.at for r in history)
