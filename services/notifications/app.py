"""The notifications web application (gunicorn: ``services.notifications.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.notifications import SERVICE, api, bootstrap
from shared import logging as slog
from shared.config import Settings
from shared.web import create_service_app, readiness

DESCRIPTION = """Delivers the events of the issues and inspections services to county systems
(县区系统) and the city: as signed webhooks (Standard Webhooks) and as a pull feed.

Rule U: `inspection.planned` is for the city alone. No county-scoped subscription or feed ever
receives one, whatever county or event types it names.

Webhooks: at least once, retried on WEBHOOK_RETRY_SCHEDULE, then failed and replayable; a
410 Gone disables the subscription. The events of one subject reach a subscription in the order
the service received them; `itemversion` lets a receiver drop stale or repeated item events."""


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    slog.configure(SERVICE, settings.log_level)
    notifications = bootstrap.build(settings)
    app, smorest = create_service_app(
        SERVICE, title="supervision notifications", description=DESCRIPTION,
        settings=settings, readiness=readiness(settings, notifications.db),
        wiring=notifications)
    smorest.register_blueprint(api.subscriptions)
    smorest.register_blueprint(api.feed)
    return app
