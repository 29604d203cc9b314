"""The issues web application (gunicorn: ``services.issues.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.issues import SERVICE, api, bootstrap, divisions_api, pages
from shared import divisions
from shared import logging as slog
from shared.config import Settings
from shared.web import create_service_app, readiness

DESCRIPTION = """The system of record of every county's rectification items (问题清单): their
lifecycle open → in_progress → pending_verification → closed (销号), reopened by a failed
inspection (倒逼整改, rule R); the ledger (工作台账), the quarterly ranking (排位), and the public
board (上墙公示) and dashboard. docs/issues.md tells who may do what."""


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    slog.configure(SERVICE, settings.log_level)
    divisions.of(settings)  # read once now: a region that cannot be read stops the start
    issues = bootstrap.build(settings)
    app, smorest = create_service_app(
        SERVICE, title="supervision issues", description=DESCRIPTION, settings=settings,
        readiness=readiness(settings, issues.db), wiring=issues)
    for blueprint in (api.items_blp, api.reports_blp, divisions_api.blp, pages.blp):
        smorest.register_blueprint(blueprint)
    return app
