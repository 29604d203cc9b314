"""A sample county system (县区系统) receiving the supervision webhooks.

It checks every request's Standard Webhooks signature with the `standardwebhooks` package,
drops what is stale or repeated (an event id seen before, or an item event whose itemversion is
not newer than the last one kept for that item), prints what it keeps and appends it to a JSON
lines file. It answers 2xx for whatever it has taken in (also for repeats, so they are not sent
again) and 401 for a bad signature.

    python tools/county_receiver.py --port 9100 --secret whsec_...
    # or let it subscribe itself (the service must be allowed to reach --public-url):
    python tools/county_receiver.py --port 9100 --public-url http://10.1.2.3:9100/hooks \\
        --service http://127.0.0.1:8003 --token "$(python -m shared.auth mint --role subscriber \\
        --county 330602)" --county 330602
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Inbox:
    """What has arrived, kept once and in item-version order."""

    def __init__(self, store: Path | None):
        self.store = store
        self.seen: set[str] = set()
        self.versions: dict[str, int] = {}  # item (subject) -> newest itemversion kept
        self.lock = threading.Lock()

    def take(self, event: dict) -> str:
        """"kept", "repeated" or "stale"."""
        with self.lock:
            if event["id"] in self.seen:
                return "repeated"
            self.seen.add(event["id"])
            version = event.get("itemversion")
            if version is not None:
                if version <= self.versions.get(event["subject"], 0):
                    return "stale"
                self.versions[event["subject"]] = version
            if self.store:
                with self.store.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(event, ensure_ascii=False) + "\n")
            return "kept"


def make_handler(secrets: list[str], inbox: Inbox):
    verifiers = [Webhook(s) for s in secrets]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k: v for k, v in self.headers.items()}
            event = _verified(verifiers, body, headers)
            if event is None:
                self._answer(401)
                return
            verdict = inbox.take(event)
            print(f"{verdict:8} {event['type']:26} {event['county']} {event['subject']}"
                  f" v{event.get('itemversion', '-')} {event['id']}", flush=True)
            self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler


def _verified(verifiers: list[Webhook], body: bytes, headers: dict) -> dict | None:
    # Any of our secrets will do: during a rotation we may hold the old and the new one.
    for verifier in verifiers:
        try:
            return verifier.verify(body, headers)
        except WebhookVerificationError:
            continue
    return None


def subscribe(service: str, token: str, url: str, counties: list[str],
              event_types: list[str]) -> str:
    answer = requests.post(f"{service}/v1/subscriptions", timeout=10,
                           headers={"Authorization": f"Bearer {token}"},
                           json={"url": url, "counties": counties, "event_types": event_types})
    answer.raise_for_status()
    subscription = answer.json()
    print(f"subscribed {subscription['id']}; keep its secret: {subscription['secret']}")
    return subscription["secret"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--secret", action="append", default=[],
                        help="a signing secret (whsec_...); give two during a rotation")
    parser.add_argument("--store", type=Path, default=None, help="append kept events here")
    parser.add_argument("--service", help="the notifications service, to subscribe ourselves")
    parser.add_argument("--token", help="bearer token for --service")
    parser.add_argument("--public-url", help="the URL the service should POST to")
    parser.add_argument("--county", action="append", default=[])
    parser.add_argument("--event-type", action="append", default=[])
    args = parser.parse_args(argv)
    secrets = list(args.secret)
    if args.service:
        if not (args.token and args.public_url and args.county):
            parser.error("--service needs --token, --public-url and --county")
        secrets.append(subscribe(args.service, args.token, args.public_url, args.county,
                                 args.event_type or ["*"]))
    if not secrets:
        parser.error("give --secret, or --service to subscribe")
    server = ThreadingHTTPServer((args.host, args.port), make_handler(secrets, Inbox(args.store)))
    print(f"listening on http://{args.host}:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
