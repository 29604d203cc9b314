"""The key flow under load, through every service and worker as its own process: failed checks
filed at a steady rate, and how long until the item is reopened and until the county's system
hears of it (a signed ``issue.reopened`` webhook on loopback). Counts loss, which must be zero.

    python -m bench.reopen --rates 10,50 --seconds 30 --checks-per-filing 1

Each failed check is one closed item in a started inspection; one filing of results completes
one inspection, so ``--checks-per-filing`` items share an inspection. Filings are sent open-loop
(on schedule, whatever earlier ones are doing), so a slow service shows as latency and backlog,
not as a lower offered rate. Filing to reopen uses the ``issue.reopened`` event's own time;
filing to webhook uses the receiver's clock at arrival (same machine, same clock).

Uses its own databases and topics (prefix ``bench<random>``) and removes the databases after.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import requests
from kafka import KafkaAdminClient, KafkaConsumer

from shared import mongo
from shared.config import Settings
from shared.kafka import ensure_topics
from tests.e2e.conftest import GUNICORN, WEB, WORKERS, Stack, wait_ready
from tests.e2e.flows import (
    KEQIAO,
    close_item,
    create_item,
    file_results,
    get_item,
    ok,
    plan_inspection,
    start_inspection,
)
from tests.processes import ROOT, Process, environment, free_port, python_module
from tests.receiver import Receiver
from tests.support import eventually


class Arrivals(list):
    """The receiver's list of verified events, noting when each one was appended."""

    def __init__(self):
        super().__init__()
        self.at: dict[str, float] = {}

    def append(self, event: dict) -> None:
        if event["type"] == "issue.reopened":
            self.at.setdefault(event["subject"], time.time())
        super().append(event)


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


def subscribe(stack: Stack, url: str) -> str:
    """Only ``issue.reopened``: the items prepared for a step must not queue webhooks ahead."""
    answer = requests.post(f"{stack.urls['notifications']}/v1/subscriptions",
                           json={"url": url, "event_types": ["issue.reopened"],
                                 "counties": [KEQIAO]},
                           headers=stack.token("county_admin", KEQIAO))
    return ok(answer, 201)["secret"]


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


def prepare(stack: Stack, filings: int, per_filing: int) -> list[tuple[str, list[str]]]:
    """Started inspections, each of ``per_filing`` closed items: (inspection id, item ids)."""
    def closed_item(_: int) -> str:
        item = create_item(stack)
        close_item(stack, item)
        return item["id"]

    def started_inspection(item_ids: list[str]) -> tuple[str, list[str]]:
        inspection = plan_inspection(stack, item_ids)
        start_inspection(stack, inspection["id"])
        return inspection["id"], item_ids

    items = in_parallel(closed_item, range(filings * per_filing))
    groups = [items[n:n + per_filing] for n in range(0, len(items), per_filing)]
    return in_parallel(started_inspection, groups)


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


def step(stack: Stack, receiver: Receiver, rate: float, seconds: float, per_filing: int,
         drain: float) -> dict:
    filings = max(1, round(rate * seconds / per_filing))
    prepared = prepare(stack, filings, per_filing)
    wait_for_quiet(stack.settings)
    filed_at: dict[str, float] = {}
    failed_requests: list[str] = []
    answered_in: list[float] = []
    rss_peak: dict[str, float] = {}

    def file(inspection: tuple[str, list[str]]) -> None:
        inspection_id, item_ids = inspection
        sent = time.time()
        try:
            file_results(stack, inspection_id, [
                {"item_id": i, "outcome": "fail", "findings": "整改不到位"} for i in item_ids],
                key=inspection_id)
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

    def all_heard() -> bool:
        return all(item_id in receiver.events.at for item_id in filed_at)

    with contextlib.suppress(AssertionError):  # what never arrived is reported as loss
        eventually(all_heard, timeout=drain)
    done.set()
    sampler.join()
    reopened_events = {e["subject"]: e for e in receiver.of_type("issue.reopened")}
    to_reopen = [datetime.fromisoformat(reopened_events[i]["time"]).timestamp() - at
                 for i, at in filed_at.items() if i in reopened_events]
    to_webhook = [receiver.events.at[i] - at for i, at in filed_at.items()
                  if i in receiver.events.at]
    last = max((receiver.events.at[i] for i in filed_at if i in receiver.events.at),
               default=started)
    not_reopened = sum(1 for i in filed_at if get_item(stack, i)["status"] != "reopened")
    return {
        "target_checks_per_s": rate, "checks": len(filed_at) + len(failed_requests) * per_filing,
        "offered_checks_per_s": round(len(prepared) * per_filing / offered_seconds, 1),
        "heard_checks_per_s": round(len(to_webhook) / max(last - started, 1e-9), 1),
        "filing_errors": len(failed_requests), "not_reopened": not_reopened,
        "not_heard": len(filed_at) - len(to_webhook),
        "filing_request_ms": quantiles_ms(answered_in),
        "filing_to_reopen_ms": quantiles_ms(to_reopen),
        "filing_to_webhook_ms": quantiles_ms(to_webhook), "rss_peak_mb": rss_peak,
        "errors_sample": failed_requests[:3],
    }


def run(settings: Settings, rates: list[float], seconds: float, per_filing: int,
        drain: float) -> dict:
    logs = Path(tempfile.mkdtemp(prefix="bench-reopen-"))
    stack = start_stack(settings, logs)
    try:
        with Receiver() as county_system:
            county_system.events = Arrivals()
            county_system.secret = subscribe(stack, county_system.url)
            time.sleep(5)  # a moment for the workers to settle before memory at rest is read
            report = {"logs": str(logs), "rss_at_rest_mb": resident_mb(stack), "steps": []}
            for rate in rates:
                report["steps"].append(step(stack, county_system, rate, seconds, per_filing,
                                            drain))
                print(json.dumps(report["steps"][-1], ensure_ascii=False), flush=True)
            report["webhooks_rejected"] = len(county_system.rejected)
            return report
    finally:
        for process in stack.processes.values():
            process.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reopen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="10,50",
                        help="failed checks per second, one step each (e.g. 10,50,200)")
    parser.add_argument("--seconds", type=float, default=30, help="length of each step")
    parser.add_argument("--checks-per-filing", type=int, default=1)
    parser.add_argument("--drain", type=float, default=300,
                        help="seconds to wait after a step for every webhook to arrive")
    args = parser.parse_args(argv)
    run_id = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(Settings.from_env(), database_prefix=f"bench{run_id}",
                                   topic_prefix=f"bench{run_id}.",
                                   webhook_allowed_hosts=("127.0.0.1",))
    try:
        report = run(settings, [float(r) for r in args.rates.split(",")], args.seconds,
                     args.checks_per_filing, args.drain)
        print(json.dumps(report, ensure_ascii=False, indent=2))
    finally:
        client = mongo.client(settings.mongodb_uri)
        for name in client.list_database_names():
            if name.startswith(settings.database_prefix + "_"):
                client.drop_database(name)


if __name__ == "__main__":
    main()
