"""Builds the issues service for one of its processes, once: settings, the database with its
indexes, the repository. The web app, the consumer, the scheduler and the relay start here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pymongo.database import Database

from services.issues import SERVICE
from services.issues.repository import MongoItemRepository, ensure_indexes
from shared import mongo
from shared.config import Settings


@dataclass(frozen=True)
class Issues:
    settings: Settings
    db: Database
    items: MongoItemRepository


@cache
def build(settings: Settings) -> Issues:
    """The service as ``settings`` configure it; its indexes exist once this returns."""
    db = mongo.database(settings, SERVICE)
    ensure_indexes(db)
    return Issues(settings, db, MongoItemRepository(db))
