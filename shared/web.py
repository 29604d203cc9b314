"""The Flask application every service starts from: health, readiness, metrics, OpenAPI
and browsable docs (served from the installed swagger-ui bundle, no internet needed), request
ids, JSON access logs and problem+json errors. A service adds its blueprints and nothing else.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from flask import Flask, Response, current_app, g, jsonify, request, send_from_directory
from flask_smorest import Api
from pymongo.database import Database
from swagger_ui_bundle import swagger_ui_path

from shared import logging as slog
from shared import mongo
from shared.config import Settings
from shared.errors import (
    PROBLEM_JSON,
    ApiError,
    ProblemSchema,
    Unprocessable,
    register_error_handlers,
)
from shared.kafka import reachable
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS, exposition
from shared.mongo import reads_within
from shared.pages import error_pages

log = logging.getLogger("supervision.http")
REQUEST_ID_HEADER = "X-Request-Id"
# A readiness check answers None when healthy, or the reason it is not.
ReadinessCheck = Callable[[], str | None]


def readiness(settings: Settings, db: Database) -> dict[str, ReadinessCheck]:
    """What /readyz asks of every service: its database answers and Kafka is reachable."""

    def database() -> str | None:
        mongo.ping(db)
        return None

    def kafka() -> str | None:
        return None if reachable(settings) else "Kafka is not reachable"

    return {"database": database, "kafka": kafka}


def wiring():
    """What the service's bootstrap built for this process: every view's dependencies."""
    return current_app.extensions["wiring"]


def create_service_app(
    service: str, *, title: str, description: str, settings: Settings,
    readiness: dict[str, ReadinessCheck], wiring: object = None,
) -> tuple[Flask, Api]:
    app = Flask(service)
    app.extensions["wiring"] = wiring
    app.config.update(
        SETTINGS=settings,
        SERVICE=service,
        API_TITLE=title,
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {"description": description},
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
            "security": [{"bearer": []}],
        },
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    api = ProblemApi(app)
    register_error_handlers(app)
    _instrument(app, service)
    error_pages(app)  # a browser gets its errors as a page in Chinese
    app.wsgi_app = reads_within(app.wsgi_app, settings.request_database_seconds)
    app.before_request(_screen_input)

    @app.get("/docs/assets/<path:filename>")
    def swagger_assets(filename: str):
        return send_from_directory(swagger_ui_path, filename)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", service=service)

    @app.get("/readyz")
    def readyz():
        failures = {name: reason for name, check in readiness.items()
                    if (reason := _run_check(check)) is not None}
        if failures:
            return jsonify(status="unavailable", service=service, failures=failures), 503
        return jsonify(status="ready", service=service)

    @app.get("/metrics")
    def metrics():
        body, content_type = exposition()
        return Response(body, content_type=content_type)

    return app, api


class ProblemApi(Api):
    """flask-smorest, with the error responses of the OpenAPI document described as they are
    sent: RFC 9457 problem+json, not flask-smorest's own JSON error shape."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_JSON
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE  # successes stay application/json


def _run_check(check: ReadinessCheck) -> str | None:
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 — any failure means "not ready", with its reason
        return f"{type(exc).__name__}: {exc}"


MAX_JSON_DEPTH = 32  # our bodies nest 4 deep at most; far deeper only probes the parser


def _screen_input():
    """Input no view can take is refused before any view runs, as 4xx instead of a 500: a NUL
    character in a path, query or JSON string (it names nothing, and the database's storage,
    FerretDB on PostgreSQL, can neither hold nor compare it), and JSON nested deeper than
    MAX_JSON_DEPTH (the parsers recurse, and would run out of stack)."""
    if "\x00" in request.path:
        raise ApiError("The path contains a NUL character.")
    fields = [name for name, value in request.args.items(multi=True)
              if "\x00" in name or "\x00" in value]
    if request.is_json:
        try:
            fields += _nul_paths(request.get_json(silent=True))
        except RecursionError as exc:
            raise ApiError("The JSON body is nested too deeply.") from exc
    if fields:
        raise Unprocessable("NUL characters are not accepted in text.",
                            errors={f: ["Contains a NUL character."] for f in fields})


def _nul_paths(body) -> list[str]:
    """The dotted paths of the JSON strings (keys included) that hold a NUL character."""
    found, todo = [], [("", body, 0)]
    while todo:
        at, value, depth = todo.pop()
        if depth > MAX_JSON_DEPTH:
            raise RecursionError(f"deeper than {MAX_JSON_DEPTH}")
        if isinstance(value, str) and "\x00" in value:
            found.append(at or "_schema")
        children = (value.items() if isinstance(value, dict)
                    else enumerate(value) if isinstance(value, list) else ())
        for key, child in children:
            path = f"{at}.{key}" if at else str(key)
            if "\x00" in str(key):
                found.append(path)
            else:
                todo.append((path, child, depth + 1))
    return sorted(found)


def _instrument(app: Flask, service: str) -> None:
    @app.before_request
    def _start():
        rid = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = rid if 0 < len(rid) <= 128 and rid.isprintable() else uuid.uuid4().hex
        g.request_token = slog.request_id.set(g.request_id)
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "unmatched"
        if route not in ("/metrics", "/healthz", "/readyz"):
            HTTP_REQUESTS.labels(service, request.method, route, str(response.status_code)).inc()
            HTTP_LATENCY.labels(service, request.method, route).observe(elapsed)
            log.info("request", extra={
                "method": request.method, "route": route, "path": request.path,
                "status": response.status_code, "duration_ms": round(elapsed * 1000, 2)})
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        return response

    @app.teardown_request
    def _reset(_exc):
        token = g.pop("request_token", None)
        if token is not None:
            slog.request_id.reset(token)
