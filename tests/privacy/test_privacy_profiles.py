"""Profiles and their loaders: the demo help centre's schema is accepted exactly, JSONL and DataFrames agree,
and every bad record is reported like the corpus loaders do (file, line, field, value, fix), with personal
values masked. Also: pseudonyms."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from _privacy_helpers import KEY, record, records
from hypothesis import given, settings

from kbrank.errors import InputError, ParameterError, ProfileError
from kbrank.privacy import (
    ConsentRecord,
    CustomerProfile,
    OwnedProduct,
    Pseudonymizer,
    UsageEvent,
    profile_from_record,
    profile_to_record,
    profiles_from_dataframe,
    profiles_from_records,
    read_profiles_jsonl,
)

PSEUDONYMIZE = Pseudonymizer(KEY)


def load(rec: dict) -> CustomerProfile:
    return profile_from_record(rec, pseudonymize=PSEUDONYMIZE, source="customers.jsonl", line=3)


def test_every_demo_customer_loads(helpcentre) -> None:
    profiles = profiles_from_records(helpcentre.customers, pseudonymize=PSEUDONYMIZE)
    assert len(profiles) == len(helpcentre.customers)
    for customer, p in zip(helpcentre.customers, profiles):
        assert p.id == PSEUDONYMIZE(customer["customer_id"]) and len(p.id) == 64
        assert [(o.product, o.version, o.status, o.platform) for o in p.owned] == [
            (o["product"], o["version"], o["status"], o["platform"]) for o in customer["owned"]]
        assert [e.count for e in p.usage] == [e["count"] for e in customer["usage"]]
        assert dict(p.addresses) == customer["addresses"]
        assert p.consented("usage") == customer["consents"]["usage"]
        assert p.consented("channel:sms") == customer["consents"]["channels"]["sms"]
        assert customer["customer_id"] not in repr(p) and customer["customer_id"] not in repr(p.id)


def test_jsonl_and_dataframe_loaders_agree(tmp_path: Path, helpcentre) -> None:
    path = tmp_path / "customers.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in helpcentre.customers) + "\n")
    from_jsonl = read_profiles_jsonl(path, pseudonymize=PSEUDONYMIZE)
    from_frame = profiles_from_dataframe(pd.DataFrame(helpcentre.customers), pseudonymize=PSEUDONYMIZE)
    assert from_jsonl == from_frame == profiles_from_records(helpcentre.customers, pseudonymize=PSEUDONYMIZE)


def test_dataframe_missing_values_are_absent() -> None:
    frame = pd.DataFrame([record("cust-1"), {"customer_id": "cust-2", "region": None, "locale": float("nan")}])
    profiles = profiles_from_dataframe(frame, pseudonymize=PSEUDONYMIZE)
    assert profiles[1].region is None and profiles[1].locale is None and profiles[1].owned == ()
    with pytest.raises(ProfileError, match="expected a pandas DataFrame"):
        profiles_from_dataframe([record()], pseudonymize=PSEUDONYMIZE)


@settings(max_examples=80, deadline=None)
@given(rec=records())
def test_records_round_trip(rec: dict) -> None:
    p = profile_from_record(rec, pseudonymize=PSEUDONYMIZE)
    again = profile_from_record(json.loads(json.dumps(profile_to_record(p))), pseudonymize=PSEUDONYMIZE)
    assert again == p
    assert "customer_id" not in profile_to_record(p)


def test_consents_with_timestamps_round_trip() -> None:
    rec = record(consents={"chat": {"granted": True, "recorded_at": "2026-10-01T12:00:00+02:00"}})
    p = load(rec)
    assert p.consent("chat") == ConsentRecord("chat", True, dt.datetime(2026, 10, 1, 10, tzinfo=dt.timezone.utc))
    assert profile_to_record(p)["consents"] == {"chat": {"granted": True, "recorded_at": "2026-10-01T10:00:00Z"}}


def _error(rec: dict) -> ProfileError:
    with pytest.raises(ProfileError) as caught:
        load(rec)
    return caught.value


@pytest.mark.parametrize("change, field, message, fix", [
    ({"owned": [{"product": "router-x200", "version": "2.3.1", "status": "lost"}]}, "owned[0].status",
     "unknown status (got 'lost')", "use one of active, returned, retired"),
    ({"owned": [{"product": "router-x200", "version": "two"}]}, "owned[0].version",
     "a version needs a number (got 'two')", "leave it out (null) when it is unknown"),
    ({"owned": [{"product": "router-x200", "version": "2.3.1", "registered": "2025-01-01"}]},
     "owned[0].registered", "unknown field; did you mean 'registered_at'?", "rename it to 'registered_at'"),
    ({"usage": [{"product": "p", "feature": "f", "timestamp": "2026-10-01 12:00"}]}, "usage[0].timestamp",
     "the timestamp has no time zone", "add a UTC offset"),
    ({"usage": [{"product": "p", "feature": "f", "timestamp": "yesterday"}]}, "usage[0].timestamp",
     "expected an ISO 8601 timestamp (got 'yesterday')", "'2026-10-01T12:00:00Z'"),
    ({"usage": [{"product": "p", "feature": "f", "timestamp": "2026-10-01T00:00:00Z", "count": -1}]},
     "usage[0].count", "expected a whole number from 0 to 9223372036854775807 (got -1)", "write a count"),
    ({"consents": {"personalisation": True}}, "consents.personalisation",
     "unknown consent scope; did you mean 'personalization'?", "rename it to 'personalization'"),
    ({"consents": {"chat": "yes"}}, "consents.chat", "expected true or false (got 'yes')", "write true/false"),
    ({"consents": {"channels": {"fax": True}}}, "consents.channels.fax", "unknown contact channel",
     "use one of email, sms, push"),
    ({"preferred_channel": "pigeon"}, "preferred_channel", "unknown contact channel (got 'pigeon')",
     "use one of email, sms, push, none"),
    ({"locale": "English"}, "locale", "not a BCP 47 language tag (got 'English')", "'en-GB'"),
    ({"shoe_size": 44}, "shoe_size", "unknown field", "kbrank keeps only"),
    ({"regoin": "eu"}, "regoin", "unknown field; did you mean 'region'?", "rename it to 'region'"),
    ({"owned": {"product": "x"}}, "owned", "expected a list of objects", "JSON list"),
])
def test_bad_records_name_file_line_field_value_and_fix(change: dict, field: str, message: str, fix: str) -> None:
    error = _error(record(**change))
    assert isinstance(error, InputError) and isinstance(error, ValueError)
    assert (error.source, error.line, error.field) == ("customers.jsonl", 3, field)
    assert str(error).startswith(f"customers.jsonl, line 3, field {field!r}: {message}")
    assert fix in str(error) and error.fix


@pytest.mark.parametrize("change, field", [
    ({"addresses": {"email": "jo.bloggs-at-example.com"}}, "addresses.email"),
    ({"addresses": {"sms": "call me maybe"}}, "addresses.sms"),
    ({"customer_id": ["cust-0001"]}, "customer_id"),
    ({"customer_id": None, "pseudonym": "cust-0001-not-hex"}, "pseudonym"),
])
def test_personal_values_are_masked_in_errors(change: dict, field: str) -> None:
    error = _error(record(**change))
    assert error.field == field and "<masked" in str(error)
    for secret in ("jo.bloggs", "call me maybe", "cust-0001"):
        assert secret not in str(error)


def test_missing_and_double_ids() -> None:
    assert _error(record(customer_id=" ")).field == "customer_id"
    both = record()
    both["pseudonym"] = PSEUDONYMIZE("cust-0001")
    assert "both 'customer_id' and 'pseudonym'" in str(_error(both))


def test_jsonl_errors_carry_the_line(tmp_path: Path) -> None:
    path = tmp_path / "customers.jsonl"
    path.write_text(json.dumps(record("cust-1")) + "\n\n" + '{"customer_id": "cust-2", "owned": [\n')
    with pytest.raises(ProfileError, match=r"customers.jsonl, line 3: malformed JSON"):
        read_profiles_jsonl(path, pseudonymize=PSEUDONYMIZE)
    path.write_text(json.dumps(record("cust-1")) + "\n" + json.dumps(record("cust-1")) + "\n")
    with pytest.raises(ProfileError, match="line 2, field 'customer_id': the same customer is already on line 1"):
        read_profiles_jsonl(path, pseudonymize=PSEUDONYMIZE)
    with pytest.raises(ProfileError, match="file not found"):
        read_profiles_jsonl(tmp_path / "nope.jsonl", pseudonymize=PSEUDONYMIZE)
    path.write_bytes(b'{"customer_id": "\xff"}\n')
    with pytest.raises(ProfileError, match="not valid UTF-8"):
        read_profiles_jsonl(path, pseudonymize=PSEUDONYMIZE)


def test_pseudonyms_are_keyed_hashes() -> None:
    other = Pseudonymizer("another deployer's secret key")
    assert PSEUDONYMIZE("cust-0001") == Pseudonymizer(KEY.encode())("cust-0001")
    assert PSEUDONYMIZE("cust-0001") != other("cust-0001") != PSEUDONYMIZE("CUST-0001")
    assert KEY not in repr(PSEUDONYMIZE) and PSEUDONYMIZE.fingerprint in repr(PSEUDONYMIZE)
    with pytest.raises(ParameterError, match="customer_id must be a non-empty string"):
        PSEUDONYMIZE("")


def test_profile_types_check_their_invariants() -> None:
    with pytest.raises(ParameterError, match="status must be one of"):
        OwnedProduct("p", "1.0", status="broken")
    with pytest.raises(ParameterError, match="timezone-aware"):
        UsageEvent("p", "f", dt.datetime(2026, 1, 1))
    with pytest.raises(ParameterError, match="addresses must be keys among"):
        CustomerProfile("x" * 64, addresses={"fax": "123"})
    p = CustomerProfile("x" * 64, consents=(ConsentRecord("chat", True), ConsentRecord("chat", False)))
    assert p.consents == (ConsentRecord("chat", False),)  # one record per scope, the last given wins
    assert not p.consented("chat") and not p.consented("never-asked")
    assert hash(p) == hash(CustomerProfile("x" * 64, consents=(ConsentRecord("chat", False),)))
