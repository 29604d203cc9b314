"""A small client of the public HTTP API (docs/api.md), shared by the loader and the story.

It speaks only HTTP: it never imports the services. Tokens are minted locally with the
deployment's secret, as the command-line tool of docs/api.md does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from shared.auth import mint
from shared.config import Settings

TIMEOUT = 90.0  # seconds for one request; a busy small machine can be slow to answer


class DemoError(Exception):
    """The demo cannot go on; the message says why, in words for a person at a terminal."""


class ApiFailure(DemoError):
    """A service answered with an unexpected status (its problem+json detail included)."""

    def __init__(self, method: str, url: str, response: requests.Response):
        self.status = response.status_code
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text[:300]}
        self.detail = str(problem.get("detail") or problem.get("title") or "")
        errors = problem.get("errors")
        super().__init__(f"{method} {url} answered {self.status}: {self.detail}"
                         + (f" {errors}" if errors else ""))


class Tokens:
    """Bearer tokens for the demo's actors, minted with the deployment's secret."""

    CITY_SUB = "demo-city@330600"

    def __init__(self, settings: Settings):
        self._secret = settings.jwt_secret

    @staticmethod
    def county_sub(county: str) -> str:
        return f"demo-county-admin@{county}"

    def city(self) -> str:
        return mint(self._secret, sub=self.CITY_SUB, role="city_admin")

    def county_admin(self, county: str) -> str:
        return mint(self._secret, sub=self.county_sub(county), role="county_admin",
                    county=county)

    def inspector(self, sub: str, home_county: str) -> str:
        return mint(self._secret, sub=sub, role="inspector", county=home_county)


class Service:
    """One service at ``base_url``. Safe to share between threads: each has its own session."""

    def __init__(self, name: str, base_url: str):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def call(self, method: str, path: str, token: str | None = None, *,
             expect: tuple[int, ...] = (200,), headers: dict[str, str] | None = None,
             **kwargs: Any) -> requests.Response:
        """The response, if its status is one of ``expect``; ApiFailure otherwise."""
        url = self.base_url + path
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        try:
            response = self._session().request(method, url, headers=sent, timeout=TIMEOUT,
                                               **kwargs)
        except requests.RequestException as exc:
            raise DemoError(f"{method} {url} failed: {exc}") from exc
        if response.status_code not in expect:
            raise ApiFailure(method, url, response)
        return response

    def ready(self) -> str | None:
        """None when GET /readyz answers 200; otherwise why not."""
        try:
            response = self._session().get(self.base_url + "/readyz", timeout=5)
        except requests.RequestException as exc:
            return f"not answering ({exc.__class__.__name__})"
        return None if response.status_code == 200 else f"/readyz answered {response.status_code}"


def wait_ready(services: list[Service], timeout: float,
               say: Callable[[str], None] = print) -> None:
    """Wait until every service answers /readyz with 200, or raise DemoError after ``timeout``."""
    deadline = time.monotonic() + timeout
    waiting = list(services)
    announced = False
    while waiting:
        reasons = {s.name: s.ready() for s in waiting}
        waiting = [s for s in waiting if reasons[s.name] is not None]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise DemoError("Services not ready after {:.0f} s: {}. Is `make run` up?".format(
                timeout, "; ".join(f"{s.name} at {s.base_url}: {reasons[s.name]}"
                                   for s in waiting)))
        if not announced:
            say("等待服务就绪 waiting for " + ", ".join(f"{s.name} ({s.base_url})"
                                                      for s in waiting) + " ...")
            announced = True
        time.sleep(1)


def poll(check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.5) -> Any:
    """Retry ``check`` until it returns something truthy; DemoError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise DemoError(f"Gave up after {timeout:.0f} s waiting for {what}.")
        time.sleep(interval)
