"""The inspections web application (gunicorn: ``services.inspections.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.inspections import SERVICE, api, bootstrap
from shared import logging as slog
from shared.config import Settings
from shared.web import create_service_app, readiness

DESCRIPTION = """Unannounced (不打招呼) and cross-county (交叉检查) inspections: the city plans
them, teams start them on site and file their spot-check results from the field.

Rule U: an inspection planned against a county is invisible to that county (its admins,
subscribers and anything derived from them) until the team starts it; a hidden inspection answers
404 exactly like a missing one. Rule X: no inspector inspects their own home county."""


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    slog.configure(SERVICE, settings.log_level)
    inspections = bootstrap.build(settings)
    app, smorest = create_service_app(
        SERVICE, title="supervision inspections", description=DESCRIPTION,
        settings=settings, readiness=readiness(settings, inspections.db),
        wiring=inspections)
    smorest.register_blueprint(api.blp)
    return app
