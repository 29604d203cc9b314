"""Helpers for tests that wait on asynchronous outcomes: retry, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(check: Callable[[], object], *, timeout: float = 20.0, interval: float = 0.05,
               message: str = "condition not met"):
    """Retry ``check`` until it returns a truthy value (returned) or raises no AssertionError."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except AssertionError as exc:
            last = exc
        time.sleep(interval)
    if last is not None:
        raise AssertionError(f"{message} after {timeout}s: {last}") from last
    raise AssertionError(f"{message} after {timeout}s")


class Caller:
    """A Flask test client speaking as one role: every request carries the bearer token."""

    def __init__(self, client, token: str):
        self.client, self.token = client, token

    def __getattr__(self, method: str):
        def call(path: str, headers: dict | None = None, **kwargs):
            headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
            return getattr(self.client, method)(path, headers=headers, **kwargs)
        return call
