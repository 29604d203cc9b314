"""Read and write latency of the issues service at size, and the import time of the seed
city's list.

Loads ``--items`` items (default 100,000) spread over the nine counties straight into a database
of its own, then asks ``GET /v1/items`` ``--runs`` times for each filter through the real Flask
app (in-process test client: the service and its database, not the network) and prints p50/p99.
The items are loaded without their events, so the kept figures are then counted from them as
``python -m services.issues.figures rebuild`` does (timed). Then ``--clients`` clients at once
each make ``--runs`` calls of: one item by id, a transition (open -> in_progress, by the item's
county), the ledger, the ranking and the dashboard; beside them, the raw pymongo reads they rest
on, in the same run: one item by id, and every kept tally. Then imports Shaoxing's 3,272-row
list (tools/demo/dataset.py) as one CSV and prints the time (``--no-import`` skips it;
``--filters`` names the list filters to time, default all). Drops its database afterwards.

    MONGODB_URI=mongodb://127.0.0.1:27019 .venv/bin/python -m bench.issues_list --items 100000
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import random
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

from services.issues.app import create_app
from services.issues.domain.model import Caller, Item, local_date
from services.issues.importing import COLUMNS
from services.issues.repository import MongoFigures, MongoItemRepository
from shared import divisions, mongo
from shared.auth import mint
from shared.clock import now_ms
from shared.config import Settings
from tools.demo.dataset import build

TODAY = date.today()
FILTERS = {
    "no filter": {},
    "county": {"county": "330603"},
    "county+status": {"county": "330603", "status": "in_progress"},
    "township+village": {"county": "330602", "township": "灵芝镇", "village": "第7村"},
    "status": {"status": "pending_verification"},
    "overdue": {"overdue": "true"},
    "category": {"category": "软弱落后"},
    "q (text)": {"q": "承诺书"},
    "deadline_before": {"deadline_before": (TODAY - timedelta(days=30)).isoformat()},
    "updated_since": {"updated_since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
    "second page": None,  # the page after the first of "county", by its cursor
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--filters", default=",".join(FILTERS),
                        help="comma-separated names of the list filters to time")
    parser.add_argument("--no-import", action="store_true")
    args = parser.parse_args()
    settings = dataclasses.replace(Settings.from_env(),
                                   database_prefix=f"bench{uuid.uuid4().hex[:8]}")
    app = create_app(settings)
    db = mongo.database(settings, "issues")
    try:
        started = time.perf_counter()
        load(MongoItemRepository(db), args.items)
        print(f"loaded {args.items} items in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        store = MongoFigures(db)
        store.rebuild(lambda item_id: hash(item_id) % settings.kafka_partitions)
        print(f"figures counted from the items in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        store.summarise(local_date(now_ms()))  # as the figures process does, every 5 s
        print(f"summaries from the tallies in {time.perf_counter() - started:.2f} s")
        client = app.test_client()
        city = {"Authorization": "Bearer " + mint(settings.jwt_secret, sub="city",
                                                  role="city_admin")}
        print(f"{'GET /v1/items filter':<22}{'p50 ms':>10}{'p99 ms':>10}{'rows':>7}")
        # A request that fails (a 503 when the database does not answer within the client's
        # 30 s) is reported on its row, and the run goes on with the next.
        for name, query in FILTERS.items():
            if name not in args.filters.split(","):
                continue
            try:
                p50, p99, rows = measure(client, city, name, query, args.runs)
            except AssertionError as failure:
                print(f"{name:<22}  failed: {str(failure)[:120]}")
                continue
            print(f"{name:<22}{p50:>10.1f}{p99:>10.1f}{rows:>7}")
        print(f"\n{args.clients} clients at once, {args.runs} calls each")
        print(f"{'call':<22}{'p50 ms':>10}{'p99 ms':>10}{'calls':>7}")
        for name, call in calls(app, settings, db, args.clients * args.runs).items():
            try:
                p50, p99, count = concurrently(call, args.clients, args.runs)
            except AssertionError as failure:
                print(f"{name:<22}  failed: {str(failure)[:120]}")
                continue
            print(f"{name:<22}{p50:>10.1f}{p99:>10.1f}{count:>7}")
        for name, call in raw_reads(db, args.clients * args.runs).items():
            p50, p99, count = concurrently(call, args.clients, args.runs)
            print(f"{name:<22}{p50:>10.1f}{p99:>10.1f}{count:>7}")
        if not args.no_import:
            seconds, created = import_seed_list(client, city)
            print(f"import of the 3,272-row list (CSV): {seconds:.1f} s, {created} created")
    finally:
        mongo.client(settings.mongodb_uri).drop_database(db.name)


def load(repo: MongoItemRepository, count: int) -> None:
    rng = random.Random(2016)
    codes = list(divisions.current().counties)
    statuses = ["open", "in_progress", "pending_verification", "closed", "reopened"]
    city = Caller("bench", "city_admin")
    created = datetime.now(UTC) - timedelta(days=200)
    batch = []
    for n in range(count):
        item, _ = Item.create(
            id=str(uuid.uuid4()), actor=city, at=created + timedelta(seconds=n),
            county=rng.choice(codes), township=rng.choice(["灵芝镇", "钱清镇", "东关街道"]),
            village=f"第{rng.randrange(300)}村", problem=rng.choice(
                ["党员不配合无违建村创建", "三会一课制度落实不到位", "村务公开不及时"]),
            measure=rng.choice(["写出承诺书并公示", "建立台账每月公示", "按月公开村务"]),
            deadline=TODAY + timedelta(days=rng.randrange(-120, 120)),
            category=rng.choice(["软弱落后", "组织建设", None]), public=rng.random() < 0.3)
        item.status = rng.choice(statuses)
        batch.append((item, []))
        if len(batch) == 5000:
            repo.add_many(batch)
            batch = []
    repo.add_many(batch)


def measure(client, headers: dict, name: str, query: dict | None,
            runs: int) -> tuple[float, float, int]:
    if query is None:
        first = client.get("/v1/items", query_string=FILTERS["county"], headers=headers)
        query = {**FILTERS["county"], "cursor": first.get_json()["next_cursor"]}
    times, rows = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get("/v1/items", query_string=query, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        rows = len(answer.get_json()["items"])
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))], rows


def calls(app, settings: Settings, db, count: int) -> dict:
    """What each client does, by name: call(n) makes the n-th call and checks its answer."""
    found = db.items.find({"status": "open"}, {"county": 1, "version": 1}).limit(count)
    opened = [(doc["_id"], doc["county"], doc["version"]) for doc in found]
    city = {"Authorization": "Bearer " + mint(settings.jwt_secret, sub="city", role="city_admin")}
    local = threading.local()

    def client():
        if not hasattr(local, "client"):
            local.client = app.test_client()
        return local.client

    def get(n: int) -> int:
        return client().get(f"/v1/items/{opened[n % len(opened)][0]}", headers=city).status_code

    def transition(n: int) -> int:
        item_id, county, version = opened[n]
        token = mint(settings.jwt_secret, sub=f"admin-{county}", role="county_admin",
                     county=county)
        return client().post(f"/v1/items/{item_id}/transitions", json={"to": "in_progress"},
                             headers={"Authorization": f"Bearer {token}",
                                      "If-Match": f'"{version}"'}).status_code

    return {"get by id": get, "transition": transition,
            "ledger": lambda _: client().get("/v1/ledger", headers=city).status_code,
            "ranking": lambda _: client().get("/v1/ranking", headers=city).status_code,
            "dashboard": lambda _: client().get("/dashboard").status_code}


def raw_reads(db, count: int) -> dict:
    """The database reads under those calls, by pymongo alone: the limit they can approach."""
    ids = [doc["_id"] for doc in db.items.find({}, {"_id": 1}).limit(count)]

    def one_item(n: int) -> int:
        assert db.items.find_one({"_id": ids[n % len(ids)]}) is not None
        return 200

    def summaries(_: int) -> int:
        assert db.figures_summaries.find_one({"_id": "region"}) is not None
        return 200

    return {"raw: item by id": one_item, "raw: the summaries": summaries}


def concurrently(call, clients: int, runs: int) -> tuple[float, float, int]:
    def timed(n: int) -> float:
        started = time.perf_counter()
        status = call(n)
        assert status == 200, status
        return (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(clients) as pool:
        times = sorted(pool.map(timed, range(clients * runs)))
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))], len(times)


def import_seed_list(client, headers: dict) -> tuple[float, int]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for item in build(TODAY):
        writer.writerow([item.county, item.township, item.village, item.problem, item.measure,
                         item.deadline.isoformat(), item.responsible, item.category,
                         "是" if item.public else "否"])
    started = time.perf_counter()
    answer = client.post("/v1/items/import", data=buffer.getvalue().encode(),
                         content_type="text/csv", headers=headers)
    seconds = time.perf_counter() - started
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return seconds, answer.get_json()["created"]


if __name__ == "__main__":
    main()
