"""Load the demo city into a running issues service, through its public API only.

    python -m tools.demo.load --issues http://127.0.0.1:8001 [--profile zhejiang]

The profile (``--profile`` or ``DEMO_PROFILE``) is the demo city, ``shaoxing`` (3,272 items), or
``zhejiang``, about 100,000 items over the province's 90 counties; the services must supervise
its region (``SUPERVISION_REGION`` 330600 or 330000).

Each county's list is imported as CSV by that county's admin (POST /v1/items/import), then the
items are driven to their statuses the way people would: the county starts and submits
(with evidence), the city verifies and crosses off (销号). A county that already has items is
skipped, so ``make run`` may call this on every start and only the first start loads.
``--direct`` records the same items and changes through the service's use cases straight into
its database instead (tools/demo/seed.py), for the zhejiang profile.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from shared import divisions
from shared.config import Settings
from tools.demo.client import ApiFailure, DemoError, Service, Tokens, wait_ready
from tools.demo.dataset import (
    CLOSED,
    IN_PROGRESS,
    PENDING,
    SEED,
    DemoItem,
    build,
    build_province,
    by_county,
)

COLUMNS = ("县区代码", "乡镇街道", "村社区", "存在问题", "整改措施", "完成时间", "责任人", "类别",
           "公示")
CHINA = timezone(timedelta(hours=8))
STALE_RETRIES = 3  # another writer (the overdue scan) may bump an item between GET and POST
PROFILES = {"shaoxing": "330600", "zhejiang": "330000"}  # profile -> the region it is of


@dataclass(frozen=True)
class Move:
    """One transition: its body, and whether the county or the city makes it."""

    to: str
    by: str  # "county" or "city"
    reason: str
    evidence: tuple[str, ...] = ()

    def body(self) -> dict:
        return {"to": self.to, "reason": self.reason, "evidence": list(self.evidence)}


def county_csv(items: list[DemoItem]) -> bytes:
    """The county's problem list in the import format of docs/api.md (row 2 is ``items[0]``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for i in items:
        writer.writerow((i.county, i.township, i.village, i.problem, i.measure,
                         i.deadline.isoformat(), i.responsible, i.category,
                         "是" if i.public else "否"))
    return out.getvalue().encode("utf-8")


def import_key(seed: int, county: str, size: int) -> str:
    """The Idempotency-Key of a county's import: the same list sent again adds nothing."""
    return f"demo-load-{seed}-{county}-{size}"


def moves_to(item: DemoItem) -> list[Move]:
    """The lifecycle moves, in order, from ``open`` to the item's demo status."""
    path = [
        Move(IN_PROGRESS, "county", "已制定整改方案,开始整改"),
        Move(PENDING, "county", "整改完成,申请验收销号", (f"{item.village}:{item.evidence}",)),
        Move(CLOSED, "city", "经核查整改到位,予以销号"),
    ]
    steps = {"open": 0, IN_PROGRESS: 1, PENDING: 2, CLOSED: 3}[item.status]
    return path[:steps]


