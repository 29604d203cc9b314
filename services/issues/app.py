"""The issues web application (gunicorn: ``services.issues.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.issues import SERVICE, api, divisions_api, pages
from services.issues.repository import ensure_indexes
from shared import divisions, mongo
from shared import logging as slog
from shared.config import Settings
from shared.kafka import reachable
from shared.web import create_service_app

DESCRIPTION = """The system of record of every county's rectification items (问题清单): their
lifecycle open → in_progress → pending_verification → closed (销号), reopened by a failed
inspection (倒逼整改, rule R); the ledger (工作台账), the quarterly ranking (排位), and the public
board (上墙公示) and dashboard. docs/issues.md tells who may do what."""


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    slog.configure(SERVICE, settings.log_level)
    divisions.of(settings)  # read once now: a region that cannot be read stops the start
    db = mongo.database(settings, SERVICE)
    ensure_indexes(db)

    def database() -> str | None:
        mongo.ping(db)
        return None

    def kafka() -> str | None:
        return None if reachable(settings) else "Kafka is not reachable"

    app, smorest = create_service_app(
        SERVICE, title="supervision issues", description=DESCRIPTION, settings=settings,
        readiness={"database": database, "kafka": kafka})
    app.extensions["issues.db"] = db
    for blueprint in (api.items_blp, api.reports_blp, divisions_api.blp, pages.blp):
        smorest.register_blueprint(blueprint)
    return app
