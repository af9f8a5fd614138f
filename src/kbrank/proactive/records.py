"""The records that flow from planning into the outbox and out to the senders.

A `NotificationPlan` is one update of one known issue's thread: the `PlannedUpdate` (status, ETA, whether it
is quiet or closes the thread), the audience snapshot (`Recipient` rows: who is affected and why, by pseudonym)
and the rendered `PlannedMessage` for each customer to tell. The outbox stores a plan in one transaction;
the dispatcher hands each message to a sender as a `Delivery`, with the address read through the privacy gate
at send time (the outbox never stores an address).

Every message has an idempotency key, `message_key(issue, update, customer)`: the same customer, issue and
update number always give the same key, so planning twice never makes a second message, and a receiver can
drop a redelivery (the key is also the Standard Webhooks message id).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .._params import check_int
from ..errors import ParameterError

__all__ = ["MESSAGE_CHANNELS", "ADDRESSED_CHANNELS", "KINDS", "STATES", "message_key", "Recipient",
           "PlannedMessage", "PlannedUpdate", "NotificationPlan", "Delivery", "Receipt", "Thread", "StoredMessage",
           "Lease", "Attempt", "Completion", "EnqueueReport"]

#: The channels a message can be written for. The first three need an address and a per-channel consent
#: (see `kbrank.privacy.purposes`); in-app and webhook messages go to the customer's account.
MESSAGE_CHANNELS = ("email", "sms", "push", "in_app", "webhook")
ADDRESSED_CHANNELS = ("email", "sms", "push")
#: ``notice``: the first message a customer gets about an issue (it carries the whole context);
#: ``update``: a later message to a customer who was told before.
KINDS = ("notice", "update")
#: The life of a message in the outbox: waiting, held by a dispatcher, delivered, failed and waiting for a
#: retry, given up on (dead letter), or not sent on purpose (consent withdrawn, unsubscribed, superseded by
#: a newer update before it went out).
STATES = ("pending", "leased", "sent", "failed", "dead", "skipped")


def message_key(issue: str, update: int, customer: str) -> str:
    """The idempotency key of the message for ``customer`` (a pseudonym) about update ``update`` of ``issue``.

    A digest, so it is safe in a header or file name and tells a receiver nothing about the customer:

    >>> message_key("KI-7", 1, "3f2a") == message_key("KI-7", 1, "3f2a") != message_key("KI-7", 2, "3f2a")
    True
    """
    digest = hashlib.sha256(json.dumps([issue, int(update), customer]).encode()).hexdigest()
    return f"msg_{digest[:40]}"


def _text(name: str, value: Any, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, str) or not value:
        raise ParameterError(name, "a non-empty string" + (" or None" if optional else ""), value)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One affected customer in an issue's audience snapshot, by pseudonym.

    ``clause`` says why they are affected ("owns cam-c10 4.2.1, within >=4.2,<4.3.2, EU"); ``contact`` is the
    impact policy's decision and ``decision`` its explanation; ``channel`` the preferred consented channel
    at selection time (``"none"``: affected but not to be contacted); ``product`` and ``version`` what they
    run, for the message ("you run 4.2.1").
    """

    customer: str
    clause: str
    contact: bool
    decision: str
    channel: str = "none"
    locale: str | None = None
    segment: str | None = None
    product: str | None = None
    version: str | None = None

    def __post_init__(self) -> None:
        _text("customer", self.customer)
        if not isinstance(self.contact, bool):
            raise ParameterError("contact", "True or False", self.contact)
        if self.channel != "none" and self.channel not in MESSAGE_CHANNELS:
            raise ParameterError("channel", f"one of {', '.join(MESSAGE_CHANNELS)} or 'none'", self.channel)


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    """A rendered message for one customer about one update. ``body`` is HTML for email (``html`` is True)
    and plain text elsewhere; ``subject`` is the email subject or push title."""

    key: str
    issue: str
    update: int
    customer: str
    channel: str
    locale: str
    kind: str
    subject: str
    body: str
    html: bool = False

    def __post_init__(self) -> None:
        if self.channel not in MESSAGE_CHANNELS:
            raise ParameterError("channel", f"one of {', '.join(MESSAGE_CHANNELS)}", self.channel)
        if self.kind not in KINDS:
            raise ParameterError("kind", f"one of {', '.join(KINDS)}", self.kind)
        if self.key != message_key(self.issue, self.update, self.customer):
            raise ParameterError("key", "message_key(issue, update, customer)", self.key)


@dataclass(frozen=True, slots=True)
class PlannedUpdate:
    """One entry of an issue's thread: update ``number`` (1 for the first notice) announces ``status``.

    ``quiet`` updates are recorded without messages; ``closes`` (a ``fixed`` or ``closed`` status) ends the
    thread: nobody is told anything about the issue after it.
    """

    issue: str
    number: int
    status: str
    title: str = ""
    eta: str | None = None
    quiet: bool = False
    closes: bool = False

    def __post_init__(self) -> None:
        _text("issue", self.issue)
        _text("status", self.status)
        _text("eta", self.eta, optional=True)
        check_int("number", self.number, 1)


