"""The web app (gunicorn: ``services.web.app:create_app()``).

Server-rendered pages, in Chinese, that work without JavaScript; scripts add the inspector's
offline work (a Workbox service worker, results and photos waiting in IndexedDB through Dexie).
Every browser library is served from the project's own node_modules: nothing from a CDN.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import requests
from flask import Flask, abort, jsonify, render_template, request, send_from_directory
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from services.web import SERVICE, city, county, field, pages, signin
from services.web.client import ServiceError
from shared import logging as slog
from shared.config import Settings
from shared.web import create_service_app

NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
# The files of node_modules the pages may load, by the name they are served under.
VENDOR = {"dexie.min.js": "dexie/dist/dexie.min.js",
          "workbox-sw.js": "workbox-sw/build/workbox-sw.js"}
WORKBOX_MODULES = ("core", "routing", "strategies", "precaching", "expiration")
VENDOR.update({f"workbox-{m}.prod.js": f"workbox-{m}/build/workbox-{m}.prod.js"
               for m in WORKBOX_MODULES})
CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def secure_cookies(public_url: str) -> bool:
    """Cookies are Secure unless the app is reached over plain http on this machine only
    (http://127.0.0.1 or http://localhost, `make run`); plain http elsewhere is refused."""
    parts = urlsplit(public_url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "http" and loopback:
        return False
    raise ValueError(f"WEB_PUBLIC_URL={public_url!r}: the web app must be reached over https "
                     "(plain http only on 127.0.0.1 or localhost)")


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    slog.configure(SERVICE, settings.log_level)
    secure = secure_cookies(settings.web_public_url)
    http = requests.Session()

    def services() -> str | None:
        down = []
        for name, url in (("issues", settings.issues_url),
                          ("inspections", settings.inspections_url),
                          ("notifications", settings.notifications_url)):
            try:
                if http.get(f"{url}/healthz", timeout=3).status_code != 200:
                    down.append(name)
            except requests.RequestException:
                down.append(name)
        return f"not answering: {', '.join(down)}" if down else None

    app, _ = create_service_app(SERVICE, title="supervision web", settings=settings,
                                description="The web app's pages (HTML).",
                                readiness={"services": services})
    app.config.update(
        SECRET_KEY=settings.web_session_secret,
        SESSION_COOKIE_NAME="supervision_session",
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=signin.TOKEN_SECONDS),
        # A phone may keep results offline for hours: its page's token must still be good.
        WTF_CSRF_TIME_LIMIT=None,
        # The evidence photos of a check (10 MB each at most) come through in one request.
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
    )
    app.extensions["web.http"] = http
    CSRFProtect(app)
    signin.init_app(app, settings)
    for module in (signin, field, county, city, pages):
        app.register_blueprint(module.blp)
    pages.install_filters(app)
    _errors(app)

    @app.get("/vendor/<name>")
    def vendor(name: str):
        if name not in VENDOR:
            abort(404)
        path = NODE_MODULES / VENDOR[name]
        return send_from_directory(path.parent, path.name, max_age=86400)

    @app.get("/sw.js")
    def service_worker():
        response = send_from_directory(pages.blp.static_folder, "sw.js", max_age=0)
        response.headers["Service-Worker-Allowed"] = "/"
        return response

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _errors(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service(exc: ServiceError):
        if _wants_json():
            return jsonify(status=exc.status, title=exc.title, detail=exc.detail,
                           errors=exc.errors), exc.status
        if exc.status == 401:
            return signin.expired()
        return render_template("error.html", status=exc.status, detail=exc.detail), exc.status

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        detail = "页面已过期或来源不明，请刷新页面后再提交。"
        if _wants_json():
            return jsonify(status=400, title="Bad Request", detail=detail, errors={}), 400
        return render_template("error.html", status=400, detail=detail), 400

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        words = {403: "您的角色不能查看此页面。", 404: "没有这个页面。",
                 413: "上传的文件太大。"}
        detail = words.get(exc.code, exc.description or exc.name)
        if _wants_json():
            return jsonify(status=exc.code, title=exc.name, detail=detail, errors={}), exc.code
        return render_template("error.html", status=exc.code, detail=detail), exc.code
