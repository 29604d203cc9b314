"""The inspections gauge adds up: scraped from two web replicas and two consumer processes and
summed, each status's figure is the database's count, not twice it (it comes from one place);
rule U holds in it: no county label."""

from __future__ import annotations

from collections import Counter

import pytest

from services.inspections.app import create_app
from services.inspections.domain.model import STATUSES
from tests.integration.inspections.test_inspections_api import plan, started
from tests.processes import environment, free_port, python_module
from tests.support import eventually, scraped

GAUGES = ("supervision_inspections",)


@pytest.fixture
def app(kafka_settings):
    return create_app(kafka_settings)


def counted(db) -> Counter:
    by_status = Counter(doc["status"] for doc in db.inspections.find({}, {"status": 1}))
    return Counter({("supervision_inspections", (("status", status),)): by_status[status]
                    for status in STATUSES})


def test_two_web_replicas_and_two_consumers_sum_to_the_count(app, as_, db, items,
                                                            kafka_settings, tmp_path):
    plan(as_)
    plan(as_)
    started(as_)
    want = counted(db)
    assert want[("supervision_inspections", (("status", "planned"),))] == 2
    webs = [app.test_client(), create_app(kafka_settings).test_client()]
    ports = [free_port(), free_port()]
    processes = [python_module(f"consumer-{n}", "services.inspections.consumer",
                               log_dir=tmp_path,
                               env=environment(kafka_settings, METRICS_PORT=str(port),
                                               DATABASE_GAUGES_SECONDS="0.5")).start()
                 for n, port in enumerate(ports)]
    try:
        eventually(lambda: scraped(webs, ports, GAUGES) == want, timeout=90, interval=0.5,
                   message="the summed gauge never equalled the count:\n"
                           + "\n".join(p.tail() for p in processes))
        assert all("county" not in dict(labels) for _, labels in scraped(webs, ports, GAUGES))
        assert not scraped(webs, (), GAUGES)
    finally:
        for process in processes:
            process.stop()
