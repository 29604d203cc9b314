"""Seed a demo profile straight into the issues service's database, through its own use cases.

    python -m tools.demo.seed --profile zhejiang [--every N]

The province profile is too big to load through the HTTP API on a small machine (about 100,000
imports and 168,000 transitions, one request each). This records the same thing the API would:
each county's list is imported by ``handlers.import_items`` as its county admin (the same item
ids, import record and fingerprint as ``tools.demo.load``'s CSV under the same Idempotency-Key),
then every item is moved by the domain's ``Item.transition`` as the county and the city would,
each change with its history entry and its events, recorded through the repository in batches
(``save_many``: a few inserts per county, not one request per change). Every change is a change
document with its outbox, so the relays publish its events and the inspections copy, the
notifications and the kept figures follow, as after an API load.

A county that already has items is skipped, as in ``tools.demo.load``. The services need not be
running; the relays publish once they are.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import sys
import time
from collections import Counter
from datetime import date, datetime

from services.issues import bootstrap, handlers
from services.issues.api import new_item
from services.issues.domain.model import Item, local_date
from services.issues.repository import ItemFilter, MongoItemRepository, list_items
from shared import divisions, idempotency
from shared.clock import now_ms
from shared.config import Settings
from shared.domain import CITY_ADMIN, COUNTY_ADMIN, Caller
from tools.demo.client import Tokens
from tools.demo.dataset import SEED, DemoItem, build, build_province, by_county
from tools.demo.load import CHINA, PROFILES, county_csv, import_key, moves_to


class _Imported:
    """The repository, keeping the items an import recorded, to move them on."""

    def __init__(self, repo: MongoItemRepository):
        self.repo = repo
        self.items: list[Item] = []

    def claim_import(self, import_id: str, fingerprint: str) -> str | None:
        return self.repo.claim_import(import_id, fingerprint)

    def add_many(self, batch: list[tuple[Item, list[dict]]]) -> None:
        self.repo.add_many(batch)
        self.items = [item for item, _ in batch]


def county_actor(county: str) -> Caller:
    return Caller(sub=Tokens.county_sub(county), role=COUNTY_ADMIN, county=county)


CITY = Caller(sub=Tokens.CITY_SUB, role=CITY_ADMIN)


def seed_county(repo: MongoItemRepository, county: str, items: list[DemoItem], seed: int,
                today: date) -> bool:
    """Import the county's list and move each item to its demo status; False (and nothing
    written) when the county has items already."""
    if list_items(repo.log.current.database, ItemFilter(county=county), today, limit=1)[0]:
        return False
    actor = county_actor(county)
    key = import_key(seed, county, len(items))
    rows = [(row, new_item({"county": i.county, "township": i.township, "village": i.village,
                            "problem": i.problem, "measure": i.measure,
                            "deadline": i.deadline, "responsible": i.responsible,
                            "category": i.category, "public": i.public}))
            for row, i in enumerate(items, 2)]  # row 1 is the header
    imported = _Imported(repo)
    handlers.import_items(
        imported, rows, actor, refused={}, atomic=True,
        id_for_row=lambda row: idempotency.derived_id("issues.import", actor.sub,
                                                      f"{key}\n{row}"),
        import_id=idempotency.derived_id("issues.import", actor.sub, key),
        fingerprint=idempotency.fingerprint(
            {"file": hashlib.sha256(county_csv(items)).hexdigest(), "atomic": True}))
    changes: list[tuple[Item, list[dict]]] = []
    for item, demo in zip(imported.items, items, strict=True):
        for move in moves_to(demo):
            at = now_ms()
            caused = item.transition(move.to, actor=CITY if move.by == "city" else actor,
                                     at=at, reason=move.reason, evidence=list(move.evidence))
            # The state at this version, apart from the item the next move changes.
            changes.append((dataclasses.replace(item, history=list(item.history)),
                            handlers.envelopes(item, caused, local_date(at))))
    if not all(repo.save_many(changes)):
        raise RuntimeError(f"county {county}: a change was refused (another writer?)")
    return True


def seed(settings: Settings, dataset: list[DemoItem], *, every: int = 1,
         seed_number: int = SEED) -> int:
    """Seed ``dataset`` county by county, printing progress; answer the items recorded."""
    repo = bootstrap.build(settings).items
    region = divisions.of(settings)
    today = datetime.now(CHINA).date()
    counties = list(by_county(dataset))
    started, total = time.monotonic(), 0
    for number, (county, items) in enumerate(counties, 1):
        began = time.monotonic()
        items = items[::every]
        name = f"{region.counties[county]} {county}"
        if not seed_county(repo, county, items, seed_number, today):
            print(f"  [{number}/{len(counties)}] {name}: already has items, skipped", flush=True)
            continue
        total += len(items)
        statuses = Counter(i.status for i in items)
        print(f"  [{number}/{len(counties)}] {name}: {len(items)} items, "
              f"{sum(len(moves_to(i)) for i in items)} transitions "
              f"({dict(statuses)}) — {time.monotonic() - began:.1f} s", flush=True)
    print(f"完成 done: {total} items in {time.monotonic() - started:.1f} s", flush=True)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo.seed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=SEED, help="dataset seed")
    parser.add_argument("--profile", choices=PROFILES,
                        default=os.environ.get("DEMO_PROFILE") or "zhejiang",
                        help="zhejiang (default) or shaoxing; default DEMO_PROFILE")
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="only every N-th item of each county's list (default 1: all)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if settings.region != PROFILES[args.profile]:
        parser.error(f"the {args.profile} profile is of the region {PROFILES[args.profile]}; "
                     f"SUPERVISION_REGION={settings.region}")
    today = datetime.now(CHINA).date()
    dataset = (build(today, args.seed) if args.profile == "shaoxing"
               else build_province(divisions.of(settings), today, args.seed))
    print(f"演示数据直接写入 seeding the demo data: {divisions.of(settings).name}, "
          f"{len(dataset)} items", flush=True)
    seed(settings, dataset, every=args.every, seed_number=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
