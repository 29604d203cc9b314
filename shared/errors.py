"""RFC 9457 problem details: every error leaves a service as application/problem+json.

Views raise ``ApiError`` for what is wrong with the request itself; use cases and the domain
raise ``shared.domain.DomainError`` kinds, answered here by ``REFUSALS`` for every service.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, json
from marshmallow import Schema, fields
from pymongo.errors import PyMongoError
from werkzeug.exceptions import HTTPException

from shared import domain, mongo

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class ProblemSchema(Schema):
    """How every error is sent (RFC 9457); the OpenAPI documents describe errors with it."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(metadata={"description": "field → messages, for validation failures"})


class ApiError(Exception):
    """An error meant for the caller. ``errors`` maps a field to its messages."""

    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, *, errors: dict | None = None, status: int | None = None,
                 title: str | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title


class Unauthorized(ApiError):
    status, title = 401, "Unauthorized"

    def __init__(self, detail: str, **kwargs):
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="supervision"'})
        super().__init__(detail, **kwargs)


class Forbidden(ApiError):
    status, title = 403, "Forbidden"


class NotFound(ApiError):
    status, title = 404, "Not Found"


class Conflict(ApiError):
    status, title = 409, "Conflict"


class PreconditionFailed(ApiError):
    status, title = 412, "Precondition Failed"


class PreconditionRequired(ApiError):
    status, title = 428, "Precondition Required"


class Unprocessable(ApiError):
    status, title = 422, "Unprocessable Content"


# How a domain's refusal is answered, by its kind (shared.domain); the first match wins.
REFUSALS: tuple[tuple[type[domain.DomainError], type[ApiError]], ...] = (
    (domain.NotPermitted, Forbidden),
    (domain.WrongState, Conflict),
    (domain.Unknown, NotFound),
    (domain.DomainError, Unprocessable),
)


def refusal(exc: domain.DomainError) -> ApiError:
    """The answer to a domain's refusal. A 403 names no field: which input was out of the
    caller's scope is not theirs to learn."""
    kind = next(answer for refused, answer in REFUSALS if isinstance(exc, refused))
    return kind(exc.message, errors=None if kind is Forbidden else exc.errors)


def problem(status: int, title: str, detail: str, *, errors: dict | None = None,
            headers: dict | None = None) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten(messages) -> dict:
    """marshmallow nests messages by location (json, query, headers); callers want field names."""
    if not isinstance(messages, dict):
        return {"_schema": messages}
    locations = {"json", "query", "querystring", "headers", "form", "files", "view_args"}
    if messages and set(messages) <= locations:
        merged: dict = {}
        for inner in messages.values():
            merged.update(inner if isinstance(inner, dict) else {"_schema": inner})
        return merged
    return messages


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return problem(exc.status, exc.title, exc.detail, errors=exc.errors, headers=exc.headers)

    @app.errorhandler(domain.DomainError)
    def _refused(exc: domain.DomainError):
        return _api_error(refusal(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        data = getattr(exc, "data", None) or {}
        messages = data.get("messages")
        if messages is not None:
            # An unreadable body is 400 (Bad Request), a body that does not validate 422.
            title = exc.name if exc.code and exc.code != 422 else "Unprocessable Content"
            return problem(exc.code or 422, title,
                           "The request did not validate; see errors.", errors=_flatten(messages))
        return problem(exc.code or 500, exc.name, exc.description or exc.name,
                       headers=dict(exc.get_headers()) if exc.code == 405 else None)

    @app.errorhandler(PyMongoError)
    def _database_error(exc: PyMongoError):
        if mongo.timed_out(exc):  # slow, not down: REQUEST_DATABASE_SECONDS for a GET
            log.warning("database answer too slow", extra={"error": f"{type(exc).__name__}"})
            return problem(504, "Gateway Timeout",
                           "The database did not answer in time. Try again shortly.",
                           headers={"Retry-After": "5"})
        if not mongo.unavailable(exc):
            raise exc  # a fault of ours: Flask's 500, logged with its traceback
        log.error("database unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})
        return problem(503, "Service Unavailable",
                       "The database is unavailable; nothing was changed. Try again shortly.",
                       headers={"Retry-After": "5"})
