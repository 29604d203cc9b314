"""Results-filing latency of the inspections service against the real database.

Plans, starts and files ``--runs`` inspections of 50 checks each through the real Flask app
(in-process test client, so the figure is the service and its database, not the network), and
prints p50/p99 of the filing requests. Uses a database of its own and drops it afterwards.

    MONGODB_URI=mongodb://127.0.0.1:27019 .venv/bin/python bench/inspections_filing.py --runs 100
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from services.inspections.app import create_app
from services.inspections.domain.model import CopiedItem
from services.inspections.repository import MongoItemCopy
from shared import mongo
from shared.auth import mint
from shared.config import Settings

TARGET, HOME = "330602", "330603"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--checks", type=int, default=50)
    args = parser.parse_args()
    settings = dataclasses.replace(Settings.from_env(),
                                   database_prefix=f"bench{uuid.uuid4().hex[:8]}")
    app = create_app(settings)
    db = mongo.database(settings, "inspections")
    try:
        print(run(app, db, settings, args.runs, args.checks))
    finally:
        mongo.client(settings.mongodb_uri).drop_database(db.name)


def run(app, db, settings: Settings, runs: int, checks: int) -> str:
    now = datetime.now(UTC)
    copy = MongoItemCopy(db)
    ids = [f"item-{n:03d}" for n in range(checks)]
    for item_id in ids:
        copy.upsert_newer(CopiedItem(
            id=item_id, county=TARGET, township="灵芝镇", village="张市村", problem="问题",
            measure="措施", deadline=date(2026, 6, 30), status="closed", reopen_count=0,
            overdue=False, overdue_count=0, closed_at=now, version=1), now)
    client = app.test_client()
    city = {"Authorization": "Bearer " + mint(settings.jwt_secret, sub="city", role="city_admin")}
    team = {"Authorization": "Bearer " + mint(settings.jwt_secret, sub="wang", role="inspector",
                                              county=HOME)}
    plan = {"target_county": TARGET, "kind": "spot_check",
            "team": [{"sub": "wang", "county": HOME}],
            "window_start": (now - timedelta(hours=1)).isoformat(),
            "window_end": (now + timedelta(days=1)).isoformat(), "item_ids": ids}
    seen = (now - timedelta(minutes=5)).isoformat()
    results = {"checks": [{"item_id": i, "outcome": "fail" if n % 5 == 0 else "pass",
                           "findings": "整改措施未落实" if n % 5 == 0 else None,
                           "evidence": [f"photo:{i}.jpg"], "observed_at": seen}
                          for n, i in enumerate(ids)]}
    latencies = []
    for _ in range(runs):
        planned = client.post("/v1/inspections", json=plan, headers=city)
        assert planned.status_code == 201, planned.get_json()
        inspection_id = planned.get_json()["id"]
        start = client.post(f"/v1/inspections/{inspection_id}/start", headers=team)
        assert start.status_code == 200, start.get_json()
        started = time.perf_counter()
        response = client.post(f"/v1/inspections/{inspection_id}/results", json=results,
                               headers={**team, "Idempotency-Key": inspection_id})
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200, response.get_json()
    cuts = statistics.quantiles(latencies, n=100)
    return (f"{runs} filings of {checks} checks: p50 {cuts[49] * 1000:.1f} ms, "
            f"p99 {cuts[98] * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
