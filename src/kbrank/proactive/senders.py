"""Senders: where the dispatcher hands messages. Pluggable through the small `Sender` protocol.

* `JsonlSender` (the default, and the one the tests use) appends one JSON line per delivery to a file it owns.
  It dedupes on the idempotency key, also across processes sharing the file (an exclusive ``flock`` around
  check-and-append), so a message redelivered after a crash is dropped: exactly once *in effect*.
* `WebhookSender` POSTs each message as JSON, signed with Standard Webhooks (``webhook-id`` is the
  idempotency key, so the receiver can drop a redelivery). 2xx is delivered; 408, 425, 429, 5xx and network
  errors are retryable; any other answer is permanent.

A sender raises `kbrank.errors.DeliveryError` (``retryable`` or not) when it cannot deliver, and makes its
deliveries durable in `flush`, which the dispatcher calls before it marks a batch sent.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Protocol, runtime_checkable

from .._io import atomic_open
from ..errors import DeliveryError, InputError, MissingDependencyError, ParameterError
from .records import Delivery, Receipt

__all__ = ["Sender", "JsonlSender", "WebhookSender", "DELIVERY_FORMAT"]

log = logging.getLogger("kbrank.proactive")
#: The ``format`` field of every line a `JsonlSender` writes; a file with other lines is not touched.
DELIVERY_FORMAT = "kbrank.delivery/1"
_RETRYABLE_STATUS = {408, 425, 429}


@runtime_checkable
class Sender(Protocol):
    """Delivers messages. ``send`` returns a `Receipt` (``duplicate=True`` when the key was delivered before)
    or raises `DeliveryError`; ``flush`` makes what was sent durable; ``close`` releases resources."""

    def send(self, delivery: Delivery) -> Receipt: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _record(delivery: Delivery, at: dt.datetime) -> dict[str, Any]:
    m = delivery.message
    return {"format": DELIVERY_FORMAT, "key": m.key, "issue": m.issue, "update": m.update, "kind": m.kind,
            "customer": m.customer, "channel": m.channel, "to": delivery.address, "subject": m.subject,
            "body": m.body, "html": m.html, "attempt": delivery.attempt, "at": at.isoformat()}


class JsonlSender:
    """Append deliveries to the JSONL file at ``path`` (created with mode 0600: it holds addresses).

    ``fsync`` (default on) makes `flush` force the lines to disk. An existing file must hold only this
    sender's lines; a last line cut short by a crash is removed on open (it was never acknowledged).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fd: int | None = None
        self._keys: set[str] = set()
        self._offset = 0
        self._line_number = 1
        self._open()

    def __repr__(self) -> str:
        return f"JsonlSender({str(self.path)!r})"

    def __enter__(self) -> "JsonlSender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._keys, self._offset, self._line_number = set(), 0, 1
        with self._locked():
            pass

    def _read_new(self) -> None:
        """Read what was appended since the last read (by this or another process); drop a torn last line."""
        fd = self._require()
        size = os.fstat(fd).st_size
        if size <= self._offset:
            return
        data = os.pread(fd, size - self._offset, self._offset)
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a line without its newline: a write cut short by a crash, never acknowledged
            log.warning("%s: dropping a torn last line of %d bytes", self.path, len(data) - end)
            os.ftruncate(fd, self._offset + end)
            data = data[:end]
        first = self._line_number
        for n, line in enumerate(data.splitlines(), start=first):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict) or record.get("format") != DELIVERY_FORMAT or "key" not in record:
                raise InputError(f"not a line of a kbrank delivery log (format {DELIVERY_FORMAT!r})",
                                 source=str(self.path), line=n,
                                 fix="give the sender a new file; kbrank does not write into files it did not make")
            self._keys.add(record["key"])
        self._line_number = first + data.count(b"\n")
        self._offset += len(data)

    def _require(self) -> int:
        if self._fd is None:
            raise ParameterError("sender", "an open JsonlSender", "closed")
        return self._fd

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the file's exclusive lock, reopening it first if another process replaced it (an erasure)."""
        while True:
            fd = self._require()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(fd).st_ino:
                break
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            self._keys, self._offset, self._line_number = set(), 0, 1
        try:
            self._read_new()
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def send(self, delivery: Delivery) -> Receipt:
        at = _utc_now()
        with self._locked():
            if delivery.key in self._keys:
                return Receipt(delivery.key, duplicate=True, at=at, detail="already in the delivery log")
            line = (json.dumps(_record(delivery, at), ensure_ascii=False) + "\n").encode()
            written = os.write(self._require(), line)
            if written != len(line):  # pragma: no cover - a full disk; the torn line is dropped on next open
                raise DeliveryError(f"{self.path}: short write ({written} of {len(line)} bytes)")
            self._offset += written
            self._line_number += 1
            self._keys.add(delivery.key)
        return Receipt(delivery.key, at=at)

    def flush(self) -> None:
        if self.fsync:
            os.fsync(self._require())

    def delivered(self) -> frozenset[str]:
        """The idempotency keys in the log."""
        with self._locked():
            return frozenset(self._keys)

    def erase(self, customer: str) -> int:
        """Rewrite the log without ``customer``'s lines (an erasure hook); returns how many went."""
        with self._locked():
            fd = self._require()
            lines = os.pread(fd, self._offset, 0).splitlines(keepends=True)
            keep = [line for line in lines if json.loads(line).get("customer") != customer]
            if len(keep) == len(lines):
                return 0
            with atomic_open(self.path, "wb", encoding=None) as handle:
                handle.writelines(keep)
            os.chmod(self.path, 0o600)
        return len(lines) - len(keep)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class WebhookSender:
    """POST each message to ``url`` as JSON, signed with the Standard Webhooks ``secret`` (``whsec_...``).

    The body is ``{"type": "known_issue.notice" | "known_issue.update", "timestamp": ..., "data": {...}}``;
    the headers ``webhook-id`` (the idempotency key), ``webhook-timestamp`` and ``webhook-signature``.
    ``timeout`` is in seconds.
    """

    def __init__(self, url: str, *, secret: str | bytes, timeout: float = 10.0) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ParameterError("url", "an http:// or https:// URL", url)
        self._signer = _signer(secret)

    def __repr__(self) -> str:
        return f"WebhookSender({self.url!r}, secret=<hidden>)"

    def payload(self, delivery: Delivery, at: dt.datetime) -> bytes:
        data = {k: v for k, v in _record(delivery, at).items() if k not in ("format", "at")}
        return json.dumps({"type": f"known_issue.{delivery.message.kind}", "timestamp": at.isoformat(),
                           "data": data}, ensure_ascii=False).encode()

    def send(self, delivery: Delivery) -> Receipt:
        import urllib.error
        import urllib.request

        at = _utc_now()
        body = self.payload(delivery, at)
        signature = self._signer.sign(delivery.key, at, body.decode())
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "content-type": "application/json", "webhook-id": delivery.key,
            "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) only
                response.read()
                return Receipt(delivery.key, at=at, detail=f"HTTP {response.status}")
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response (and its socket)
            retryable = exc.code in _RETRYABLE_STATUS or exc.code >= 500
            raise DeliveryError(f"{self.url} answered HTTP {exc.code} {exc.reason}", retryable=retryable) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"{self.url} unreachable: {reason}", retryable=True) from None

    def flush(self) -> None:
        return None  # a 2xx answer is the receiver's acknowledgment

    def close(self) -> None:
        return None


def _signer(secret: str | bytes) -> Any:
    try:
        from standardwebhooks.webhooks import Webhook
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError("standardwebhooks", "proactive") from None
    try:
        return Webhook(secret)
    except Exception:  # noqa: BLE001 - the library raises several kinds for a bad secret
        raise ParameterError("secret", "a Standard Webhooks secret ('whsec_' + base64, or raw bytes)",
                             "<hidden>") from None
