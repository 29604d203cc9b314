"""Helpers for tests that wait on asynchronous outcomes: retry, never a fixed sleep."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable

import requests
from prometheus_client.parser import text_string_to_metric_families
from pymongo import monitoring


def together(work, count: int) -> list:
    """Run ``work(n)`` in ``count`` threads released at the same instant; their answers."""
    start, answers, lock = threading.Barrier(count), [], threading.Lock()

    def run(n: int) -> None:
        start.wait()
        answer = work(n)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


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


def summed(texts: Iterable[str], names: Iterable[str]) -> Counter:
    """Every target's samples of the gauges ``names`` added up, per name and labels (as
    ``sum by`` does)."""
    names = set(names)
    total: Counter = Counter()
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in names:
                    total[(sample.name, tuple(sorted(sample.labels.items())))] += sample.value
    return total


def scraped(webs, ports: Iterable[int], names: Iterable[str]) -> Counter:
    """``summed`` over the /metrics of Flask test clients ``webs`` and of the worker processes
    serving theirs on ``ports``; ``{"not listening yet": 1}`` while a port does not answer."""
    texts = [web.get("/metrics").get_data(as_text=True) for web in webs]
    try:
        texts += [requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
                  for port in ports]
    except requests.ConnectionError:
        return Counter({"not listening yet": 1})
    return summed(texts, names)


class Caller:
    """A Flask test client speaking as one role: every request carries the bearer token."""

    def __init__(self, client, token: str):
        self.client, self.token = client, token

    def __getattr__(self, method: str):
        def call(path: str, headers: dict | None = None, **kwargs):
            headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
            return getattr(self.client, method)(path, headers=headers, **kwargs)
        return call


class Finds(monitoring.CommandListener):
    """Every find a client sends, as (collection, filter, limit): what a read asked for."""

    def __init__(self):
        self.finds: list[tuple[str, dict, int]] = []

    def of(self, collection: str) -> list[tuple[dict, int]]:
        return [(f, limit) for c, f, limit in self.finds if c == collection]

    def started(self, event):
        if event.command_name == "find":
            self.finds.append((event.command["find"], event.command.get("filter", {}),
                               event.command.get("limit", 0)))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def equalities(query: dict) -> dict:
    """The part of a filter FerretDB 1.24 hands to PostgreSQL: its top-level equalities, which
    select what it reads and decodes."""
    return {k: v for k, v in query.items()
            if not k.startswith("$") and not (isinstance(v, dict)
                                              and any(o.startswith("$") for o in v))}
