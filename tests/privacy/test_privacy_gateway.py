"""The gateway: purposes and their fields, consent (per purpose, per channel, for usage), graceful
degradation, retention with an injected clock, the audit trail, the cache, scans, and the key check."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path

import pytest
from _privacy_helpers import KEY, NOW, Clock, record

from kbrank.errors import (
    ConsentError,
    FieldNotAllowedError,
    ParameterError,
    ProfileStoreError,
    UnknownCustomerError,
)
from kbrank.privacy import (
    DATA_FIELDS,
    PURPOSES,
    ProfileGateway,
    ProfileView,
    Purpose,
    UsageEvent,
    Where,
)

EXPECTED_FIELDS = {  # the purposes -> fields table of the README, with every consent given
    "personalization": ("owned", "usage", "region", "locale", "segment"),
    "chat": ("owned", "usage", "region", "locale", "segment"),
    "proactive-contact": ("customer", "owned", "usage", "region", "locale", "segment", "preferred_channel",
                          "channels", "addresses"),
    "evaluation": ("owned", "usage", "region", "locale", "segment"),
    "analytics": ("owned", "usage", "region", "segment"),
}


def consents(**answers: bool) -> dict:
    base = {"personalization": True, "usage": True, "chat": True, "proactive-contact": True, "evaluation": True,
            "analytics": True}
    channels = {c: answers.pop(c) for c in ("email", "sms", "push") if c in answers}
    base.update(answers)
    base["channels"] = {"email": True, "sms": True, "push": True, **channels}
    return base


def test_each_purpose_hands_out_exactly_its_fields(gateway: ProfileGateway) -> None:
    gateway.load_records([record()])
    assert set(PURPOSES) == set(EXPECTED_FIELDS)
    for purpose, fields in EXPECTED_FIELDS.items():
        view = gateway.read("cust-0001", purpose)
        assert view.fields == fields, purpose
        assert view.personalized and view.purpose == purpose
        for absent in set(DATA_FIELDS) - set(fields):
            assert not hasattr(view, absent)
            with pytest.raises(FieldNotAllowedError, match=f"does not hold '{absent}'"):
                getattr(view, absent)


def test_personalization_uses_owned_products_but_usage_only_with_usage_consent(gateway: ProfileGateway) -> None:
    gateway.load_records([record(consents=consents(usage=False))])
    view = gateway.read("cust-0001", "personalization")
    assert [o.product for o in view.owned] == ["router-x200", "cam-c10"]
    assert "usage" not in view.fields
    gateway.set_consent("cust-0001", "usage", True)
    assert [e.feature for e in gateway.read("cust-0001", "personalization").usage] == ["feat-guest-net"]


def test_a_missing_consent_is_not_a_consent(gateway: ProfileGateway) -> None:
    gateway.load_records([record(consents={"chat": True})])
    with pytest.raises(ConsentError):
        gateway.read("cust-0001", "personalization")
    assert "usage" not in gateway.read("cust-0001", "chat").fields


def test_without_consent_a_read_raises_with_customer_and_purpose(gateway: ProfileGateway) -> None:
    gateway.load_records([record(consents=consents(chat=False))])
    with pytest.raises(ConsentError) as caught:
        gateway.read("cust-0001", "chat", requester="kbrank.chat")
    error = caught.value
    assert isinstance(error, PermissionError)
    assert error.customer == gateway.pseudonymize("cust-0001") and error.purpose == "chat" and error.scope == "chat"
    assert "cust-0001" not in str(error) and "degrade=True" in str(error)


def test_degrade_returns_the_non_personalized_view(gateway: ProfileGateway) -> None:
    gateway.load_records([record(consents=consents(personalization=False))])
    view = gateway.read("cust-0001", "personalization", degrade=True)
    assert not view.personalized and view.fields == () and view.to_dict() == {}
    assert view.reason == "no consent for 'personalization'"
    unknown = gateway.read("cust-9999", "personalization", degrade=True)
    assert not unknown.personalized and unknown.reason == "no profile"
    with pytest.raises(UnknownCustomerError, match="no profile for customer"):
        gateway.read("cust-9999", "personalization")


def test_contact_is_consented_per_channel(gateway: ProfileGateway) -> None:
    gateway.load_records([record(consents=consents(sms=False), preferred_channel="sms")])
    view = gateway.read("cust-0001", "proactive-contact")
    assert view.channels == ("email", "push")
    assert dict(view.addresses) == {"email": "cust-0001-mail@example.com"}  # no sms address: not consented
    assert view.preferred_channel == "none"  # the preference is for a channel that may not be used
    assert view.customer == gateway.pseudonymize("cust-0001")
    only_email = gateway.read("cust-0001", "proactive-contact", channel="email")
    assert only_email.channels == ("email",) and set(only_email.addresses) == {"email"}
    with pytest.raises(ConsentError, match="channel 'sms'") as caught:
        gateway.read("cust-0001", "proactive-contact", channel="sms")
    assert caught.value.channel == "sms" and caught.value.scope == "channel:sms"


def test_contact_needs_at_least_one_channel(gateway: ProfileGateway) -> None:
    gateway.load_records([record(consents=consents(email=False, sms=False, push=False))])
    with pytest.raises(ConsentError, match="any contact channel"):
        gateway.read("cust-0001", "proactive-contact")


def test_channel_arguments_are_checked(gateway: ProfileGateway) -> None:
    gateway.load_records([record()])
    with pytest.raises(ParameterError, match="only contact purposes"):
        gateway.read("cust-0001", "chat", channel="email")
    with pytest.raises(ParameterError, match="Did you mean 'email'"):
        gateway.read("cust-0001", "proactive-contact", channel="e-mail")


def test_unknown_purposes_suggest_the_right_name(gateway: ProfileGateway) -> None:
    gateway.load_records([record()])
    with pytest.raises(ParameterError, match="Did you mean 'personalization'"):
        gateway.read("cust-0001", "personalisation")
    with pytest.raises(ParameterError, match="Did you mean 'proactive-contact'"):
        gateway.read("cust-0001", "proactive_contact")


def test_views_are_read_only(gateway: ProfileGateway) -> None:
    gateway.load_records([record()])
    view = gateway.read("cust-0001", "proactive-contact")
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.region = "us"  # type: ignore[misc]
    with pytest.raises(TypeError):
        view.addresses["email"] = "x"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.owned[0].version = "9"  # type: ignore[misc]
    with pytest.raises(TypeError, match="never pickled"):
        import pickle

        pickle.dumps(view)


def test_retention_drops_old_usage_at_read_and_purge_removes_it(gateway: ProfileGateway, clock: Clock) -> None:
    gateway.load_records([record()])
    assert [e.feature for e in gateway.read("cust-0001", "chat").usage] == ["feat-guest-net"]  # feat-old is > 1y
    clock.advance(days=60)  # now 2026-12-31: 2026-10-01 is still within a year
    assert len(gateway.read("cust-0001", "chat").usage) == 1
    assert gateway.purge_expired() == 1
    assert gateway.purge_expired() == 0
    clock.advance(days=400)
    assert gateway.read("cust-0001", "chat").usage == ()
    assert gateway.purge_expired() == 1
    assert gateway.access_report("cust-0001").profile.usage == ()


def test_the_store_remembers_the_retention_horizon(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with ProfileGateway.open(path, key=KEY, retention=dt.timedelta(days=30)) as gateway:
        assert gateway.retention == dt.timedelta(days=30)
    with ProfileGateway.open(path, key=KEY) as gateway:
        assert gateway.retention == dt.timedelta(days=30)
    with ProfileGateway.open(path, key=KEY, retention=None) as gateway:
        assert gateway.purge_expired() == 0
    with ProfileGateway.open(path, key=KEY) as gateway:
        assert gateway.retention is None
    with pytest.raises(ParameterError, match="retention must be a positive"):
        ProfileGateway.in_memory(key=KEY, retention=dt.timedelta(0))


def test_every_read_is_audited_with_fields_never_values(gateway: ProfileGateway, clock: Clock) -> None:
    gateway.load_records([record(consents=consents(chat=False, sms=False))])
    gateway.read("cust-0001", "personalization", requester="kbrank.personalize")
    clock.advance(minutes=5)
    gateway.read("cust-0001", "proactive-contact", requester="kbrank.proactive")
    with pytest.raises(ConsentError):
        gateway.read("cust-0001", "chat", requester="kbrank.chat")
    gateway.read("cust-0001", "chat", requester="kbrank.chat", degrade=True)
    history = gateway.access_report("cust-0001", requester="dpo").history
    reads = [(r.requester, r.purpose, r.action, r.outcome, r.fields) for r in history if r.action == "read"]
    assert reads == [
        ("kbrank.personalize", "personalization", "read", "granted", ("owned", "usage", "region", "locale", "segment")),
        ("kbrank.proactive", "proactive-contact", "read", "granted",
         ("customer", "owned", "usage", "region", "locale", "segment", "preferred_channel", "channels",
          "addresses.email")),
        ("kbrank.chat", "chat", "read", "denied", ()),
        ("kbrank.chat", "chat", "read", "degraded", ()),
    ]
    assert [r.at for r in history if r.action == "read"][:2] == [NOW, NOW + dt.timedelta(minutes=5)]
    assert {r.customer for r in history} == {gateway.pseudonymize("cust-0001")}
    assert [r.action for r in history][0] == "write" and history[-1].action == "report"
    text = repr(history)
    for value in ("cust-0001", "example.com", "+4477", "router-x200", "feat-guest-net", "en-GB"):
        assert value not in text


def test_scans_yield_consenting_customers_and_audit_each(gateway: ProfileGateway) -> None:
    gateway.load_records([
        record("cust-a", owned=[{"product": "router-x200", "version": "2.1.0"}]),
        record("cust-b", owned=[{"product": "router-x200", "version": "2.5.0"}]),
        record("cust-c", owned=[{"product": "router-x200", "version": "2.2.0"}],
               consents=consents(**{"proactive-contact": False})),
        record("cust-d", owned=[{"product": "router-x200", "version": "2.3.0"}],
               consents=consents(email=False, sms=False, push=False)),
        record("cust-e", owned=[{"product": "router-x200", "version": "2.0.0"}], consents=consents(sms=False)),
    ])
    views = list(gateway.scan("proactive-contact", Where(product="router-x200", version="<2.4"),
                              requester="kbrank.proactive", channel="sms"))
    assert [v.customer for v in views] == sorted([gateway.pseudonymize("cust-a")])
    views = list(gateway.scan("proactive-contact", Where(product="router-x200", version="<2.4")))
    assert {v.customer for v in views} == {gateway.pseudonymize(c) for c in ("cust-a", "cust-e")}
    assert all(v.fields == EXPECTED_FIELDS["proactive-contact"] for v in views)
    history = gateway.access_report("cust-a").history
    assert [(r.action, r.requester) for r in history if r.action == "scan"] == [
        ("scan", "kbrank.proactive"), ("scan", "kbrank")]
    assert not [r for r in gateway.access_report("cust-c").history if r.action == "scan"]


def test_scan_conditions_must_use_fields_the_purpose_hands_out(gateway: ProfileGateway) -> None:
    gateway.load_records([record()])
    limited = Purpose("support-stats", "counts per region", ("region",))
    with ProfileGateway.in_memory(key=KEY, purposes={"support-stats": limited}) as custom:
        custom.load_records([record(consents={"support-stats": True})])
        with pytest.raises(ParameterError, match="where must be conditions on fields"):
            custom.scan("support-stats", Where(product="router-x200"))
        assert [v.to_dict() for v in custom.scan("support-stats", Where(region="eu"))] == [{"region": "eu"}]


def test_a_usage_condition_never_matches_customers_without_usage_consent(gateway: ProfileGateway) -> None:
    gateway.load_records([record("cust-a"), record("cust-b", consents=consents(usage=False))])
    found = list(gateway.scan("proactive-contact", Where(feature="feat-guest-net")))
    assert [v.customer for v in found] == [gateway.pseudonymize("cust-a")]


def test_scan_with_a_callable_sees_only_the_minimized_view(gateway: ProfileGateway) -> None:
    gateway.load_records([record("cust-a"), record("cust-b", region="us")])
    seen: list[tuple[str, ...]] = []

    def wanted(view: ProfileView) -> bool:
        seen.append(view.fields)
        return view.region == "us"

    assert [v.region for v in gateway.scan("analytics", wanted)] == ["us"]
    assert seen == [EXPECTED_FIELDS["analytics"]] * 2
    with pytest.raises(ParameterError, match="where must be"):
        gateway.scan("analytics", "region = 'us'")  # type: ignore[arg-type]


def test_consent_withdrawal_takes_effect_on_the_next_read(gateway: ProfileGateway) -> None:
    gateway.load_records([record()])
    gateway.read("cust-0001", "personalization")  # now cached
    record_ = gateway.set_consent("cust-0001", "personalization", False, requester="customer-portal")
    assert record_.recorded_at == NOW and not record_.granted
    with pytest.raises(ConsentError):
        gateway.read("cust-0001", "personalization")
    consent_events = [r for r in gateway.access_report("cust-0001").history if r.action == "consent"]
    assert [(r.requester, r.fields) for r in consent_events] == [("customer-portal", ("personalization",))]


def test_a_withdrawal_by_another_process_is_seen_despite_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with ProfileGateway.open(path, key=KEY) as first, ProfileGateway.open(path, key=KEY) as second:
        first.load_records([record()])
        first.read("cust-0001", "chat")
        second.set_consent("cust-0001", "chat", False)
        with pytest.raises(ConsentError):
            first.read("cust-0001", "chat")


def test_set_consent_checks_its_arguments(gateway: ProfileGateway) -> None:
    gateway.load_records([record()])
    with pytest.raises(ParameterError, match="Did you mean 'channel:sms'"):
        gateway.set_consent("cust-0001", "channel:smss", True)
    with pytest.raises(ParameterError, match="granted must be True or False"):
        gateway.set_consent("cust-0001", "chat", "yes")  # type: ignore[arg-type]
    with pytest.raises(UnknownCustomerError):
        gateway.set_consent("cust-9999", "chat", True)


def test_record_usage_appends_and_is_audited(gateway: ProfileGateway) -> None:
    gateway.load_records([record()])
    event = UsageEvent("cam-c10", "feat-night-vision", NOW - dt.timedelta(hours=1), "eu", 4)
    assert gateway.record_usage("cust-0001", [event], requester="telemetry") == 1
    assert gateway.read("cust-0001", "chat").usage[-1] == event
    assert any(r.requester == "telemetry" and r.fields == ("usage",)
               for r in gateway.access_report("cust-0001").history)


def test_a_store_written_with_another_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with ProfileGateway.open(path, key=KEY) as gateway:
        gateway.load_records([record()])
    with pytest.raises(ProfileStoreError, match="another pseudonymization key") as caught:
        ProfileGateway.open(path, key="another key of enough length")
    assert KEY not in str(caught.value)


def test_keys_are_checked_and_never_shown(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="at least 16 bytes") as caught:
        ProfileGateway.in_memory(key="short-secret")
    assert "short-secret" not in str(caught.value)
    with ProfileGateway.in_memory(key=KEY) as gateway:
        assert KEY not in repr(gateway)
    with pytest.raises(TypeError, match="cannot be pickled"):
        import pickle

        from kbrank.privacy import Pseudonymizer

        pickle.dumps(Pseudonymizer(KEY))


def test_raw_ids_never_reach_the_logs(gateway: ProfileGateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kbrank.privacy")
    gateway.load_records([record("cust-7731", consents=consents(chat=False))])
    gateway.read("cust-7731", "personalization")
    list(gateway.scan("proactive-contact"))
    with pytest.raises(ConsentError):
        gateway.read("cust-7731", "chat")
    gateway.set_consent("cust-7731", "chat", True)
    gateway.access_report("cust-7731")
    gateway.erase("cust-7731")
    assert caplog.records, "the gateway logs its work"
    for entry in caplog.records:
        assert "cust-7731" not in entry.getMessage() and "example.com" not in entry.getMessage()


def test_from_helpcentre_loads_the_demo_customers(helpcentre) -> None:
    with ProfileGateway.from_helpcentre(helpcentre, key=KEY) as gateway:
        assert gateway.now() == dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
        scanned = list(gateway.scan("analytics"))
        assert len(scanned) == sum(c["consents"]["analytics"] for c in helpcentre.customers)
        for customer in helpcentre.customers[:10]:
            view = gateway.read(customer["customer_id"], "personalization", degrade=True)
            assert view.personalized == customer["consents"]["personalization"]
            if view.personalized:
                assert ("usage" in view.fields) == customer["consents"]["usage"]
                assert len(view.owned) == len(customer["owned"])


def test_requester_must_be_named(gateway: ProfileGateway) -> None:
    gateway.load_records([record()])
    with pytest.raises(ParameterError, match="requester must be a non-empty name"):
        gateway.read("cust-0001", "chat", requester=" ")


def test_naive_clocks_are_refused_before_anything_is_written() -> None:
    with ProfileGateway.in_memory(key=KEY, now=lambda: dt.datetime(2026, 1, 1)) as gateway:
        with pytest.raises(ParameterError, match="timezone-aware"):
            gateway.load_records([record()])
        assert gateway.read("cust-0001", "chat", degrade=True).reason == "no profile"  # nothing was written
