"""Builds the notifications service for one of its processes, once: settings, the database with
its indexes, the stores and where webhooks may go. The web app, the consumer and the dispatcher
start here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from pymongo.database import Database

from services.notifications import SERVICE
from services.notifications.domain.url_safety import AllowList
from services.notifications.handlers import Destinations
from services.notifications.outbound import resolve
from services.notifications.repository import Stores, ensure_indexes
from shared import mongo
from shared.config import Settings


@dataclass(frozen=True)
class Notifications:
    settings: Settings
    db: Database
    stores: Stores
    destinations: Destinations

    @property
    def secret_grace(self) -> timedelta:
        """How long a rotated-out secret keeps signing (WEBHOOK_SECRET_GRACE_SECONDS)."""
        return timedelta(seconds=self.settings.webhook_secret_grace_seconds)


@cache
def build(settings: Settings) -> Notifications:
    """The service as ``settings`` configure it; its indexes exist once this returns."""
    db = mongo.database(settings, SERVICE)
    ensure_indexes(db)
    return Notifications(settings, db, Stores.on(db),
                         Destinations(resolve, AllowList.parse(settings.webhook_allowed_hosts)))