class Loader:
    def __init__(self, issues: Service, tokens: Tokens, workers: int,
                 names: dict[str, str]):
        self.issues = issues
        self.names = names  # county code -> name
        self.tokens = tokens
        self.workers = workers
        self.city = tokens.city()

    def has_items(self, county: str) -> bool:
        page = self.issues.call("GET", "/v1/items", self.tokens.county_admin(county),
                                params={"county": county, "limit": 1}).json()
        return bool(page["items"])

    def import_list(self, county: str, items: list[DemoItem], key: str) -> list[str]:
        """Import all or nothing; the ids in the order of ``items``."""
        report = self.issues.call(
            "POST", "/v1/items/import", self.tokens.county_admin(county),
            params={"atomic": "true"}, data=county_csv(items),
            headers={"Content-Type": "text/csv; charset=utf-8", "Idempotency-Key": key}).json()
        ids = {r["row"]: r["id"] for r in report["results"] if r["status"] == "created"}
        if len(ids) != len(items):
            raise DemoError(f"Import of {self.names[county]} created {len(ids)} of {len(items)} "
                            f"items: {report['results'][:3]}")
        return [ids[row] for row in range(2, len(items) + 2)]  # row 1 is the header

    def drive(self, item_id: str, item: DemoItem) -> None:
        """Make the item's moves, each with If-Match on the version the last answer gave."""
        county_token = self.tokens.county_admin(item.county)
        status, etag = self._state(item_id, county_token)
        for move in moves_to(item):
            token = self.city if move.by == "city" else county_token
            for attempt in range(STALE_RETRIES + 1):
                try:
                    response = self.issues.call(
                        "POST", f"/v1/items/{item_id}/transitions", token, json=move.body(),
                        headers={"If-Match": etag})
                    etag = response.headers["ETag"]
                    break
                except (ApiFailure, DemoError) as exc:
                    # A stale version (412), or no answer in time on a busy machine: read the
                    # item again; the move may have been made before the answer was lost.
                    if getattr(exc, "status", None) not in (412, None) or attempt == STALE_RETRIES:
                        raise
                    status, etag = self._state(item_id, county_token)
                    if status == move.to:
                        break

    def _state(self, item_id: str, token: str) -> tuple[str, str]:
        response = self.issues.call("GET", f"/v1/items/{item_id}", token)
        return response.json()["status"], response.headers["ETag"]

    def load_county(self, county: str, items: list[DemoItem], seed: int) -> str:
        """Import and drive one county; the progress line to show."""
        started = time.monotonic()
        name = f"{self.names[county]} {county}"
        if self.has_items(county):
            return f"  {name}: already has items, skipped"
        ids = self.import_list(county, items, key=import_key(seed, county, len(items)))
        imported = time.monotonic() - started
        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(self.drive, ids, items))  # list() re-raises a worker's failure
        statuses = Counter(i.status for i in items)
        return (f"  {name}: {len(items)} items imported in {imported:.1f} s; "
                f"开始整改 in_progress {statuses[IN_PROGRESS]}, "
                f"待验收 pending {statuses[PENDING]}, 已销号 closed {statuses[CLOSED]}, "
                f"未启动 open {statuses['open']} — {time.monotonic() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issues", default="http://127.0.0.1:8001", help="issues service URL")
    parser.add_argument("--seed", type=int, default=SEED, help="dataset seed")
    parser.add_argument("--profile", choices=PROFILES,
                        default=os.environ.get("DEMO_PROFILE") or "shaoxing",
                        help="shaoxing (the demo city) or zhejiang (the province at scale); "
                             "default DEMO_PROFILE, else shaoxing")
    parser.add_argument("--workers", type=int, default=8, help="parallel transitions")
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="load only every N-th item of each county's list (default 1: all "
                             "3,272), for a database too slow for the real size")
    parser.add_argument("--direct", action="store_true",
                        help="record the items through the issues service's own use cases "
                             "straight into its database (tools.demo.seed), not over HTTP: "
                             "minutes, not hours, for the zhejiang profile")
    parser.add_argument("--ready-timeout", type=float, default=120,
                        help="seconds to wait for the service's /readyz")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if settings.region != PROFILES[args.profile]:
        parser.error(f"the {args.profile} profile is of the region {PROFILES[args.profile]}; "
                     f"the services supervise SUPERVISION_REGION={settings.region}")
    region = divisions.of(settings)
    issues = Service("issues", args.issues)
    loader = Loader(issues, Tokens(settings), args.workers, region.counties)
    today = datetime.now(CHINA).date()
    started = time.monotonic()
    dataset = (build(today, args.seed) if args.profile == "shaoxing"
               else build_province(region, today, args.seed))
    if args.direct:
        from tools.demo import seed  # it builds on this module

        seed.seed(settings, dataset, every=args.every, seed_number=args.seed)
        return 0
    try:
        wait_ready([issues], args.ready_timeout)
        print(f"载入演示数据 loading the demo data: {region.name}, {len(dataset)} items, "
              f"{today.isoformat()}", flush=True)
        counties = list(by_county(dataset))
        for number, (county, items) in enumerate(counties, 1):
            # The county's place in the load, so that the console shows how far it has come.
            line = loader.load_county(county, items[::args.every], args.seed)
            print(f"  [{number}/{len(counties)}] {line.strip()}", flush=True)
    except DemoError as exc:
        print(f"载入失败 loading failed: {exc}", file=sys.stderr)
        return 1
    print(f"完成 done in {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
