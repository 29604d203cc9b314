"""The doors to the outside world: DNS resolution and the webhook's HTTP POST."""

from __future__ import annotations

import socket
import time

import requests

from services.notifications.domain.model import Answer


def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to; [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({info[4][0] for info in infos})


class Sender:
    """POSTs a webhook and reports what came back. Redirects are not followed: a 3xx is a
    failure, so a receiver cannot bounce our signed requests to an address we would refuse."""

    def __init__(self, timeout_seconds: float):
        self.timeout = timeout_seconds
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy from the environment between us and the county

    def __call__(self, url: str, headers: dict[str, str], body: bytes) -> Answer:
        started = time.perf_counter()
        try:
            response = self.session.post(url, data=body, headers=headers, timeout=self.timeout,
                                         allow_redirects=False)
        except requests.Timeout:
            return Answer(None, _ms(started), f"no answer within {self.timeout:g} s")
        except requests.RequestException as exc:
            return Answer(None, _ms(started), f"{type(exc).__name__}: {exc}"[:500])
        response.close()
        code = response.status_code
        error = None if 200 <= code < 300 else f"HTTP {code} {response.reason or ''}".strip()
        return Answer(code, _ms(started), error)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
