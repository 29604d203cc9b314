"""The key flow under load, through every service and worker as its own process: failed checks
filed at a steady rate, and how long until the item is reopened and until the county's system
hears of it (a signed ``issue.reopened`` webhook on loopback). Counts loss and duplicated
effects, which must both be zero.

    python -m bench.reopen --rates 10,50 --seconds 30 --checks-per-filing 1

Each failed check is one closed item in a started inspection; one filing of results completes
one inspection, so ``--checks-per-filing`` items share an inspection. The items are spread over
``--counties`` counties, each with a county system of its own subscribed to its county's
``issue.reopened`` (one subscriber per county). Filings are sent open-loop (on schedule,
whatever earlier ones are doing), so a slow service shows as latency and backlog, not as a
lower offered rate. Filing to reopen uses the ``issue.reopened`` event's own time; filing to
webhook uses the receiver's clock at arrival (same machine, same clock).

Uses its own databases and topics (prefix ``bench<random>``) and removes the databases after.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from kafka import KafkaAdminClient, KafkaConsumer

from services.inspections.consumer import copied_item
from services.inspections.repository import MongoItemCopy
from services.issues.domain.model import Caller, Item, local_date
from services.issues.repository import MongoItemRepository
from shared import divisions, mongo
from shared.clock import now_ms
from shared.config import Settings
from shared.kafka import ensure_topics
from tests.e2e.conftest import GUNICORN, WEB, WORKERS, Stack, wait_ready
from tests.e2e.flows import ok
from tests.processes import ROOT, Process, environment, free_port, python_module
from tests.receiver import Receiver
from tests.support import eventually

COUNTIES = divisions.of(Settings.from_env()).counties  # the region's (绍兴市 by default)


class Arrivals(list):
    """A receiver's list of verified events, noting when each reopening first arrived (in
    ``at``, shared by every county's receiver) and how often."""

    def __init__(self, at: dict[str, float], times: dict[str, int]):
        super().__init__()
        self.at, self.times = at, times

    def append(self, event: dict) -> None:
        if event["type"] == "issue.reopened":
            self.at.setdefault(event["subject"], time.time())
            self.times[event["subject"]] = self.times.get(event["subject"], 0) + 1
        super().append(event)


class CountySystems:
    """One receiver per county, each subscribed to its own county's reopenings."""

    def __init__(self, stack: Stack, counties: list[str]):
        self.at: dict[str, float] = {}
        self.times: dict[str, int] = {}
        self.receivers = {county: Receiver() for county in counties}
        for county, receiver in self.receivers.items():
            receiver.__enter__()
            receiver.events = Arrivals(self.at, self.times)
            receiver.secret = subscribe(stack, receiver.url, county)

    def close(self) -> None:
        for receiver in self.receivers.values():
            receiver.__exit__()

    def reopened(self) -> dict[str, dict]:
        return {e["subject"]: e for r in self.receivers.values()
                for e in r.of_type("issue.reopened")}

    def rejected(self) -> int:
        return sum(len(r.rejected) for r in self.receivers.values())


def start_stack(settings: Settings, logs: Path) -> Stack:
    """The e2e harness's processes (tests/e2e/conftest.py), outside pytest."""
    ensure_topics(settings, partitions=3)
    ports = {service: free_port() for service in WEB}
    stack = Stack(settings, {s: f"http://127.0.0.1:{p}" for s, p in ports.items()})
    for service in WEB:
        stack.processes[service] = Process(service, [
            GUNICORN, "-c", str(ROOT / "services" / service / "gunicorn.conf.py"),
            "-b", f"127.0.0.1:{ports[service]}", f"services.{service}.app:create_app()"],
            environment(settings, WEB_CONCURRENCY="2"), logs)
    for name, (_, module, args) in WORKERS.items():
        stack.processes[name] = python_module(name, module, *args, env=environment(settings),
                                              log_dir=logs)
    for process in stack.processes.values():
        process.start()
    for service in WEB:
        wait_ready(stack.urls[service], stack.processes[service])
    return stack


def subscribe(stack: Stack, url: str, county: str) -> str:
    """Only ``issue.reopened``: the items prepared for a step must not queue webhooks ahead."""
    answer = requests.post(f"{stack.urls['notifications']}/v1/subscriptions",
                           json={"url": url, "event_types": ["issue.reopened"],
                                 "counties": [county]},
                           headers=stack.token("county_admin", county))
    return ok(answer, 201)["secret"]


