"""A real local HTTP receiver for webhook tests: verifies every Standard Webhooks signature with the
`standardwebhooks` library, dedupes on ``webhook-id`` like a well-behaved receiver, and can be told to fail
the next requests (503) to exercise retries. Listens on 127.0.0.1 only."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_" + base64.b64encode(b"kbrank-webhook-test-secret-32byt").decode()


class Receiver:
    """Start with ``with Receiver() as r:``; ``r.url`` to post to; ``r.delivered`` maps id -> payload."""

    def __init__(self, secret: str = SECRET) -> None:
        self.verifier = Webhook(secret)
        self.delivered: dict[str, Any] = {}
        self.requests = 0
        self.rejected = 0
        self.fail_next = 0
        self.status_next: int | None = None
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status = receiver.handle(body, {k: v for k, v in self.headers.items()})
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/kbrank"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            self.requests += 1
            if self.fail_next:
                self.fail_next -= 1
                return 503
            if self.status_next is not None:
                return self.status_next
            try:
                payload = self.verifier.verify(body, headers)
            except WebhookVerificationError:
                self.rejected += 1
                return 401
            message_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
            if message_id != payload["data"]["key"]:
                return 400
            self.delivered.setdefault(message_id, payload)  # a redelivery is acknowledged and dropped
            return 200

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def payload_text(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False)
