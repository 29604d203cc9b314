"""The doors to the outside world: DNS resolution and the webhook's HTTP POST."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import certifi
import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

from services.notifications.domain.deliveries import Answer


def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to; [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({info[4][0] for info in infos})


class Sender:
    """POSTs a webhook to one of the addresses its host was checked at, and reports what came
    back.

    The connection goes to a checked address itself, never to a name resolved again: a name that
    answered a public address at the check and a loopback or metadata address a moment later
    (DNS rebinding) still reaches only the public one. The request carries the URL's host in its
    Host header, and for https the TLS handshake names it (SNI) and the certificate is verified
    against it, as if the name had been resolved. Redirects are not followed: a 3xx is a failure,
    so a receiver cannot bounce our signed requests to an address we would refuse. No proxy from
    the environment stands between us and the county."""

    def __init__(self, timeout_seconds: float, ca_certs: str | None = None):
        self.timeout = timeout_seconds
        # The certificate authorities requests trusted before: certifi's, unless told otherwise.
        self.pools = urllib3.PoolManager(cert_reqs="CERT_REQUIRED",
                                         ca_certs=ca_certs or certifi.where())

    def __call__(self, url: str, headers: dict[str, str], body: bytes,
                 addresses: Sequence[str]) -> Answer:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        tls = {"server_hostname": host, "assert_hostname": host} if parts.scheme == "https" else {}
        started = time.perf_counter()
        refused: list[str] = []
        for address in addresses:
            pool = self.pools.connection_from_host(address, port, parts.scheme, pool_kwargs=tls)
            try:
                response = pool.urlopen(
                    "POST", path, body=body, headers={**headers, "Host": parts.netloc},
                    redirect=False, retries=False, timeout=urllib3.Timeout(total=self.timeout),
                    preload_content=False)
            except NewConnectionError as exc:
                refused.append(f"{address}: {exc}")
                continue  # the host's next checked address, if it has one
            except TimeoutError:
                return Answer(None, _ms(started), f"no answer within {self.timeout:g} s")
            except HTTPError as exc:
                return Answer(None, _ms(started), f"{type(exc).__name__}: {exc}"[:500])
            response.drain_conn()
            response.release_conn()
            code = response.status
            error = None if 200 <= code < 300 else f"HTTP {code} {response.reason or ''}".strip()
            return Answer(code, _ms(started), error)
        return Answer(None, _ms(started), f"NewConnectionError: {'; '.join(refused)}"[:500])


def connects(url: str, addresses: Sequence[str], timeout_seconds: float) -> bool:
    """Whether the URL's endpoint takes a TCP connection at one of ``addresses`` (a probe of an
    endpoint that was refusing them)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for address in addresses:
        try:
            socket.create_connection((address, port), timeout=timeout_seconds).close()
        except OSError:
            continue
        return True
    return False


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