@dataclass(frozen=True)
class NotificationPlan:
    """What one update of an issue's thread will do: the update, the audience snapshot to store and the
    messages to send. ``held_back`` counts the affected customers who get no message, by reason (no consent
    to contact, the impact policy, unsubscribed, a quiet update, ...). ``confirm_above`` is the audience
    guard's limit: more messages than that need ``Outbox.enqueue(plan, confirm=True)``."""

    update: PlannedUpdate
    recipients: tuple[Recipient, ...] = ()
    messages: tuple[PlannedMessage, ...] = ()
    held_back: Mapping[str, int] = field(default_factory=dict)
    confirm_above: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipients", tuple(self.recipients))
        object.__setattr__(self, "messages", tuple(self.messages))
        object.__setattr__(self, "held_back", MappingProxyType(dict(self.held_back)))
        for message in self.messages:
            if message.issue != self.update.issue or message.update != self.update.number:
                raise ParameterError("messages", f"messages of update {self.update.number} of "
                                     f"{self.update.issue!r}", message.key)
        if self.update.quiet and self.messages:
            raise ParameterError("messages", "empty for a quiet update", len(self.messages))

    def __len__(self) -> int:
        return len(self.messages)

    @property
    def requires_confirmation(self) -> bool:
        """Whether the plan reaches more customers than the audience guard allows without confirmation."""
        return self.confirm_above is not None and len(self.messages) > self.confirm_above

    def summary(self) -> list[dict[str, Any]]:
        """Audience counts by segment, channel and impact decision (one dict per group, largest first)."""
        planned = {m.customer for m in self.messages}
        counts: dict[tuple[str, str, str], int] = {}
        for r in self.recipients:
            told = "message planned" if r.customer in planned else "no message"
            group = (r.segment or "unknown", r.channel, f"{'contact' if r.contact else 'no contact'}: {told}")
            counts[group] = counts.get(group, 0) + 1
        rows = [{"segment": s, "channel": c, "decision": d, "customers": n} for (s, c, d), n in counts.items()]
        return sorted(rows, key=lambda row: (-row["customers"], row["segment"], row["channel"], row["decision"]))


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a sender gets: the ``message``, where it goes and which attempt this is. ``address`` is read
    through the privacy gate at send time (``None`` for in-app and webhook messages, which go to the
    customer's account); the outbox never stores it."""

    message: PlannedMessage
    address: str | None
    attempt: int

    @property
    def key(self) -> str:
        """The message's idempotency key."""
        return self.message.key

    def __repr__(self) -> str:  # never print the address
        m = self.message
        return f"Delivery(key={m.key!r}, issue={m.issue!r}, update={m.update}, channel={m.channel!r})"


@dataclass(frozen=True, slots=True)
class Receipt:
    """A sender's answer: delivered now, or ``duplicate`` (the receiver had this key already)."""

    key: str
    duplicate: bool = False
    at: dt.datetime | None = None
    detail: str = ""


# -- what the outbox holds and hands out ---------------------------------------------------------------------
@dataclass(frozen=True)
class Thread:
    """An issue's thread: its updates in order, and whether a ``fixed``/``closed`` update ended it."""

    issue: str
    title: str
    closed: bool
    updates: tuple[PlannedUpdate, ...]

    @property
    def last(self) -> PlannedUpdate:
        return self.updates[-1]


@dataclass(frozen=True)
class StoredMessage:
    """A message as the outbox holds it (without its content)."""

    key: str
    issue: str
    update: int
    customer: str
    channel: str
    locale: str
    kind: str
    state: str
    attempts: int
    next_at: dt.datetime | None
    created_at: dt.datetime | None
    done_at: dt.datetime | None
    error: str | None


@dataclass(frozen=True)
class Lease:
    """A ``message`` (row ``id``) leased to ``worker`` until ``until``; ``attempt`` counts from 1 and
    ``first_at`` is when the first attempt started."""

    id: int
    message: PlannedMessage
    attempt: int
    worker: str
    first_at: dt.datetime
    until: dt.datetime


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt: ``outcome`` is ``started`` (still running, or its dispatcher died),
    ``lease-expired``, ``sent``, ``duplicate`` (the receiver had the key), ``failed``, ``dead`` or ``skipped``."""

    number: int
    worker: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str
    error: str | None


@dataclass(frozen=True)
class Completion:
    """How a leased message ended: ``state`` is sent, failed (then ``retry_at``), dead or skipped;
    ``outcome`` is what the attempt records (``duplicate`` for a sent message the receiver already had)."""

    lease: Lease
    state: str
    error: str | None = None
    retry_at: dt.datetime | None = None
    outcome: str | None = None

    def __post_init__(self) -> None:
        if self.state not in ("sent", "failed", "dead", "skipped"):
            raise ParameterError("state", "one of sent, failed, dead, skipped", self.state)
        if (self.state == "failed") != (self.retry_at is not None):
            raise ParameterError("retry_at", "a datetime exactly when the state is 'failed'", self.retry_at)


@dataclass(frozen=True)
class EnqueueReport:
    """What `Outbox.enqueue` did: the update number, messages added and already present, older messages
    superseded, audience rows written, and whether the update closed the thread."""

    issue: str
    update: int
    added: int
    existing: int
    superseded: int
    recipients: int
    closed: bool
