"""The notifications service on the real broker and database: the app, its consumer and its
dispatcher in threads, and a county system's webhook receiver on loopback."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.notifications.app import create_app
from services.notifications.consumer import SERVICE, batch_handler_for, handlers_for
from services.notifications.dispatcher import Dispatcher
from shared import mongo
from shared.auth import mint
from shared.consumer import ConsumerRunner
from shared.events import CATALOG, TOPICS, Event, encode, record_key
from shared.kafka import producer
from tests.support import Caller

ROLES = {
    "city": ("city-office", "city_admin", None),
    "yuecheng": ("yc-system", "subscriber", "330602"),
    "yuecheng_admin": ("yc-admin", "county_admin", "330602"),
    "keqiao": ("kq-system", "subscriber", "330603"),
    "inspector": ("wang", "inspector", "330603"),
}


class Receiver:
    """A county system's webhook endpoint on 127.0.0.1: answers from a script of statuses
    (then 204), keeps every request. ``stop()`` takes it off the network; ``start()`` brings it
    back on the same port."""

    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        self.script: list[int] = []
        self._lock = threading.Lock()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/supervision"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()},
                                              body))
                    status = receiver.script.pop(0) if receiver.script else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        with self._lock:
            return [headers["webhook-id"] for headers, _ in self.requests]


PIPELINE = ("consumer", "dispatcher", "publish")


@pytest.fixture
def notify_settings(request, settings):
    """Webhooks to loopback admitted (the receiver runs there); a short retry schedule; topics
    of the test's own when it runs the pipeline."""
    uses_kafka = any(name in request.fixturenames for name in PIPELINE)
    base = request.getfixturevalue("kafka_settings") if uses_kafka else settings
    return dataclasses.replace(base, webhook_allowed_hosts=("127.0.0.1",),
                               webhook_retry_schedule=(0, 1, 1))


@pytest.fixture
def app(notify_settings):
    return create_app(notify_settings)


@pytest.fixture
def as_(app):
    client = app.test_client()
    secret = app.config["SETTINGS"].jwt_secret
    return {name: Caller(client, mint(secret, sub=sub, role=role, county=county))
            for name, (sub, role, county) in ROLES.items()}


@pytest.fixture
def db(app):
    return mongo.database(app.config["SETTINGS"], SERVICE)


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def publish(notify_settings):
    kafka = producer(notify_settings, "notifications-test")

    def send(*events: Event) -> None:
        for event in events:
            kafka.send(notify_settings.topic(CATALOG[event.type].topic),
                       key=record_key(event.raw), value=encode(event.raw))
        kafka.flush()

    yield send
    kafka.close()


@pytest.fixture
def consumer(notify_settings):
    runner = ConsumerRunner(SERVICE, notify_settings, handlers_for(notify_settings),
                            topics=tuple(notify_settings.topic(t) for t in TOPICS),
                            group_id=f"notifications-{uuid.uuid4().hex[:8]}",
                            batch_handler=batch_handler_for(notify_settings))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    yield runner
    runner.stop.set()
    thread.join(20)


class RunningDispatcher:
    """A dispatcher in a thread that a test may stop and start again, as a restart would."""

    def __init__(self, settings):
        self.settings = settings
        self.stop_event: threading.Event | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.stop_event = threading.Event()
        worker = Dispatcher(self.settings, idle_seconds=0.05)
        self.thread = threading.Thread(target=worker.run, args=(self.stop_event,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.stop_event.set()
            self.thread.join(30)
            self.thread = None


@pytest.fixture
def dispatcher(notify_settings):
    running = RunningDispatcher(notify_settings)
    running.start()
    yield running
    running.stop()
