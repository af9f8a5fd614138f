"""`Dispatcher`: from the outbox to the senders, at least once to the sender and exactly once in effect.

One round (`Dispatcher.run_once`) leases a batch of due messages, then for each message:

1. checks that the customer has not unsubscribed from the issue (or from everything);
2. re-reads the customer through the privacy gate for ``proactive-contact`` (`ProfileGateway.read_pseudonyms`),
   so a customer who withdrew consent, or the channel's consent, since planning is not contacted (the message
   is *skipped*), and takes the address from that audited read: the outbox never holds one;
3. hands the message to the channel's sender with its idempotency key.

Then it flushes the senders (the deliveries are durable), audits the contacts (pseudonym, issue, channel) and
records every outcome in one outbox transaction. A crash anywhere leaves the lease to expire: the next round
takes the message again and the sender, which dedupes on the key, answers "duplicate" instead of delivering
twice. (The contact audit is therefore at least once: a crash between audit and completion audits a contact
again.)

Retries are durable. A failed delivery is not retried in a sleeping loop but rescheduled in the outbox: the
wait before the next attempt and the decision to give up are tenacity strategies (by default
``wait_exponential_jitter`` from 2 s up to 10 min, ``stop_after_attempt(8)``), evaluated on the message's
recorded attempts, so the backoff survives a crash and never blocks the dispatcher. Permanent failures
(`DeliveryError` with ``retryable=False``) and exhausted retries go to the dead-letter state.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .._params import check_int
from ..errors import DeliveryError, MissingDependencyError, ParameterError
from .outbox import Outbox
from .records import ADDRESSED_CHANNELS, Completion, Delivery, Lease
from .senders import Sender

__all__ = ["Dispatcher", "DispatchReport", "RetryPolicy"]

log = logging.getLogger("kbrank.proactive")
REQUESTER = "kbrank.proactive.dispatch"


def _tenacity() -> Any:
    try:
        import tenacity
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError("tenacity", "proactive") from None
    return tenacity


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a failed delivery again, and when to give up (dead-letter it), as tenacity strategies.

    ``wait`` is a tenacity wait strategy (seconds before attempt n+1), ``stop`` a tenacity stop strategy
    (``stop_after_attempt``, ``stop_after_delay`` since the first attempt, or a combination with ``|``).
    ``None`` takes the defaults: ``wait_exponential_jitter(multiplier=2, max=600)`` and ``stop_after_attempt(8)``.
    """

    wait: Any = None
    stop: Any = None

    @classmethod
    def up_to(cls, attempts: int) -> "RetryPolicy":
        """The default backoff, giving up after ``attempts`` attempts."""
        check_int("attempts", attempts, 1)
        return cls(stop=_tenacity().stop_after_attempt(attempts))

    def decide(self, attempt: int, first_at: dt.datetime, now: dt.datetime, error: BaseException) -> float | None:
        """Seconds until the next attempt after failed attempt number ``attempt``, or ``None``: give up."""
        tenacity = _tenacity()
        wait = self.wait if self.wait is not None else tenacity.wait_exponential_jitter(multiplier=2, max=600)
        stop = self.stop if self.stop is not None else tenacity.stop_after_attempt(8)
        state = tenacity.RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        state.set_exception((type(error), error, None))
        state.start_time = 0.0
        state.outcome_timestamp = max(0.0, (now - first_at).total_seconds())
        if stop(state):
            return None
        return float(wait(state))


@dataclass
class DispatchReport:
    """What dispatching did: messages sent (``duplicates`` of them were already at the receiver), skipped
    (by reason), rescheduled after a failure, dead-lettered, and leases lost to another dispatcher."""

    sent: int = 0
    duplicates: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    dead: int = 0
    lost: int = 0
    rounds: int = 0

    @property
    def handled(self) -> int:
        return self.sent + sum(self.skipped.values()) + self.failed + self.dead

    def add(self, other: "DispatchReport") -> None:
        self.sent += other.sent
        self.duplicates += other.duplicates
        for reason, n in other.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + n
        self.failed += other.failed
        self.dead += other.dead
        self.lost += other.lost
        self.rounds += other.rounds


