"""Proactive service: from a known issue to the customers it will hit, told once on their preferred channel
and kept updated until the fix (flow B in the design).

    plan / plan_update  -> NotificationPlan (audience snapshot + rendered messages, one per customer)
    Outbox.enqueue      -> durable SQLite outbox, one message per idempotency key (customer x issue x update)
    Dispatcher.run      -> leases, re-checks consent through the privacy gate, delivers through a Sender,
                           retries with backoff into a dead-letter state, records every attempt

Importing this package loads no heavy dependency: Jinja2, tenacity and standardwebhooks load when used
(``pip install 'kbrank[proactive]'``).
"""

from .dispatch import DispatchReport, Dispatcher, RetryPolicy
from .outbox import EVERY_ISSUE, Attempt, Completion, EnqueueReport, Lease, Outbox, StoredMessage, Thread
from .records import (
    MESSAGE_CHANNELS,
    STATES,
    Delivery,
    NotificationPlan,
    PlannedMessage,
    PlannedUpdate,
    Receipt,
    Recipient,
    message_key,
)
from .senders import JsonlSender, Sender, WebhookSender

__all__ = [
    "Attempt",
    "Completion",
    "Delivery",
    "DispatchReport",
    "Dispatcher",
    "EVERY_ISSUE",
    "EnqueueReport",
    "JsonlSender",
    "Lease",
    "MESSAGE_CHANNELS",
    "NotificationPlan",
    "Outbox",
    "PlannedMessage",
    "PlannedUpdate",
    "Receipt",
    "Recipient",
    "RetryPolicy",
    "STATES",
    "Sender",
    "StoredMessage",
    "Thread",
    "WebhookSender",
    "message_key",
]
