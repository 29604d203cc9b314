"""Rule U, hunted for leaks: an inspection planned against county C cannot be detected by C's
county_admin, subscriber or home inspectors through any answer, list, count, cursor, error,
metric, feed or webhook, nor (coarsely) by timing, until the team starts it on site. Each test
ends by starting the inspection and seeing C learn of it, which proves the probe could fail."""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest

from services.issues import metrics as issues_metrics
from services.issues.domain import figures
from services.issues.domain.model import local_date
from services.issues.repository import MongoFigures
from services.notifications.consumer import handlers_for as notifications_consumer
from services.notifications.dispatcher import Dispatcher
from shared.consumer import ConsumerRunner
from shared.events import TOPICS
from shared.kafka import producer
from shared.outbox import Relay
from tests.integration.security.conftest import Services, security_settings
from tests.integration.security.matrix import C
from tests.receiver import Receiver
from tests.support import eventually

C_CALLERS = ("county_c", "subscriber_c", "inspector_c")
C_NAME = "越城区"


def observed(services: Services, caller: str, method: str, path: str, **kwargs) -> tuple:
    """What a caller can tell from an answer: status, content type and the exact body bytes."""
    answer = services.call("inspections", caller, method, path, **kwargs)
    return answer.status_code, answer.content_type, answer.get_data()


def list_views(services: Services, caller: str) -> list[tuple]:
    queries = ({}, {"status": "planned"}, {"target_county": C},
               {"status": "planned", "target_county": C, "limit": 1})
    return [observed(services, caller, "GET", "/v1/inspections", query_string=q)
            for q in queries]


def attempts(services: Services, caller: str, inspection_id: str) -> list[tuple]:
    """Every way to poke at an inspection by id, with valid bodies."""
    now = datetime.now(UTC).isoformat()
    base = f"/v1/inspections/{inspection_id}"
    return [observed(services, caller, "GET", base),
            observed(services, caller, "POST", f"{base}/start"),
            observed(services, caller, "POST", f"{base}/results", json={"checks": [
                {"item_id": "x", "outcome": "pass", "observed_at": now}]}),
            observed(services, caller, "POST", f"{base}/cancel", json={})]


@pytest.fixture
def world(fresh_services) -> Services:
    return fresh_services


def test_c_lists_exactly_the_same_before_and_after_an_inspection_is_planned(world):
    before = {caller: list_views(world, caller) for caller in C_CALLERS}
    planned = world.planned()
    for caller in C_CALLERS:
        assert list_views(world, caller) == before[caller], f"{caller} can tell by listing"
    world.ok("inspections", "inspector_team", "POST", f"/v1/inspections/{planned['id']}/start")
    for caller in ("county_c", "subscriber_c"):
        shown = world.call("inspections", caller, "GET", "/v1/inspections").get_json()
        assert [row["id"] for row in shown["items"]] == [planned["id"]]


def test_a_hidden_inspection_answers_byte_for_byte_as_one_that_does_not_exist(world):
    planned = world.planned()
    for caller in C_CALLERS:
        hidden = attempts(world, caller, planned["id"])
        missing = attempts(world, caller, str(uuid.uuid4()))
        assert hidden == missing, f"{caller} can tell a planned inspection from none"
        assert planned["id"].encode() not in b"".join(body for *_, body in hidden)
    started = world.ok("inspections", "inspector_team", "POST",
                       f"/v1/inspections/{planned['id']}/start")
    assert world.call("inspections", "county_c", "GET",
                      f"/v1/inspections/{started['id']}").status_code == 200


def test_a_plan_cancelled_before_its_start_stays_unknown_to_c(world):
    planned = world.planned()
    world.ok("inspections", "city", "POST", f"/v1/inspections/{planned['id']}/cancel", json={})
    for caller in C_CALLERS:
        assert attempts(world, caller, planned["id"]) == attempts(world, caller, "no-such-id")


def test_c_cannot_time_a_hidden_inspection_apart_from_a_missing_one(world):
    """A coarse check only (a loaded machine is noisy): the median latency of a hidden id's 404
    stays within 3× the missing id's median + 20 ms, and the other way round."""
    hidden, missing = world.planned()["id"], str(uuid.uuid4())
    path = "/v1/inspections/{}"
    timings: dict[str, list[float]] = {hidden: [], missing: []}
    for _ in range(50):
        for inspection_id in (hidden, missing):
            started = time.perf_counter()
            answer = world.call("inspections", "county_c", "GET", path.format(inspection_id))
            timings[inspection_id].append(time.perf_counter() - started)
            assert answer.status_code == 404
    hidden_median = statistics.median(timings[hidden])
    missing_median = statistics.median(timings[missing])
    assert hidden_median <= 3 * missing_median + 0.020
    assert missing_median <= 3 * hidden_median + 0.020


