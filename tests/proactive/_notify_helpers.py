"""Shared test data for the outbox, dispatch and notify tests: customers in the help centre's record schema,
a hand-moved clock, and plans built by hand (so outbox tests do not depend on template rendering)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Iterable

from _shared_helpers import Clock as HandClock

from kbrank.privacy import ProfileGateway
from kbrank.proactive import NotificationPlan, PlannedMessage, PlannedUpdate, Recipient, message_key

KEY = "proactive-test-key-0123456789abcdef"
NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone.utc)


class Clock(HandClock):
    """The hand-moved clock, starting at this package's ``NOW``."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        super().__init__(now)


def customer(n: int, *, channel: str = "email", contact: bool = True, channels: Iterable[str] = ("email", "sms"),
             locale: str = "en-GB", segment: str = "consumer", product: str = "cam-c10",
             version: str = "4.2.1", region: str = "eu") -> dict[str, Any]:
    """A customer record (help centre schema) with distinctive addresses a test can search for."""
    cid = f"cust-{n:05d}"
    return {
        "customer_id": cid, "region": region, "locale": locale, "segment": segment,
        "owned": [{"product": product, "line": "camera", "version": version, "platform": "ios",
                   "registered_at": "2025-03-01", "status": "active"}],
        "usage": [], "preferred_channel": channel,
        "addresses": {"email": f"{cid}@mail.example", "sms": f"+4477009{n:05d}", "push": f"device-{cid}"},
        "consents": {"personalization": True, "proactive-contact": contact,
                     "channels": {c: c in channels for c in ("email", "sms", "push")}},
    }


def open_gateway(path: Path, records: list[dict[str, Any]], clock: Clock | None = None) -> ProfileGateway:
    """A SQLite-backed gateway holding ``records``."""
    gateway = ProfileGateway.open(path, key=KEY, now=clock or Clock())
    gateway.load_records(records, source="test customers")
    return gateway


def hand_plan(gateway: ProfileGateway, ids: list[str], *, issue: str = "KI-1", update: int = 1,
              status: str = "workaround", channel: str = "email", quiet: bool = False, closes: bool = False,
              body: str = "Body for {who}") -> NotificationPlan:
    """A plan built by hand: one message per customer id, on ``channel``."""
    recipients, messages = [], []
    for cid in ids:
        who = gateway.pseudonymize(cid)
        recipients.append(Recipient(who, "owns cam-c10 4.2.1, within >=4.2,<4.3", True, "broken: contact",
                                    channel, "en-GB", "consumer", "cam-c10", "4.2.1"))
        if not quiet:
            messages.append(PlannedMessage(message_key(issue, update, who), issue, update, who, channel, "en",
                                           "notice" if update == 1 else "update", f"{issue}: camera problem",
                                           body.format(who=who[:8]), html=channel == "email"))
    return NotificationPlan(PlannedUpdate(issue, update, status, "Camera reboots", None, quiet, closes),
                            recipients, messages)
