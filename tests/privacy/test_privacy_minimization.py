"""Consent and minimization, property-tested: for random profiles, consents, purposes and channels, no field
outside the purpose's allowance (given the customer's consents) ever reaches the caller, through a read, a
scan, a repr, or the audit trail."""

from __future__ import annotations

import datetime as dt

from _privacy_helpers import KEY, NOW, RETENTION, granted, records
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbrank.errors import ConsentError, FieldNotAllowedError, ParameterError
from kbrank.privacy import CHANNELS, DATA_FIELDS, PURPOSES, ProfileGateway, ProfileView

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def allowed_fields(rec: dict, purpose: str) -> set[str]:
    """The fields a purpose may hand out for this record's consents, written independently of the library."""
    spec = PURPOSES[purpose]
    fields = set(spec.fields)
    if granted(rec, "usage"):
        fields.add("usage")
    return fields


def allowed_channels(rec: dict, channel: str | None) -> set[str]:
    wanted = {channel} if channel else set(CHANNELS)
    return {c for c in wanted if granted(rec, f"channel:{c}")}


def may_read(rec: dict, purpose: str, channel: str | None) -> bool:
    if not granted(rec, purpose):
        return False
    return not PURPOSES[purpose].contact or bool(allowed_channels(rec, channel))


def forbidden_values(rec: dict, view: ProfileView) -> list[str]:
    """Personal values that must not appear anywhere in what the caller got."""
    values = [rec["customer_id"]]
    channels_out = set(view.addresses) if "addresses" in view.fields else set()
    values += [address for channel, address in rec["addresses"].items() if channel not in channels_out]
    if "usage" not in view.fields:
        values += [event["feature"] for event in rec["usage"]]
    if "owned" not in view.fields:
        values += [f"'{item['product']}'" for item in rec["owned"]]
    return values


def check_view(view: ProfileView, rec: dict, purpose: str, channel: str | None) -> None:
    allowed = allowed_fields(rec, purpose)
    assert set(view.fields) == allowed  # minimization: exactly the allowance, nothing else
    for name in DATA_FIELDS:
        if name not in allowed:
            assert not hasattr(view, name)
            try:
                getattr(view, name)
            except FieldNotAllowedError as exc:
                assert exc.field == name and exc.purpose == purpose
            else:  # pragma: no cover - the assertion above would already have failed
                raise AssertionError(name)
    assert set(view.to_dict()) == allowed
    if "addresses" in allowed:
        assert set(view.channels) == allowed_channels(rec, channel)
        assert set(view.addresses) <= set(view.channels)
        assert view.preferred_channel in (*view.channels, "none")
    if "usage" in allowed:
        assert all(event.timestamp >= NOW - RETENTION for event in view.usage)
    text = repr(view) + repr(view.to_dict())
    for value in forbidden_values(rec, view):
        assert value not in text, value


@SETTINGS
@given(rec=records(), purpose=st.sampled_from(sorted(PURPOSES)), channel=st.none() | st.sampled_from(CHANNELS),
       degrade=st.booleans())
def test_a_read_hands_out_nothing_outside_the_allowance(rec: dict, purpose: str, channel: str | None,
                                                         degrade: bool) -> None:
    with ProfileGateway.in_memory(key=KEY, now=lambda: NOW, retention=RETENTION) as gateway:
        gateway.load_records([rec])
        pseudonym = gateway.pseudonymize(rec["customer_id"])
        if channel is not None and not PURPOSES[purpose].contact:
            try:
                gateway.read(rec["customer_id"], purpose, channel=channel)
            except ParameterError:
                return
            raise AssertionError("a channel for a non-contact purpose must be refused")
        try:
            view = gateway.read(rec["customer_id"], purpose, channel=channel, degrade=degrade)
        except ConsentError as exc:
            assert not degrade and not may_read(rec, purpose, channel)
            assert exc.customer == pseudonym and exc.purpose == purpose and rec["customer_id"] not in str(exc)
            view = None
        if view is not None and not may_read(rec, purpose, channel):
            assert degrade and not view.personalized and view.fields == ()
        elif view is not None:
            check_view(view, rec, purpose, channel)
        history = gateway.access_report(rec["customer_id"]).history
        last_read = [r for r in history if r.action == "read"][-1]
        expected = () if view is None or not view.personalized else tuple(
            f"addresses.{c}" if f == "addresses" else f
            for f in view.fields for c in (sorted(view.addresses) if f == "addresses" else [None]))
        assert last_read.fields == expected and last_read.customer == pseudonym
        audit_text = repr(history)
        for value in [rec["customer_id"], *rec["addresses"].values(), *(e["feature"] for e in rec["usage"])]:
            assert value not in audit_text  # the audit names fields, never values


@SETTINGS
@given(population=st.lists(records(), min_size=1, max_size=8, unique_by=lambda r: r["customer_id"]),
       purpose=st.sampled_from(sorted(PURPOSES)), channel=st.none() | st.sampled_from(CHANNELS))
def test_a_scan_yields_exactly_the_consenting_customers_minimized(population: list[dict], purpose: str,
                                                                   channel: str | None) -> None:
    if channel is not None and not PURPOSES[purpose].contact:
        channel = None
    with ProfileGateway.in_memory(key=KEY, now=lambda: NOW, retention=RETENTION) as gateway:
        gateway.load_records(population)
        by_pseudonym = {gateway.pseudonymize(r["customer_id"]): r for r in population}
        expected = sorted(p for p, r in by_pseudonym.items() if may_read(r, purpose, channel))
        seen: list[ProfileView] = []

        def keep(view: ProfileView) -> bool:
            seen.append(view)
            return True

        views = list(gateway.scan(purpose, keep, channel=channel))
        assert len(views) == len(expected) == len(seen)
        if PURPOSES[purpose].contact:
            assert [v.customer for v in views] == expected
        order = iter(expected)
        for view in views:
            rec = by_pseudonym[next(order)]
            check_view(view, rec, purpose, channel)


@settings(max_examples=60, deadline=None)
@given(rec=records(), days=st.integers(1, 800))
def test_no_usage_event_older_than_the_horizon_is_ever_handed_out(rec: dict, days: int) -> None:
    horizon = dt.timedelta(days=days)
    with ProfileGateway.in_memory(key=KEY, now=lambda: NOW, retention=horizon) as gateway:
        gateway.load_records([rec])
        for view in gateway.scan("evaluation"):
            assert all(e.timestamp >= NOW - horizon for e in getattr(view, "usage", ()))
        before = sum(len(v.usage) for v in gateway.scan("evaluation") if "usage" in v.fields)
        purged = gateway.purge_expired()
        kept = [e for e in rec["usage"] if dt.datetime.fromisoformat(e["timestamp"][:-1] + "+00:00") >= NOW - horizon]
        assert purged == len(rec["usage"]) - len(kept)
        assert before == sum(len(v.usage) for v in gateway.scan("evaluation") if "usage" in v.fields)
