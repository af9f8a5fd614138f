"""Proactive service: from a known issue to the customers it will hit, told once on their preferred channel
and kept updated until the fix (flow B of the design).

``KnownIssue`` (applicability, usage condition, impact, status lifecycle) -> ``select_affected`` (one audited
columnar scan through the privacy gate, vectorised with numpy; `kbrank.proactive.spark` for bases that outgrow
one machine) -> ``Audience`` (who, why, the impact decision, the consented channel) ->

    plan / plan_update  -> NotificationPlan (audience snapshot + rendered messages, one per customer)
    Outbox.enqueue      -> durable SQLite outbox, one message per idempotency key (customer x issue x update)
    Dispatcher.run      -> leases, re-checks consent through the privacy gate, delivers through a Sender,
                           retries with backoff into a dead-letter state, records every attempt

Importing this package loads no heavy dependency: Jinja2, tenacity and standardwebhooks load when used
(``pip install 'kbrank[proactive]'``).
"""

from .audience import PURPOSE, AffectedCustomer, Audience, AudienceGuard, select_affected, select_from_columns
from .dispatch import Dispatcher, DispatchReport, RetryPolicy
from .impact import DEFAULT_POLICY, USAGE_OUTCOMES, ImpactDecision, ImpactPolicy, ImpactRule
from .issue_records import known_issue_from_record, known_issues_from_records, read_known_issues
from .issues import IMPACTS, ISSUE_STATUSES, TRANSITIONS, KnownIssue, StatusChange, UsageCondition
from .outbox import EVERY_ISSUE, Outbox
from .planning import CLOSING_STATUSES, describe_scope, plan, plan_update, recipients_of
from .records import (
    MESSAGE_CHANNELS,
    STATES,
    Attempt,
    Completion,
    Delivery,
    EnqueueReport,
    Lease,
    NotificationPlan,
    PlannedMessage,
    PlannedUpdate,
    Receipt,
    Recipient,
    StoredMessage,
    Thread,
    message_key,
)
from .senders import JsonlSender, Sender, WebhookSender
from .templates import DEFAULT_LOCALE, Rendered, Templates

__all__ = [
    "CLOSING_STATUSES",
    "DEFAULT_LOCALE",
    "DEFAULT_POLICY",
    "EVERY_ISSUE",
    "IMPACTS",
    "ISSUE_STATUSES",
    "MESSAGE_CHANNELS",
    "PURPOSE",
    "STATES",
    "TRANSITIONS",
    "USAGE_OUTCOMES",
    "AffectedCustomer",
    "Attempt",
    "Audience",
    "AudienceGuard",
    "Completion",
    "Delivery",
    "DispatchReport",
    "Dispatcher",
    "EnqueueReport",
    "ImpactDecision",
    "ImpactPolicy",
    "ImpactRule",
    "JsonlSender",
    "KnownIssue",
    "Lease",
    "NotificationPlan",
    "Outbox",
    "PlannedMessage",
    "PlannedUpdate",
    "Receipt",
    "Rendered",
    "Recipient",
    "RetryPolicy",
    "Sender",
    "StatusChange",
    "StoredMessage",
    "Templates",
    "Thread",
    "UsageCondition",
    "WebhookSender",
    "known_issue_from_record",
    "known_issues_from_records",
    "describe_scope",
    "message_key",
    "plan",
    "plan_update",
    "read_known_issues",
    "recipients_of",
    "select_affected",
    "select_from_columns",
]
