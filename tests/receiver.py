"""A county system's webhook endpoint on loopback, for tests: it verifies every delivery with
the independent ``standardwebhooks`` package and keeps what arrived."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    def __init__(self, answers: list[int] | None = None):
        """``answers`` are the HTTP statuses to give, in turn, before answering 204 for good."""
        self.secret: str | None = None
        self.events: list[dict] = []
        self.rejected: list[str] = []
        self.attempts = 0
        self._answers = list(answers or [])
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def of_type(self, event_type: str) -> list[dict]:
        with self._lock:
            return [e for e in self.events if e["type"] == event_type]

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.attempts += 1
                    status = receiver._answers.pop(0) if receiver._answers else 204
                    if status < 300:
                        try:
                            Webhook(receiver.secret).verify(body, dict(self.headers))
                            receiver.events.append(json.loads(body))
                        except WebhookVerificationError as exc:
                            receiver.rejected.append(str(exc))
                            status = 400
                self.send_response(status)
                self.end_headers()

        return Handler
