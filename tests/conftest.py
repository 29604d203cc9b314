"""Fixtures shared by every layer of tests.

Tests under tests/unit are marked ``unit``, under tests/integration ``integration``, under
tests/e2e ``e2e``. Integration and e2e tests talk to the real broker and database named by
KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI (``make test`` starts its own stack and sets them);
each test gets its own databases and, when it asks for Kafka, its own topics.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest

from shared import mongo
from shared.config import Settings

LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items):
    for item in items:
        parts = Path(str(item.fspath)).parts
        for layer in LAYERS:
            if layer in parts:
                item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return dataclasses.replace(
        Settings.from_env(), webhook_retry_schedule=(0, 1, 2), reopen_deadline_days=30)


@pytest.fixture
def settings(base_settings: Settings):
    """Settings with databases of this test's own, dropped afterwards."""
    run = uuid.uuid4().hex[:10]
    scoped = dataclasses.replace(base_settings, database_prefix=f"t{run}")
    yield scoped
    client = mongo.client(scoped.mongodb_uri)
    for name in client.list_database_names():
        if name.startswith(scoped.database_prefix + "_"):
            client.drop_database(name)


@pytest.fixture
def kafka_settings(settings: Settings) -> Settings:
    """``settings`` plus contract topics of this test's own (3 partitions each)."""
    from shared.kafka import ensure_topics

    scoped = dataclasses.replace(settings, topic_prefix=f"t{uuid.uuid4().hex[:10]}.")
    ensure_topics(scoped, partitions=3)
    return scoped
