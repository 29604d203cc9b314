"""Builds the inspections service for one of its processes, once: settings, the database with
its indexes, the repositories. The web app, the consumer and the relay start here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pymongo.database import Database

from services.inspections import SERVICE
from services.inspections.repository import MongoInspections, MongoItemCopy, ensure_indexes
from shared import mongo
from shared.config import Settings


@dataclass(frozen=True)
class Inspections:
    settings: Settings
    db: Database
    inspections: MongoInspections
    items: MongoItemCopy  # this service's copy of the items, kept from the issues events


@cache
def build(settings: Settings) -> Inspections:
    """The service as ``settings`` configure it; its indexes exist once this returns."""
    db = mongo.database(settings, SERVICE)
    ensure_indexes(db)
    return Inspections(settings, db, MongoInspections(db), MongoItemCopy(db))
