"""The demo seed (tools/demo/seed.py) on the real database: a slice of the zhejiang profile
recorded straight through the use cases holds the same items, changes and outbox events as the
same slice loaded through the API (tools/demo/load.py's import and transitions)."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime

from services.issues.app import create_app
from services.issues.repository import MongoItemRepository
from shared import divisions, mongo
from tests.integration.issues.conftest import Caller
from tools.demo import seed
from tools.demo.client import Tokens
from tools.demo.dataset import SEED, build_province, by_county
from tools.demo.load import CHINA, county_csv, import_key, moves_to

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def comparable(value):
    """A change as both paths write it, less what differs by when it was made (times) and the
    events' own ids."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in ("id", "time")
                or not isinstance(v, str)}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if isinstance(value, datetime) or (isinstance(value, str) and TIME.match(value)):
        return "<time>"
    return value


def test_a_seeded_slice_is_what_the_api_records(settings, monkeypatch):
    monkeypatch.setenv("SUPERVISION_REGION", "330000")  # divisions.current() outside an app
    region_settings = dataclasses.replace(settings, region="330000")
    today = datetime.now(CHINA).date()
    county, items = next(by_county(build_province(divisions.of(region_settings), today)))
    items = items[::40]
    assert {i.status for i in items} >= {"open", "in_progress", "pending_verification", "closed"}

    # The API path, as tools/demo/load.py drives it.
    app = create_app(region_settings)
    client = app.test_client()
    county_admin = Caller(client, region_settings, "county_admin", county,
                          sub=Tokens.county_sub(county))
    city = Caller(client, region_settings, "city_admin", sub=Tokens.CITY_SUB)
    answer = county_admin.post("/v1/items/import?atomic=true", data=county_csv(items),
                               headers={"Content-Type": "text/csv; charset=utf-8",
                                        "Idempotency-Key": import_key(SEED, county, len(items))})
    assert answer.status_code == 200, answer.get_json()
    ids = [r["id"] for r in sorted(answer.get_json()["results"], key=lambda r: r["row"])]
    for item_id, demo in zip(ids, items, strict=True):
        for move in moves_to(demo):
            (city if move.by == "city" else county_admin).move({"id": item_id}, **move.body())
    api_repo = MongoItemRepository(app.extensions["wiring"].db)

    # The seed, into databases of its own.
    seed_settings = dataclasses.replace(
        region_settings, database_prefix=f"{settings.database_prefix}_seed")
    assert seed.seed(seed_settings, items, seed_number=SEED) == len(items)
    seed_db = mongo.database(seed_settings, "issues")
    seed_repo = MongoItemRepository(seed_db)

    transitions = 0
    for item_id, demo in zip(ids, items, strict=True):
        api_changes, seeded = api_repo.log.history(item_id), seed_repo.log.history(item_id)
        assert [c["version"] for c in seeded] == list(range(1, len(moves_to(demo)) + 2))
        assert comparable(seeded) == comparable(api_changes)
        assert all(c["outbox"] for c in seeded)  # every change left its events
        assert seed_repo.get(item_id).status == demo.status
        assert seed_repo.get(item_id).version == api_repo.get(item_id).version
        transitions += len(moves_to(demo))
    assert transitions > len(items) / 2
    assert seed_db["imports"].count_documents({}) == 1

    # A county that has items is skipped, as by the API load.
    assert seed.seed(seed_settings, items, seed_number=SEED) == 0
    assert len(seed_repo.log.history(ids[-1])) == len(moves_to(items[-1])) + 1