def team_for(county: str) -> list[dict]:
    """Two inspectors from another county (rule X: none may inspect their home county)."""
    home = next(code for code in COUNTIES if code != county)
    return [{"sub": f"inspector-{home}-{n}", "county": home} for n in (1, 2)]


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def resident_mb(stack: Stack) -> dict[str, float]:
    """Resident memory of each process with its children (gunicorn workers), in MB."""
    sizes = {}
    for name, process in stack.processes.items():
        out = subprocess.run(["ps", "-o", "rss=", "--sid", str(process.popen.pid)],
                             capture_output=True, text=True).stdout
        sizes[name] = round(sum(int(kb) for kb in out.split()) / 1024, 1)
    return sizes


def in_parallel(work: Callable, args: list, workers: int = 8) -> list:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(work, args))


Filing = tuple[str, str, list[str]]  # inspection id, target county, item ids


PREPARED_AT_ONCE = 1000


def closed_items(settings: Settings, counties: list[str], count: int, per_filing: int, *,
                 first: int = 0) -> list[tuple[str, str]]:
    """``count`` closed items, ``per_filing`` of a county at a time, the counties in turn:
    decided by the issues domain and written in bulk through its repository (as an import
    is), and the inspections service's copy of each written as its consumer would keep it.
    No event of the preparation is published: through the API and the pipeline (four requests
    an item, their events through every consumer) 6,000 items took longer to prepare on this
    shared machine than the whole run may; what is measured starts afterwards."""
    repo = MongoItemRepository(mongo.database(settings, "issues"))
    copies = MongoItemCopy(mongo.database(settings, "inspections"))
    at = now_ms()
    today = local_date(at)
    city = Caller("city_admin@city", "city_admin")
    made, batch = [], []
    for n in range(count):
        county = counties[(first + n) // per_filing % len(counties)]
        admin = Caller(f"county_admin@{county}", "county_admin", county)
        item, _ = Item.create(id=str(uuid.uuid4()), actor=admin, at=at, county=county,
                              township="城关镇", village="东村", problem="三会一课制度落实不到位",
                              measure="建立三会一课台账,每月公示",
                              deadline=today + timedelta(days=60), public=True)
        item.transition("in_progress", actor=admin, at=at, reason="开始整改")
        item.transition("pending_verification", actor=admin, at=at, reason="整改完成",
                        evidence=["台账照片-01.jpg"])
        item.transition("closed", actor=city, at=at, reason="核查销号")
        batch.append((item, []))
        made.append((county, item.id))
    for start in range(0, len(batch), 1000):
        repo.add_many(batch[start:start + 1000])
    in_parallel(lambda done: copies.upsert_newer(copied_item(done[0].snapshot(today)), at),
                batch)
    return made


def prepare(stack: Stack, filings: int, per_filing: int, counties: list[str]) -> list[Filing]:
    """Started inspections, each of ``per_filing`` closed items of one county, the counties
    taken in turn."""

    def started_inspection(group: list[tuple[str, str]]) -> Filing:
        county, item_ids = group[0][0], [item_id for _, item_id in group]
        team = team_for(county)
        now = datetime.now(UTC)
        body = {"target_county": county, "kind": "spot_check", "team": team,
                "window_start": (now - timedelta(hours=1)).isoformat(),
                "window_end": (now + timedelta(days=2)).isoformat(), "item_ids": item_ids}
        # The inspections service learns of items from events: it may be a moment behind.
        inspection = eventually(lambda: (a := requests.post(
            f"{stack.urls['inspections']}/v1/inspections", json=body,
            headers=stack.token("city_admin"))).status_code == 201 and a.json(),
            timeout=120, interval=0.5, message="an inspection could not be planned")
        ok(requests.post(
            f"{stack.urls['inspections']}/v1/inspections/{inspection['id']}/start",
            headers=stack.token("inspector", team[0]["county"], team[0]["sub"])))
        return inspection["id"], county, item_ids

    prepared: list[Filing] = []
    lot = max(per_filing, PREPARED_AT_ONCE // per_filing * per_filing)
    for start in range(0, filings * per_filing, lot):
        count = min(lot, filings * per_filing - start)
        items = closed_items(stack.settings, counties, count, per_filing, first=start)
        groups = [items[n:n + per_filing] for n in range(0, len(items), per_filing)]
        prepared += in_parallel(started_inspection, groups)
    return prepared


def file_failures(stack: Stack, filing: Filing) -> None:
    inspection_id, county, item_ids = filing
    inspector = team_for(county)[0]
    now = datetime.now(UTC).isoformat()
    body = {"checks": [{"item_id": i, "outcome": "fail", "findings": "整改不到位",
                        "evidence": ["现场照片-01.jpg"], "observed_at": now} for i in item_ids],
            "new_problems": []}
    ok(requests.post(
        f"{stack.urls['inspections']}/v1/inspections/{inspection_id}/results", json=body,
        headers={**stack.token("inspector", inspector["county"], inspector["sub"]),
                 "Idempotency-Key": inspection_id}, timeout=120))


def effects(settings: Settings, item_ids: list[str]) -> dict[str, int]:
    """What the filed checks did to their items, read from the issues database at the end:
    items not reopened, and items reopened more than once (a duplicated effect)."""
    items = mongo.database(settings, "issues")["items"]
    wanted = set(item_ids)
    found = {}
    for county in COUNTIES:  # top-level equalities, which FerretDB hands to PostgreSQL
        for doc in items.find({"county": county}, {"status": 1, "reopen_count": 1}):
            if doc["_id"] in wanted:
                found[doc["_id"]] = doc
    return {"not_reopened": sum(1 for i in item_ids
                                if found.get(i, {}).get("status") != "reopened"),
            "reopened_twice": sum(1 for i in item_ids
                                  if found.get(i, {}).get("reopen_count", 0) > 1)}


def wait_for_quiet(settings: Settings, timeout: float = 600) -> None:
    """Until every consumer group has read all there is: the events of preparing a step must
    not queue ahead of the step's own (the notifications consumer reads every event)."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    reader = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    groups = [f"{settings.topic_prefix}{service}-consumer" for service in WEB]

    def backlog() -> int:
        committed = {tp: meta.offset for group in groups
                     for tp, meta in admin.list_consumer_group_offsets(group).items()
                     if not tp.topic.endswith(".dlq")}
        ends = reader.end_offsets(list(committed))
        return sum(ends[tp] - offset for tp, offset in committed.items())

    try:  # twice in a row: a relay may still be publishing what was written last
        eventually(lambda: backlog() == 0 and time.sleep(1) is None and backlog() == 0,
                   timeout=timeout, interval=1.0, message="the consumers did not catch up")
    finally:
        admin.close()
        reader.close()


def quantiles_ms(values: list[float]) -> dict[str, int | None]:
    if len(values) < 2:
        return {"p50": None, "p95": None, "p99": None}
    cut = statistics.quantiles(values, n=100)
    return {"p50": round(cut[49] * 1000), "p95": round(cut[94] * 1000),
            "p99": round(cut[98] * 1000)}


def step(stack: Stack, systems: CountySystems, rate: float, seconds: float, per_filing: int,
         drain: float, counties: list[str]) -> dict:
    filings = max(1, round(rate * seconds / per_filing))
    prepared = prepare(stack, filings, per_filing, counties)
    wait_for_quiet(stack.settings)
    load_at_start = load()
    filed_at: dict[str, float] = {}
    failed_requests: list[str] = []
    answered_in: list[float] = []
    rss_peak: dict[str, float] = {}

    def file(filing: Filing) -> None:
        item_ids = filing[2]
        sent = time.time()
        try:
            file_failures(stack, filing)
        except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
            failed_requests.append(str(exc)[:200])
            return
        answered_in.append(time.time() - sent)
        for item_id in item_ids:
            filed_at[item_id] = sent

    def sample_memory(until: threading.Event) -> None:
        # In a thread of its own: ten `ps` calls on a busy machine would delay the schedule.
        while not until.wait(1.0):
            for name, mb in resident_mb(stack).items():
                rss_peak[name] = max(mb, rss_peak.get(name, 0.0))

    done = threading.Event()
    sampler = threading.Thread(target=sample_memory, args=(done,), daemon=True)
    sampler.start()
    started = time.time()
    with ThreadPoolExecutor(64) as pool:
        for n, inspection in enumerate(prepared):
            time.sleep(max(0.0, started + n * per_filing / rate - time.time()))
            pool.submit(file, inspection)
        offered_seconds = max(time.time() - started, 1e-9)
    load_at_offered = load()
    arrived = systems.at

    def all_heard() -> bool:
        return all(item_id in arrived for item_id in filed_at)

    with contextlib.suppress(AssertionError):  # what never arrived is reported as loss
        eventually(all_heard, timeout=drain)
    done.set()
    sampler.join()
    reopened_events = systems.reopened()
    to_reopen = [datetime.fromisoformat(reopened_events[i]["time"]).timestamp() - at
                 for i, at in filed_at.items() if i in reopened_events]
    to_webhook = [arrived[i] - at for i, at in filed_at.items() if i in arrived]
    last = max((arrived[i] for i in filed_at if i in arrived), default=started)
    return {
        "target_checks_per_s": rate, "checks": len(filed_at) + len(failed_requests) * per_filing,
        "counties": len(counties), "checks_per_filing": per_filing,
        "offered_checks_per_s": round(len(prepared) * per_filing / offered_seconds, 1),
        "heard_checks_per_s": round(len(to_webhook) / max(last - started, 1e-9), 1),
        "last_webhook_after_s": round(last - started, 1),
        "filing_errors": len(failed_requests), **effects(stack.settings, list(filed_at)),
        "not_heard": len(filed_at) - len(to_webhook),
        "heard_twice": sum(1 for i in filed_at if systems.times.get(i, 0) > 1),
        "filing_request_ms": quantiles_ms(answered_in),
        "filing_to_reopen_ms": quantiles_ms(to_reopen),
        "filing_to_webhook_ms": quantiles_ms(to_webhook),
        "load_average": {"start": load_at_start, "end_of_filing": load_at_offered,
                         "end": load()},
        "rss_peak_mb": rss_peak, "rss_after_mb": resident_mb(stack),
        "errors_sample": failed_requests[:3],
    }


def run(settings: Settings, rates: list[float], seconds: float, per_filing: int,
        drain: float, counties: list[str]) -> dict:
    logs = Path(tempfile.mkdtemp(prefix="bench-reopen-"))
    stack = start_stack(settings, logs)
    systems = None
    try:
        systems = CountySystems(stack, counties)
        time.sleep(5)  # a moment for the workers to settle before memory at rest is read
        report = {"logs": str(logs), "rss_at_rest_mb": resident_mb(stack),
                  "load_average_at_rest": load(), "steps": []}
        for rate in rates:
            report["steps"].append(step(stack, systems, rate, seconds, per_filing, drain,
                                        counties))
            print(json.dumps(report["steps"][-1], ensure_ascii=False), flush=True)
        report["webhooks_rejected"] = systems.rejected()
        return report
    finally:
        if systems is not None:
            systems.close()
        for process in stack.processes.values():
            process.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reopen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="10,50",
                        help="failed checks per second, one step each (e.g. 10,50,200)")
    parser.add_argument("--seconds", type=float, default=30, help="length of each step")
    parser.add_argument("--checks-per-filing", type=int, default=1)
    parser.add_argument("--counties", type=int, default=len(COUNTIES),
                        help="counties the items are spread over, one subscriber each")
    parser.add_argument("--drain", type=float, default=300,
                        help="seconds to wait after a step for every webhook to arrive")
    args = parser.parse_args(argv)
    # A bounded run (timeout) stops with SIGTERM: stop the processes on the way out too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run_id = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(Settings.from_env(), database_prefix=f"bench{run_id}",
                                   topic_prefix=f"bench{run_id}.",
                                   webhook_allowed_hosts=("127.0.0.1",))
    try:
        report = run(settings, [float(r) for r in args.rates.split(",")], args.seconds,
                     args.checks_per_filing, args.drain, list(COUNTIES)[:args.counties])
        print(json.dumps(report, ensure_ascii=False, indent=2))
    finally:
        client = mongo.client(settings.mongodb_uri)
        for name in client.list_database_names():
            if name.startswith(settings.database_prefix + "_"):
                client.drop_database(name)


if __name__ == "__main__":
    main()