def metric_lines(services: Services, needle: str) -> dict[str, list[str]]:
    """Per service, the /metrics lines naming ``needle`` (county code or name)."""
    return {service: sorted(line for line in services.call(
                service, "anonymous", "GET", "/metrics").get_data(as_text=True).splitlines()
                if needle in line and not line.startswith("#"))
            for service in services.apps}


def metrics_about_c(services: Services) -> dict:
    return {needle: metric_lines(services, needle) for needle in (C, C_NAME)}


def report_issue_figures(services: Services) -> None:
    """What the issues figures process's lease holder sets (none runs here), from a recount."""
    counted = MongoFigures(services.db("issues")).recount()
    today = local_date(datetime.now(UTC))
    issues_metrics.set_item_gauges({county: figures.summary(tally, today)
                                    for county, tally in counted.items()})


def test_no_metric_names_c_together_with_a_planned_inspection(world):
    world.item()  # C then has figures of its own that a scrape shows
    report_issue_figures(world)
    before = metrics_about_c(world)
    assert before[C]["issues"], "the probe must see C's own figures to compare them"
    world.planned()
    assert metrics_about_c(world) == before
    for service in world.apps:
        text = world.call(service, "anonymous", "GET", "/metrics").get_data(as_text=True)
        assert not [line for line in text.splitlines()
                    if "planned" in line and (C in line or C_NAME in line)]


# --- feeds and webhooks, on the real broker ------------------------------------------------

@pytest.fixture
def pipeline(kafka_settings):
    """The services with the inspections outbox relay, the notifications consumer and its
    webhook dispatcher running in threads on topics of this test's own."""
    settings = security_settings(kafka_settings)
    services = Services(settings)
    stop = threading.Event()
    kafka = producer(settings, "security-relay")
    relay = Relay(services.db("inspections"), kafka, "inspections", settings)
    consumer = ConsumerRunner("notifications", settings, notifications_consumer(settings),
                              topics=tuple(settings.topic(t) for t in TOPICS),
                              group_id=f"notifications-{uuid.uuid4().hex[:8]}")
    threads = [threading.Thread(target=relay.run, args=(stop,), daemon=True),
               threading.Thread(target=consumer.run, daemon=True),
               threading.Thread(target=Dispatcher(settings, idle_seconds=0.05).run,
                                args=(stop,), daemon=True)]
    for thread in threads:
        thread.start()
    yield services
    stop.set()
    consumer.stop.set()
    for thread in threads:
        thread.join(20)
    kafka.close()


def feed(services: Services, caller: str, **query) -> list[dict]:
    events, cursor = [], None
    while True:
        page = services.call("notifications", caller, "GET", "/v1/feed", query_string={
            **query, **({"after": cursor} if cursor else {})})
        assert page.status_code == 200, page.get_json()
        if not page.get_json()["items"]:
            return events
        events += page.get_json()["items"]
        cursor = page.get_json()["next_cursor"]


def types_of(events: list[dict], subject: str) -> set[str]:
    return {e["type"] for e in events if e["subject"] == subject}


def test_inspection_planned_never_reaches_c_by_feed_or_webhook(pipeline):
    services = pipeline
    with Receiver() as city_hook, Receiver() as c_hook, Receiver() as c_planned_hook:
        city_hook.secret = services.subscription("city", url=city_hook.url)["secret"]
        c_hook.secret = services.subscription("subscriber_c", url=c_hook.url)["secret"]
        c_planned_hook.secret = services.subscription(
            "county_c", url=c_planned_hook.url,
            event_types=("inspection.planned", "inspection.started"))["secret"]
        planned = services.planned()
        subject = planned["id"]

        # The city is told, through both doors: the event did travel.
        eventually(lambda: "inspection.planned" in types_of(feed(services, "city"), subject),
                   timeout=60, message="the city feed never showed inspection.planned")
        eventually(lambda: city_hook.of_type("inspection.planned"), timeout=60,
                   message="the city's webhook never got inspection.planned")
        for caller in ("county_c", "subscriber_c"):
            assert types_of(feed(services, caller), subject) == set()
            assert feed(services, caller, types="inspection.planned") == []

        services.ok("inspections", "inspector_team", "POST", f"/v1/inspections/{subject}/start")
        for caller in ("county_c", "subscriber_c"):
            eventually(lambda c=caller: types_of(feed(services, c), subject)
                       == {"inspection.started"}, timeout=60,
                       message=f"{caller}'s feed never showed the start")
        eventually(lambda: c_hook.of_type("inspection.started")
                   and c_planned_hook.of_type("inspection.started"), timeout=60,
                   message="C's webhooks never got the start")
        # The start came after the plan on the same subject: had the plan been sent, it is in.
        for hook in (c_hook, c_planned_hook):
            assert [e["type"] for e in hook.events if e["subject"] == subject] == [
                "inspection.started"]
            assert hook.rejected == []
