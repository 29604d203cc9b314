"""The services' public APIs, called server-side with the signed-in person's bearer token.

Every answer that is not a success becomes a ``ServiceError`` carrying the problem+json body,
so that a page can show the service's own words (and its ``errors`` against the fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests
from flask import current_app, g

from shared.web import REQUEST_ID_HEADER

TIMEOUT = (5, 120)  # connect, read: an import of a long list is one request


@dataclass
class ServiceError(Exception):
    status: int
    title: str
    detail: str
    errors: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"


class Service:
    """One service's base URL and the caller's token."""

    def __init__(self, base: str, token: str):
        self.base = base.rstrip("/")
        self.token = token

    def request(self, method: str, path: str, *, headers: dict | None = None,
                **kwargs) -> requests.Response:
        sent = {"Authorization": f"Bearer {self.token}",
                REQUEST_ID_HEADER: g.get("request_id", "")}
        sent.update(headers or {})
        try:
            answer = _session().request(method, self.base + path, headers=sent,
                                        timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise ServiceError(503, "Service Unavailable",
                               "服务暂时无法连接，请稍后再试。") from exc
        if answer.status_code >= 400:
            raise _problem(answer)
        return answer

    def get(self, path: str, **kwargs) -> dict:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, **kwargs) -> dict:
        answer = self.request("POST", path, **kwargs)
        return answer.json() if answer.content else {}


def _problem(answer: requests.Response) -> ServiceError:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ServiceError(answer.status_code, str(body.get("title") or answer.reason),
                        str(body.get("detail") or answer.reason),
                        body.get("errors") if isinstance(body.get("errors"), dict) else {})


def _session() -> requests.Session:
    # One connection pool per process; requests' Session is safe for this use across threads.
    return current_app.extensions["web.http"]


def issues(token: str) -> Service:
    return Service(current_app.config["SETTINGS"].issues_url, token)


def inspections(token: str) -> Service:
    return Service(current_app.config["SETTINGS"].inspections_url, token)


def notifications(token: str) -> Service:
    return Service(current_app.config["SETTINGS"].notifications_url, token)
