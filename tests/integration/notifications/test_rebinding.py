"""SSRF by DNS rebinding: a webhook goes to the address its host was checked at, never to what
the name resolves to a moment later. The test's own resolver stands in for DNS (no real DNS):
it answers an admitted address at the first lookup and loopback at every later one, as a
rebinding name does. https keeps the name for SNI and certificate verification."""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from services.notifications import outbound
from services.notifications.domain.url_safety import AllowList
from services.notifications.handlers import Destinations
from services.notifications.outbound import Sender

NAME = "hooks.county.test"
CHECKED = "127.0.0.2"  # the operator admits this one address (WEBHOOK_ALLOWED_HOSTS)
INSIDE = "127.0.0.1"  # what the name rebinds to: a service inside that must not be reached


class Endpoint:
    """An HTTP(S) server on ``address``: keeps the Host header of every request it gets."""

    def __init__(self, address: str, port: int = 0, tls: ssl.SSLContext | None = None):
        self.hosts: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                endpoint.hosts.append(self.headers["Host"])
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((address, port), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rebinding_dns(monkeypatch):
    """The name answers CHECKED at its first lookup and INSIDE at every later one; every lookup
    of it, by our resolver or by any HTTP client underneath, is counted."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != NAME:
            return real(host, port, *args, **kwargs)
        address = CHECKED if not lookups else INSIDE
        lookups.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                 (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def deliver(url: str, sender: Sender) -> tuple[str | None, object]:
    """Check the URL as an attempt does, then send to what was checked."""
    destinations = Destinations(outbound.resolve, AllowList.parse([f"{CHECKED}/32"]))
    problem, addresses = destinations.check(url)
    if problem:
        return problem, None
    return None, sender(url, {"content-type": "application/json"}, b"{}", addresses)


def test_a_name_that_rebinds_to_loopback_after_the_check_is_still_sent_to_the_checked_address(
        rebinding_dns):
    checked = Endpoint(CHECKED)
    inside = Endpoint(INSIDE, checked.port)
    try:
        url = f"http://{NAME}:{checked.port}/hooks"
        problem, answer = deliver(url, Sender(5))
        assert problem is None and answer.status == 204
        assert rebinding_dns == [CHECKED]  # looked up once: at the check
        assert checked.hosts == [f"{NAME}:{checked.port}"]
        assert inside.hosts == []
    finally:
        checked.close()
        inside.close()


def test_a_name_answering_loopback_at_the_check_is_refused_and_nothing_is_sent(monkeypatch):
    lookups: list[str] = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: lookups.append(host)
                        or [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (INSIDE, 0))])
    inside = Endpoint(INSIDE)
    try:
        problem, answer = deliver(f"http://{NAME}:{inside.port}/hooks", Sender(5))
        assert problem is not None and "127.0.0.1" in problem and answer is None
        assert inside.hosts == []
    finally:
        inside.close()


@pytest.fixture
def authority():
    return trustme.CA()


def tls_endpoint(authority: trustme.CA, certified_name: str) -> Endpoint:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(certified_name).configure_cert(context)
    return Endpoint(CHECKED, tls=context)


def test_https_to_the_checked_address_names_the_host_for_sni_and_the_certificate(
        rebinding_dns, authority, tmp_path):
    endpoint = tls_endpoint(authority, NAME)
    ca = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca))
    try:
        problem, answer = deliver(f"https://{NAME}:{endpoint.port}/hooks",
                                  Sender(5, ca_certs=str(ca)))
        assert problem is None and answer.status == 204, answer
        assert endpoint.hosts == [f"{NAME}:{endpoint.port}"]
    finally:
        endpoint.close()


def test_https_to_an_endpoint_whose_certificate_names_another_host_gets_no_answer(
        rebinding_dns, authority, tmp_path):
    endpoint = tls_endpoint(authority, "other.county.test")
    ca = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca))
    try:
        problem, answer = deliver(f"https://{NAME}:{endpoint.port}/hooks",
                                  Sender(5, ca_certs=str(ca)))
        assert problem is None
        assert answer.status is None and answer.outcome == "no_answer"
        assert "certificate" in answer.error.lower() or "hostname" in answer.error.lower()
        assert endpoint.hosts == []
    finally:
        endpoint.close()
