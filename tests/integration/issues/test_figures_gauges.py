"""The per-county gauges add up: scraped from two web replicas and two figures processes and
summed, each figure is the recount, not twice it (each comes from one place)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from services.issues import handlers
from services.issues.app import create_app
from services.issues.domain.model import Caller, local_date
from services.issues.repository import MongoFigures, MongoItemRepository
from shared import kafka, mongo
from shared.clock import now_ms
from shared.outbox import Relay
from tests.integration.issues.conftest import KEQIAO, YUECHENG
from tests.processes import environment, free_port, python_module
from tests.support import eventually, scraped

CITY = Caller("city", "city_admin")
GAUGES = ("supervision_items", "supervision_items_overdue")


def expected(db) -> Counter:
    today = local_date(now_ms())
    figures = Counter()
    for county, tally in MongoFigures(db).recount().items():
        for status, n in tally["by_status"].items():
            figures[("supervision_items", (("county", county), ("status", status)))] = n
        overdue = sum(d.get("n", 0) - d.get("closed", 0) for day, d in tally["due"].items()
                      if day < today.isoformat())
        figures[("supervision_items_overdue", (("county", county),))] = overdue
    return figures


def test_two_web_replicas_and_two_figures_processes_sum_to_the_recount(kafka_settings,
                                                                        tmp_path):
    webs = [create_app(kafka_settings).test_client() for _ in range(2)]
    db = mongo.database(kafka_settings, "issues")
    repo = MongoItemRepository(db)
    for n, (county, days) in enumerate([(YUECHENG, -3), (YUECHENG, 10), (KEQIAO, -1),
                                        (KEQIAO, 20), (YUECHENG, 5)]):
        item, _ = handlers.create_item(repo, handlers.NewItem(
            county=county, township="灵芝镇", village=f"村{n}", problem="问题", measure="措施",
            deadline=local_date(now_ms()) + timedelta(days=days)), CITY)
        if n % 2:
            handlers.transition_item(repo, item.id, "in_progress", CITY, expected_version=1)
    stop = threading.Event()
    producer = kafka.producer(kafka_settings, "issues-relay-test")
    relay = threading.Thread(target=Relay(db, producer, "issues", kafka_settings).run,
                             args=(stop,), daemon=True)
    relay.start()
    ports = [free_port(), free_port()]
    processes = [python_module(f"figures-{n}", "services.issues.figures", log_dir=tmp_path,
                               env=environment(kafka_settings, METRICS_PORT=str(port),
                                               FIGURES_GAUGE_SECONDS="0.5")).start()
                 for n, port in enumerate(ports)]
    try:
        want = expected(db)
        assert want[("supervision_items", (("county", YUECHENG), ("status", "open")))] == 2

        # Zeros are reported too; compare the figures that are not zero.
        eventually(lambda: +scraped(webs, ports, GAUGES) == +want, timeout=90, interval=0.5,
                   message="the summed gauges never equalled the recount:\n"
                           + "\n".join(p.tail() for p in processes))
        assert not scraped(webs, (), GAUGES)
    finally:
        for process in processes:
            process.stop()
        stop.set()
        relay.join(timeout=30)
        producer.close(timeout=5)
