"""Shared test data for the privacy tests: a key, a settable clock, and hypothesis strategies that draw
profile records in the demo help centre's schema, with distinctive ("sentinel") personal values so that a
test can search any output for them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from _shared_helpers import Clock as HandClock
from hypothesis import strategies as st

KEY = "test-key-0123456789abcdef-0123456789"
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
RETENTION = dt.timedelta(days=365)
PURPOSE_SCOPES = ("personalization", "chat", "proactive-contact", "evaluation", "analytics")
CHANNELS = ("email", "sms", "push")
PRODUCTS = ("router-x200", "cam-c10", "thermo-t1")
FEATURES = ("feat-guest-net", "feat-night-vision", "feat-schedule")


class Clock(HandClock):
    """The hand-moved clock, starting at this package's ``NOW``."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        super().__init__(now)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(customer_id: str = "cust-0001", **overrides: Any) -> dict:
    """A complete, valid record that consents to everything (override what a test needs)."""
    base = {
        "customer_id": customer_id, "region": "eu", "locale": "en-GB", "segment": "consumer",
        "owned": [{"product": "router-x200", "line": "router", "version": "2.3.1", "platform": "ios",
                   "registered_at": "2025-03-01", "status": "active"},
                  {"product": "cam-c10", "line": "camera", "version": "1.0.0", "platform": None,
                   "registered_at": "2024-01-10", "status": "retired"}],
        "usage": [{"product": "router-x200", "feature": "feat-guest-net", "timestamp": "2026-10-01T12:00:00Z",
                   "region": "eu", "count": 3},
                  {"product": "router-x200", "feature": "feat-old", "timestamp": "2025-06-01T08:00:00Z",
                   "region": "eu", "count": 1}],
        "preferred_channel": "email",
        "addresses": {"email": f"{customer_id}-mail@example.com", "sms": "+447700900123"},
        "consents": {"personalization": True, "usage": True, "chat": True, "proactive-contact": True,
                     "evaluation": True, "analytics": True, "channels": {"email": True, "sms": True, "push": True}},
    }
    base.update(overrides)
    return base


@st.composite
def owned_items(draw: Any) -> dict:
    return {"product": draw(st.sampled_from(PRODUCTS)), "line": "line",
            "version": f"{draw(st.integers(0, 3))}.{draw(st.integers(0, 5))}.{draw(st.integers(0, 3))}",
            "platform": draw(st.sampled_from(["ios", "android", None])),
            "registered_at": draw(st.dates(dt.date(2020, 1, 1), dt.date(2026, 10, 31))).isoformat(),
            "status": draw(st.sampled_from(["active", "returned", "retired"]))}


@st.composite
def usage_events(draw: Any) -> dict:
    seconds = draw(st.integers(0, 600 * 86400))
    return {"product": draw(st.sampled_from(PRODUCTS)), "feature": draw(st.sampled_from(FEATURES)),
            "timestamp": iso(NOW - dt.timedelta(seconds=seconds)), "region": draw(st.sampled_from(["eu", "us"])),
            "count": draw(st.integers(0, 50))}


@st.composite
def consents(draw: Any) -> dict:
    """Every scope answered yes, no, or not at all (a missing answer means no)."""
    answers: dict[str, Any] = {}
    for scope in (*PURPOSE_SCOPES, "usage"):
        answer = draw(st.sampled_from([True, False, None]))
        if answer is not None:
            answers[scope] = answer
    channels = {c: draw(st.booleans()) for c in CHANNELS if draw(st.booleans())}
    if channels:
        answers["channels"] = channels
    return answers


@st.composite
def records(draw: Any, customer_id: str | None = None) -> dict:
    number = draw(st.integers(1, 9999))
    cid = customer_id or f"cust-{number:04d}"
    addresses = {}
    if draw(st.booleans()):
        addresses["email"] = f"sentinel.mail.{number}@example.com"
    if draw(st.booleans()):
        addresses["sms"] = f"+1555{number:07d}"
    if draw(st.booleans()):
        addresses["push"] = f"sentinel-push-token-{number}"
    return {
        "customer_id": cid, "region": draw(st.sampled_from(["eu", "us", None])),
        "locale": draw(st.sampled_from(["en-GB", "de-DE", None])),
        "segment": draw(st.sampled_from(["consumer", "pro", None])),
        "owned": draw(st.lists(owned_items(), max_size=3)),
        "usage": draw(st.lists(usage_events(), max_size=4)),
        "preferred_channel": draw(st.sampled_from(["email", "sms", "push", "none"])),
        "addresses": addresses,
        "consents": draw(consents()),
    }


def granted(rec: dict, scope: str) -> bool:
    """Whether a record's consents grant ``scope`` (a purpose, ``usage`` or ``channel:<name>``)."""
    answers = rec.get("consents") or {}
    if scope.startswith("channel:"):
        return bool((answers.get("channels") or {}).get(scope.split(":", 1)[1], False))
    return bool(answers.get(scope, False))
