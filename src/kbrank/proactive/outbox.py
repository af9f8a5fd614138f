"""`Outbox`: the durable, idempotent queue between planning and the senders (the transactional-outbox pattern).

A plan goes in with `Outbox.enqueue`, in one SQLite transaction: the thread's update, the audience snapshot
and the messages. Each message has a UNIQUE idempotency key (customer x issue x update number), so enqueuing
the same plan twice, or a re-run of the selection, never makes a second message. When a later update of the
issue is enqueued, older messages that have not gone out yet are *superseded* (skipped): nobody gets a stale
"workaround" notice after the "fixed" one.

Dispatchers `lease` due messages (a lease is a deadline: a dispatcher that dies simply lets it expire, and the
next one takes the message again), then `complete` them: sent, failed (retried at a later time), dead (given
up on) or skipped (not sent on purpose). Every attempt is recorded with its outcome. Completion is fenced by
the lease: a dispatcher whose lease expired and was taken over cannot overwrite the newer attempt.

Stewardship: `erase` (registered with the privacy gate by `attach`) removes a customer's messages, attempts,
audience rows and unsubscribes; `unsubscribe` stops messages per customer and issue, or for every issue.
The outbox holds pseudonyms, never raw ids or addresses.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import replace
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from .._params import check_int
from ..errors import AudienceGuardError, OutboxError, ParameterError
from ._outbox_db import OutboxDatabase, from_micros, has_outbox, to_micros
from .records import (
    STATES,
    Attempt,
    Completion,
    EnqueueReport,
    Lease,
    NotificationPlan,
    PlannedMessage,
    PlannedUpdate,
    Recipient,
    StoredMessage,
    Thread,
)

__all__ = ["Outbox", "EVERY_ISSUE"]

log = logging.getLogger("kbrank.proactive")
#: The issue name of an unsubscribe from every issue.
EVERY_ISSUE = "*"
ERASURE_HOOK = "kbrank.proactive.outbox"
_BATCH = 500
_MESSAGE_COLUMNS = ("key, issue, update_no, pseudonym, channel, locale, kind, state, attempts, next_us, created_us, "
                    "done_us, error")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _chunks(items: Sequence[Any], size: int = _BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Outbox:
    """The outbox in the SQLite file at ``path`` (its own file, or a kbrank profile store's).

    ``create=False`` refuses a file without an outbox; ``now`` is the clock (inject one in tests). Close it
    with `close` or use it as a context manager.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True,
                 now: Callable[[], dt.datetime] | None = None, timeout: float = 10.0) -> None:
        if now is not None and not callable(now):
            raise ParameterError("now", "a callable returning a timezone-aware datetime", now)
        self.path = str(path)
        self._now = now or _utc_now
        self._db = OutboxDatabase(path, create=create, timeout=timeout)

    def __repr__(self) -> str:
        return f"Outbox({self.path!r})"

    @staticmethod
    def exists(path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` is a SQLite file holding an outbox (read without changing anything)."""
        return has_outbox(path)

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._db.close()

    def now(self) -> dt.datetime:
        moment = self._now()
        if not isinstance(moment, dt.datetime) or moment.tzinfo is None:
            raise ParameterError("now()", "a timezone-aware datetime", moment)
        return moment.astimezone(dt.timezone.utc)

    # -- planning --------------------------------------------------------------------------------------------
    def enqueue(self, plan: NotificationPlan, *, confirm: bool = False) -> EnqueueReport:
        """Store ``plan`` in one transaction: its update, audience snapshot and messages (each at most once).

        The plan must be for the thread's next update, or for its last one again (re-planning adds only what is
        new). A plan made against an older state of the thread raises `OutboxError`: plan again. A plan above
        its audience guard's limit (``plan.requires_confirmation``) raises `AudienceGuardError` unless
        ``confirm=True``.
        """
        if not isinstance(plan, NotificationPlan):
            raise ParameterError("plan", "a NotificationPlan (from kbrank.proactive.plan or plan_update)", plan)
        if plan.requires_confirmation and confirm is not True:
            raise AudienceGuardError("confirm", f"True to send {len(plan)} messages (more than the audience "
                                     f"guard's confirm_above={plan.confirm_above})", confirm,
                                     hint="Check the plan (kbrank notify plan ISSUE --dry-run), then confirm.")
        u = plan.update
        now = to_micros(self.now())
        with self._db.write() as cur:
            self._check_update(cur, u)
            cur.execute("INSERT INTO outbox_threads (issue, title) VALUES (?, ?) ON CONFLICT (issue) DO UPDATE "
                        "SET title = excluded.title", (u.issue, u.title))
            cur.execute("INSERT OR IGNORE INTO outbox_updates (issue, number, status, eta, quiet, closes, planned_us)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)", (u.issue, u.number, u.status, u.eta, int(u.quiet),
                                                         int(u.closes), now))
            cur.executemany(
                "INSERT INTO outbox_audience (issue, pseudonym, joined_update, clause, contact, decision, channel, "
                "locale, segment, product, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (issue, "
                "pseudonym) DO UPDATE SET clause = excluded.clause, contact = excluded.contact, decision = "
                "excluded.decision, channel = excluded.channel, locale = excluded.locale, segment = "
                "excluded.segment, product = excluded.product, version = excluded.version",
                [(u.issue, r.customer, u.number, r.clause, int(r.contact), r.decision, r.channel, r.locale,
                  r.segment, r.product, r.version) for r in plan.recipients])
            superseded = 0
            if plan.messages or u.closes:
                superseded = cur.execute(
                    "UPDATE outbox_messages SET state = 'skipped', done_us = ?, error = ? WHERE issue = ? AND "
                    "update_no < ? AND state IN ('pending', 'failed')",
                    (now, f"superseded by update {u.number} ({u.status})", u.issue, u.number)).rowcount
            before = cur.execute("SELECT total_changes()").fetchone()[0]
            cur.executemany(
                "INSERT OR IGNORE INTO outbox_messages (key, issue, update_no, pseudonym, channel, locale, kind, "
                "subject, body, html, state, next_us, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', "
                "?, ?)", [(m.key, m.issue, m.update, m.customer, m.channel, m.locale, m.kind, m.subject, m.body,
                           int(m.html), now, now) for m in plan.messages])
            added = cur.execute("SELECT total_changes()").fetchone()[0] - before
            if u.closes:
                cur.execute("UPDATE outbox_threads SET closed = 1 WHERE issue = ?", (u.issue,))
        log.info("enqueued update %d of %s (%s): %d messages new, %d already there, %d superseded", u.number,
                 u.issue, u.status, added, len(plan.messages) - added, superseded)
        return EnqueueReport(u.issue, u.number, added, len(plan.messages) - added, superseded,
                             len(plan.recipients), u.closes)

    @staticmethod
    def _check_update(cur: Any, u: PlannedUpdate) -> None:
        rows = cur.execute("SELECT number, status, eta FROM outbox_updates WHERE issue = ? ORDER BY number",
                           (u.issue,)).fetchall()
        closed = cur.execute("SELECT closed FROM outbox_threads WHERE issue = ?", (u.issue,)).fetchone()
        last = rows[-1][0] if rows else 0
        fix = "plan again from the outbox's current thread (kbrank.proactive.plan_update)"
        if u.number <= last:
            number, status, eta = rows[-1]
            if u.number != number or (status, eta) != (u.status, u.eta):
                raise OutboxError(f"the plan is for update {u.number} ({u.status}, ETA {u.eta}) of {u.issue!r}, but "
                                  f"the thread is at update {last} ({status}, ETA {eta})", fix=fix)
            return
        if u.number != last + 1:
            raise OutboxError(f"the plan is for update {u.number} of {u.issue!r}, but the thread is at update "
                              f"{last}", fix=fix)
        if closed is not None and closed[0] and not u.quiet:
            raise OutboxError(f"the thread of {u.issue!r} is closed (it was fixed); nobody is told more about it",
                              fix="record later changes as quiet updates, or open a new known issue")

    def thread(self, issue: str) -> Thread | None:
        """The issue's thread, or ``None`` if nothing was planned for it."""
        with self._db.read() as cur:
            head = cur.execute("SELECT title, closed FROM outbox_threads WHERE issue = ?", (issue,)).fetchone()
            rows = cur.execute("SELECT number, status, eta, quiet, closes FROM outbox_updates WHERE issue = ? "
                               "ORDER BY number", (issue,)).fetchall()
        if head is None:
            return None
        updates = tuple(PlannedUpdate(issue, n, status, head[0], eta, bool(quiet), bool(closes))
                        for n, status, eta, quiet, closes in rows)
        return Thread(issue, head[0], bool(head[1]), updates)

    def recipients(self, issue: str) -> tuple[Recipient, ...]:
        """The audience snapshot of ``issue`` (everyone found affected by any of its updates), by pseudonym."""
        with self._db.read() as cur:
            rows = cur.execute("SELECT pseudonym, clause, contact, decision, channel, locale, segment, product, "
                               "version FROM outbox_audience WHERE issue = ? ORDER BY pseudonym", (issue,)).fetchall()
        return tuple(Recipient(p, clause, bool(contact), decision, channel, locale, segment, product, version)
                     for p, clause, contact, decision, channel, locale, segment, product, version in rows)

    def told(self, issue: str) -> frozenset[str]:
        """The customers (pseudonyms) who have been sent at least one message about ``issue``."""
        with self._db.read() as cur:
            return frozenset(row[0] for row in cur.execute(
                "SELECT DISTINCT pseudonym FROM outbox_messages WHERE issue = ? AND state = 'sent'", (issue,)))

    # -- dispatch --------------------------------------------------------------------------------------------
    def lease(self, worker: str, *, limit: int = 100,
              lease_for: dt.timedelta = dt.timedelta(seconds=60)) -> list[Lease]:
        """Lease up to ``limit`` due messages (pending, failed and due, or leased with an expired lease) to
        ``worker`` for ``lease_for``, oldest due first. Each lease starts a recorded attempt."""
        if not isinstance(worker, str) or not worker:
            raise ParameterError("worker", "a non-empty name of the dispatcher", worker)
        check_int("limit", limit, 1)
        if not isinstance(lease_for, dt.timedelta) or lease_for <= dt.timedelta(0):
            raise ParameterError("lease_for", "a positive datetime.timedelta", lease_for)
        moment = self.now()
        now, until = to_micros(moment), to_micros(moment + lease_for)
        with self._db.write() as cur:
            rows = cur.execute(
                "SELECT id, state FROM outbox_messages WHERE state IN ('pending', 'failed', 'leased') AND next_us <= ?"
                " ORDER BY next_us, id LIMIT ?", (now, limit)).fetchall()
            if not rows:
                return []
            ids = [row[0] for row in rows]
            expired = [row[0] for row in rows if row[1] == "leased"]
            if expired:
                cur.execute(f"UPDATE outbox_attempts SET outcome = 'lease-expired', ended_us = ? WHERE outcome = "
                            f"'started' AND message_id IN ({_marks(len(expired))})", (now, *expired))
            cur.execute(f"UPDATE outbox_messages SET state = 'leased', lease_owner = ?, attempts = attempts + 1, "
                        f"next_us = ?, first_us = coalesce(first_us, ?) WHERE id IN ({_marks(len(ids))})",
                        (worker, until, now, *ids))
            leased = cur.execute(
                f"SELECT id, key, issue, update_no, pseudonym, channel, locale, kind, subject, body, html, attempts, "
                f"first_us FROM outbox_messages WHERE id IN ({_marks(len(ids))}) ORDER BY next_us, id", ids).fetchall()
            cur.executemany("INSERT INTO outbox_attempts (message_id, number, worker, started_us, outcome) "
                            "VALUES (?, ?, ?, ?, 'started')", [(row[0], row[11], worker, now) for row in leased])
        until_at = from_micros(until)
        return [Lease(row_id, PlannedMessage(key, issue, update, who, channel, locale, kind, subject, body, bool(html)),
                      attempt, worker, from_micros(first), until_at)
                for row_id, key, issue, update, who, channel, locale, kind, subject, body, html, attempt, first in leased]

    def renew(self, leases: Iterable[Lease], *, lease_for: dt.timedelta) -> list[Lease]:
        """Extend leases still held; returns the renewed ones (a lease taken over by another worker is not)."""
        moment = self.now()
        until = to_micros(moment + lease_for)
        renewed = []
        with self._db.write() as cur:
            for lease in leases:
                if cur.execute("UPDATE outbox_messages SET next_us = ? WHERE id = ? AND state = 'leased' AND "
                               "lease_owner = ? AND attempts = ?", (until, lease.id, lease.worker,
                                                                    lease.attempt)).rowcount:
                    renewed.append(lease)
        until_at = from_micros(until)
        return [replace(lease, until=until_at) for lease in renewed]

    def complete(self, completions: Iterable[Completion]) -> int:
        """Record how leased messages ended, in one transaction; returns how many were still held (the others'
        leases expired and were taken over, so their newer attempt decides)."""
        now = to_micros(self.now())
        applied = 0
        with self._db.write() as cur:
            for c in completions:
                lease = c.lease
                next_us = to_micros(c.retry_at) if c.retry_at is not None else now
                done = None if c.state == "failed" else now
                changed = cur.execute(
                    "UPDATE outbox_messages SET state = ?, next_us = ?, done_us = ?, lease_owner = NULL, error = ? "
                    "WHERE id = ? AND state = 'leased' AND lease_owner = ? AND attempts = ?",
                    (c.state, next_us, done, c.error, lease.id, lease.worker, lease.attempt)).rowcount
                cur.execute("UPDATE outbox_attempts SET outcome = ?, ended_us = ?, error = ? WHERE message_id = ? "
                            "AND number = ? AND worker = ? AND outcome = 'started'",
                            (c.outcome or c.state, now, c.error, lease.id, lease.attempt, lease.worker))
                applied += changed
                if not changed:
                    log.warning("lease on %s was lost before completion (%s); the newer attempt decides",
                                lease.message.key, c.state)
        return applied

    def next_due(self, *, leased_only: bool = False) -> dt.datetime | None:
        """When the next pending, failed or leased message is due (``None`` when none is waiting); with
        ``leased_only``, when the first outstanding lease expires (``None`` when no message is leased)."""
        states = "('leased')" if leased_only else "('pending', 'failed', 'leased')"
        with self._db.read() as cur:
            row = cur.execute(f"SELECT min(next_us) FROM outbox_messages WHERE state IN {states}").fetchone()
        due: int | None = row[0]
        return from_micros(due)

    # -- reports ---------------------------------------------------------------------------------------------
    def counts(self, issue: str | None = None) -> Mapping[str, int]:
        """How many messages are in each state (every state listed), for one issue or all."""
        sql = "SELECT state, count(*) FROM outbox_messages"
        args: tuple[str, ...] = ()
        if issue is not None:
            sql, args = sql + " WHERE issue = ?", (issue,)
        with self._db.read() as cur:
            found = dict(cur.execute(sql + " GROUP BY state", args).fetchall())
        return {state: found.get(state, 0) for state in STATES}

    def messages(self, issue: str | None = None, *, states: Iterable[str] | None = None) -> list[StoredMessage]:
        """The stored messages (without content), in the order they were enqueued."""
        wanted = tuple(states) if states is not None else STATES
        unknown = [s for s in wanted if s not in STATES]
        if unknown:
            raise ParameterError("states", f"states among {', '.join(STATES)}", unknown)
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM outbox_messages WHERE state IN ({_marks(len(wanted))})"
        args: tuple[Any, ...] = wanted
        if issue is not None:
            sql, args = sql + " AND issue = ?", (*args, issue)
        with self._db.read() as cur:
            rows = cur.execute(sql + " ORDER BY id", args).fetchall()
        return [StoredMessage(key, i, u, who, ch, loc, kind, state, n, from_micros(nxt), from_micros(created),
                              from_micros(done), err)
                for key, i, u, who, ch, loc, kind, state, n, nxt, created, done, err in rows]

    def attempts(self, key: str) -> tuple[Attempt, ...]:
        """Every attempt to deliver the message with idempotency key ``key``, in order."""
        with self._db.read() as cur:
            rows = cur.execute("SELECT a.number, a.worker, a.started_us, a.ended_us, a.outcome, a.error FROM "
                               "outbox_attempts a JOIN outbox_messages m ON m.id = a.message_id WHERE m.key = ? "
                               "ORDER BY a.id", (key,)).fetchall()
        return tuple(Attempt(n, worker, from_micros(start), from_micros(end), outcome, error)
                     for n, worker, start, end, outcome, error in rows)

    # -- stewardship -----------------------------------------------------------------------------------------
    def unsubscribe(self, customer: str, issue: str | None = None) -> int:
        """Stop messages to ``customer`` (a pseudonym) about ``issue``, or about every issue (``None``).

        Their waiting messages are skipped at once, and later plans leave them out. Returns how many waiting
        messages were skipped. Idempotent.
        """
        if not isinstance(customer, str) or not customer:
            raise ParameterError("customer", "a pseudonym (ProfileGateway.pseudonymize(customer_id))", customer)
        scope = EVERY_ISSUE if issue is None else issue
        now = to_micros(self.now())
        sql = ("UPDATE outbox_messages SET state = 'skipped', done_us = ?, error = 'unsubscribed' WHERE "
               "pseudonym = ? AND state IN ('pending', 'failed')")
        args: tuple[Any, ...] = (now, customer)
        if issue is not None:
            sql, args = sql + " AND issue = ?", (*args, issue)
        with self._db.write() as cur:
            cur.execute("INSERT OR IGNORE INTO outbox_unsubscribes (pseudonym, issue, at_us) VALUES (?, ?, ?)",
                        (customer, scope, now))
            return cur.execute(sql, args).rowcount

    def unsubscribed(self, customers: Iterable[str], issue: str) -> frozenset[str]:
        """Which of ``customers`` (pseudonyms) unsubscribed from ``issue`` or from every issue."""
        wanted = list(dict.fromkeys(customers))
        found: set[str] = set()
        with self._db.read() as cur:
            for chunk in _chunks(wanted):
                found.update(row[0] for row in cur.execute(
                    f"SELECT pseudonym FROM outbox_unsubscribes WHERE issue IN (?, ?) AND pseudonym IN "
                    f"({_marks(len(chunk))})", (issue, EVERY_ISSUE, *chunk)))
        return frozenset(found)

    def erase(self, customer: str) -> int:
        """Remove everything held about ``customer`` (a pseudonym): messages in every state with their
        attempts, audience rows and unsubscribes. Returns how many rows went. Idempotent (an erasure hook)."""
        with self._db.write() as cur:
            removed = cur.execute("DELETE FROM outbox_attempts WHERE message_id IN (SELECT id FROM "
                                  "outbox_messages WHERE pseudonym = ?)", (customer,)).rowcount
            for table in ("outbox_messages", "outbox_audience", "outbox_unsubscribes"):
                removed += cur.execute(f"DELETE FROM {table} WHERE pseudonym = ?", (customer,)).rowcount
        self._db.checkpoint()
        return removed

    def attach(self, gateway: Any) -> None:
        """Register `erase` as the privacy gate's erasure hook ``kbrank.proactive.outbox``."""
        gateway.register_erasure_hook(ERASURE_HOOK, self.erase)