class Dispatcher:
    """Deliver the outbox's due messages through ``senders`` (one `Sender` for every channel, or a mapping
    of channel -> sender, ``"*"`` for the rest), re-checking consent through ``gateway``.

    Keyword-only settings: ``retry`` (a `RetryPolicy`), ``batch_size`` (messages per lease), ``lease_for``
    (how long a lease holds; a longer batch renews it), ``worker`` (this dispatcher's name in the attempts;
    default host:pid), ``requester`` (the name audited).
    """

    def __init__(self, *, outbox: Outbox, gateway: Any, senders: Sender | Mapping[str, Sender],
                 retry: RetryPolicy | None = None, batch_size: int = 100,
                 lease_for: dt.timedelta = dt.timedelta(seconds=60), worker: str | None = None,
                 requester: str = REQUESTER) -> None:
        self.outbox = outbox
        self.gateway = gateway
        self.senders = senders
        self.retry = retry
        self.batch_size = batch_size
        self.lease_for = lease_for
        self.worker = worker
        self.requester = requester

    def _check(self) -> tuple[str, RetryPolicy]:
        check_int("batch_size", self.batch_size, 1)
        if self.retry is not None and not isinstance(self.retry, RetryPolicy):
            raise ParameterError("retry", "a RetryPolicy or None", self.retry)
        senders = self.senders.values() if isinstance(self.senders, Mapping) else [self.senders]
        for sender in senders:
            if not isinstance(sender, Sender):
                raise ParameterError("senders", "a Sender (send, flush, close) or a mapping of channel -> Sender",
                                     sender)
        return self.worker or f"{socket.gethostname()}:{os.getpid()}", self.retry or RetryPolicy()

    def _sender(self, channel: str) -> Sender | None:
        if not isinstance(self.senders, Mapping):
            return self.senders
        return self.senders.get(channel) or self.senders.get("*")

    def run(self, *, until_idle: bool = True, max_rounds: int | None = None,
            progress: Callable[[DispatchReport], None] | None = None) -> DispatchReport:
        """Dispatch rounds until no message is due now (``until_idle``), or until ``max_rounds``.

        Messages leased by another dispatcher are not idle: a dispatcher that died (killed, or its machine
        lost) leaves leases that expire, and ``run`` waits them out and delivers those messages too, so a
        restart after a crash finishes the job. Without progress it waits at most as long as the first lease it
        saw had left (plus a second), so a live dispatcher that keeps renewing its leases does not hold it.

        With ``until_idle=False`` it also waits for messages scheduled later (retries) and stops only when the
        outbox holds nothing waiting. ``progress`` is called after each round with the running totals.
        """
        total = DispatchReport()
        lease_deadline: float | None = None  # monotonic time after which outstanding leases are left alone
        while max_rounds is None or total.rounds < max_rounds:
            report = self.run_once()
            total.add(report)
            if progress is not None:
                progress(total)
            if report.rounds:
                lease_deadline = None  # progress: leases seen from here on get their own wait
                continue
            due = self.outbox.next_due(leased_only=until_idle)
            if due is None:
                break
            wait = max((due - self.outbox.now()).total_seconds(), 0.05)
            if until_idle:
                lease_deadline = lease_deadline or time.monotonic() + wait + 1.0
                if time.monotonic() > lease_deadline:
                    log.warning("stopping with messages still leased by another dispatcher (their leases were "
                                "renewed, or the clock did not move); they are delivered when those leases end")
                    break
            time.sleep(min(wait, 5.0))
        return total

    def run_once(self) -> DispatchReport:
        """Lease one batch and deliver it; a report with ``rounds == 0`` means nothing was due."""
        worker, policy = self._check()
        leases = self.outbox.lease(worker, limit=self.batch_size, lease_for=self.lease_for)
        report = DispatchReport()
        if not leases:
            return report
        report.rounds = 1
        started = time.monotonic()
        messages = [lease.message for lease in leases]
        views = self.gateway.read_pseudonyms([m.customer for m in messages], "proactive-contact",
                                             requester=self.requester)
        unsubscribed = {issue: self.outbox.unsubscribed([m.customer for m in messages if m.issue == issue], issue)
                        for issue in {m.issue for m in messages}}
        completions: list[Completion] = []
        contacts: list[tuple[str, str, str]] = []
        pending = list(leases)
        while pending:
            if time.monotonic() - started > self.lease_for.total_seconds() / 2:  # a slow batch keeps its leases
                pending = self.outbox.renew(pending, lease_for=self.lease_for)
                started = time.monotonic()
                continue
            lease = pending.pop(0)
            reason = self._skip_reason(lease, views.get(lease.message.customer), unsubscribed[lease.message.issue])
            if reason is not None:
                completions.append(Completion(lease, "skipped", error=reason))
                report.skipped[reason] = report.skipped.get(reason, 0) + 1
                continue
            completion = self._deliver(lease, views[lease.message.customer], policy)
            completions.append(completion)
            if completion.state == "sent":
                report.sent += 1
                report.duplicates += completion.outcome == "duplicate"
                contacts.append((lease.message.customer, lease.message.issue, lease.message.channel))
            elif completion.state == "failed":
                report.failed += 1
            else:
                report.dead += 1
        self._flush({lease.message.channel for lease in leases})
        if contacts:
            self.gateway.record_contacts(contacts, requester=self.requester)
        report.lost = len(leases) - self.outbox.complete(completions)
        return report

    @staticmethod
    def _skip_reason(lease: Lease, view: Any, unsubscribed: frozenset[str]) -> str | None:
        if lease.message.customer in unsubscribed:
            return "unsubscribed"
        if view is None:
            return "no consent to proactive contact (withdrawn, or the customer was erased)"
        if lease.message.channel in ADDRESSED_CHANNELS:
            if lease.message.channel not in view.channels:
                return f"no consent to channel {lease.message.channel}"
            if lease.message.channel not in view.addresses:
                return f"no {lease.message.channel} address"
        return None

    def _deliver(self, lease: Lease, view: Any, policy: RetryPolicy) -> Completion:
        sender = self._sender(lease.message.channel)
        if sender is None:
            return Completion(lease, "dead", error=f"no sender for channel {lease.message.channel}")
        delivery = Delivery(lease.message, view.addresses.get(lease.message.channel), lease.attempt)
        try:
            receipt = sender.send(delivery)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded; DeliveryError says if it is retryable
            error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, DeliveryError) and not exc.retryable:
                log.warning("dead-lettered %s after a permanent failure: %s", lease.message.key, error)
                return Completion(lease, "dead", error=error)
            now = self.outbox.now()
            wait = policy.decide(lease.attempt, lease.first_at, now, exc)
            if wait is None:
                log.warning("dead-lettered %s after %d attempts: %s", lease.message.key, lease.attempt, error)
                return Completion(lease, "dead", error=f"gave up after {lease.attempt} attempts; last: {error}")
            return Completion(lease, "failed", error=error, retry_at=now + dt.timedelta(seconds=wait))
        return Completion(lease, "sent", outcome="duplicate" if receipt.duplicate else "sent")

    def _flush(self, channels: set[str]) -> None:
        flushed: set[int] = set()
        for channel in sorted(channels):
            sender = self._sender(channel)
            if sender is not None and id(sender) not in flushed:
                sender.flush()
                flushed.add(id(sender))
