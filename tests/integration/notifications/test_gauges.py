"""The deliveries gauge adds up: scraped from two web replicas and two dispatcher processes and
summed, each state's figure is the database's count, not twice it (it comes from one place)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from services.notifications.app import create_app
from services.notifications.repository import Deliveries
from tests.integration.notifications.test_webhooks import subscribe
from tests.processes import environment, free_port, python_module
from tests.support import eventually, scraped
from tests.unit.notifications.events import issue_created

GAUGES = ("supervision_webhook_deliveries",)


def counted(db) -> Counter:
    return Counter({("supervision_webhook_deliveries", (("state", state),)): n
                    for state, n in Deliveries(db).counts(datetime.now(UTC)).items()})


def test_two_web_replicas_and_two_dispatchers_sum_to_the_count(
        app, as_, db, publish, consumer, notify_settings, tmp_path):
    # Nothing listens there: every attempt finds no answer, and the deliveries end failed.
    subscribe(as_["yuecheng"], f"http://127.0.0.1:{free_port()}/hooks")
    publish(*(issue_created("330602") for _ in range(3)))
    webs = [app.test_client(), create_app(notify_settings).test_client()]
    ports = [free_port(), free_port()]
    processes = [python_module(f"dispatcher-{n}", "services.notifications.dispatcher",
                               log_dir=tmp_path,
                               env=environment(notify_settings, METRICS_PORT=str(port),
                                               DATABASE_GAUGES_SECONDS="0.5")).start()
                 for n, port in enumerate(ports)]
    try:
        eventually(lambda: counted(db)[("supervision_webhook_deliveries",
                                        (("state", "failed"),))] == 3, timeout=60,
                   message="the deliveries never ended failed")
        want = counted(db)
        assert set(want) == {("supervision_webhook_deliveries", (("state", state),))
                             for state in ("due", "waiting", "in_flight", "failed")}
        eventually(lambda: scraped(webs, ports, GAUGES) == want, timeout=90, interval=0.5,
                   message="the summed gauge never equalled the count:\n"
                           + "\n".join(p.tail() for p in processes))
        assert not scraped(webs, (), GAUGES)
    finally:
        for process in processes:
            process.stop()
