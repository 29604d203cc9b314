"""The notifications web application (gunicorn: ``services.notifications.app:create_app()``)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from flask import Flask

from services.notifications import api
from services.notifications.domain.url_safety import AllowList
from services.notifications.handlers import Destinations
from services.notifications.metrics import DeliveryBacklog
from services.notifications.outbound import resolve
from services.notifications.repository import Deliveries, ensure_indexes
from shared import auth, mongo
from shared import logging as slog
from shared.config import Settings
from shared.kafka import reachable
from shared.metrics import ReadAtMostEvery
from shared.web import create_service_app

DESCRIPTION = """Delivers the events of the issues and inspections services to county systems
(县区系统) and the city: as signed webhooks (Standard Webhooks) and as a pull feed.

Rule U: `inspection.planned` is for the city alone. No county-scoped subscription or feed ever
receives one, whatever county or event types it names.

Webhooks: at least once, retried on WEBHOOK_RETRY_SCHEDULE, then failed and replayable; a
410 Gone disables the subscription. The events of one subject reach a subscription in the order
the service received them; `itemversion` lets a receiver drop stale or repeated item events."""

DEFAULT_SECRET_GRACE_SECONDS = 86400


def secret_grace() -> timedelta:
    """How long a rotated-out secret keeps signing (WEBHOOK_SECRET_GRACE_SECONDS)."""
    return timedelta(seconds=int(os.environ.get("WEBHOOK_SECRET_GRACE_SECONDS",
                                                DEFAULT_SECRET_GRACE_SECONDS)))


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    slog.configure(api.SERVICE, settings.log_level)
    ensure_indexes(mongo.database(settings, api.SERVICE))

    def database() -> str | None:
        mongo.ping(mongo.database(settings, api.SERVICE))
        return None

    def kafka() -> str | None:
        return None if reachable(settings) else "Kafka is not reachable"

    backlog = ReadAtMostEvery(DeliveryBacklog(
        lambda now: Deliveries(mongo.database(settings, api.SERVICE)).counts(now),
        lambda: datetime.now(UTC)))

    app, smorest = create_service_app(
        api.SERVICE, title="supervision notifications", description=DESCRIPTION,
        settings=settings, readiness={"database": database, "kafka": kafka},
        metrics_collectors=lambda: [backlog])
    app.extensions["notifications"] = api.Wiring(
        settings=settings,
        destinations=Destinations(resolve, AllowList.parse(settings.webhook_allowed_hosts)),
        secret_grace=secret_grace())
    smorest.register_blueprint(api.subscriptions)
    smorest.register_blueprint(api.feed)
    app.before_request(auth.whole_region_only(api.SERVICE))
    return app
