"""The inspections web application (gunicorn: ``services.inspections.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.inspections import SERVICE, api
from services.inspections.metrics import InspectionsByStatus
from services.inspections.repository import MongoInspections, ensure_indexes
from shared import logging as slog
from shared import mongo
from shared.config import Settings
from shared.kafka import reachable
from shared.metrics import ReadAtMostEvery
from shared.web import create_service_app

DESCRIPTION = """Unannounced (不打招呼) and cross-county (交叉检查) inspections: the city plans
them, teams start them on site and file their spot-check results from the field.

Rule U: an inspection planned against a county is invisible to that county (its admins,
subscribers and anything derived from them) until the team starts it; a hidden inspection answers
404 exactly like a missing one. Rule X: no inspector inspects their own home county."""


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    slog.configure(SERVICE, settings.log_level)
    db = mongo.database(settings, SERVICE)
    ensure_indexes(db)

    def database() -> str | None:
        mongo.ping(mongo.database(settings, SERVICE))
        return None

    def kafka() -> str | None:
        return None if reachable(settings) else "Kafka is not reachable"

    by_status = ReadAtMostEvery(InspectionsByStatus(
        lambda: MongoInspections(mongo.database(settings, SERVICE)).count_by_status()))

    app, smorest = create_service_app(
        SERVICE, title="supervision inspections", description=DESCRIPTION,
        settings=settings, readiness={"database": database, "kafka": kafka},
        metrics_collectors=lambda: [by_status])
    smorest.register_blueprint(api.blp)
    return app
