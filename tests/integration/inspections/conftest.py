"""The real inspections app on the real database, with tokens for every role and a copy of
items seeded as the consumer would keep it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.inspections.app import create_app
from services.inspections.domain.model import CopiedItem
from services.inspections.repository import MongoItemCopy
from shared import mongo
from shared.auth import mint
from tests.support import Caller

YUECHENG, KEQIAO, SHANGYU = "330602", "330603", "330604"
TEAM = [{"sub": "wang", "county": KEQIAO, "name": "王"}, {"sub": "zhao", "county": SHANGYU}]
ROLES = {
    "city": ("city", "city_admin", None),
    "inspector": ("wang", "inspector", KEQIAO),
    "teammate": ("zhao", "inspector", SHANGYU),
    "stranger": ("qian", "inspector", SHANGYU),
    "target_admin": ("yc-admin", "county_admin", YUECHENG),
    "target_subscriber": ("yc-system", "subscriber", YUECHENG),
    "other_admin": ("kq-admin", "county_admin", KEQIAO),
}


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def db(settings, app):
    return mongo.database(settings, "inspections")


@pytest.fixture
def as_(app, settings):
    client = app.test_client()
    return {name: Caller(client, mint(settings.jwt_secret, sub=sub, role=role, county=county))
            for name, (sub, role, county) in ROLES.items()}


def copied(id: str, county: str = YUECHENG, version: int = 1, **changes) -> CopiedItem:
    fields = dict(id=id, county=county, township="灵芝镇", village="张市村",
                  problem="个别党员大局意识不强", measure="每名党员写出《无违建承诺书》",
                  deadline=date(2026, 6, 30), status="open", reopen_count=0, overdue=False,
                  overdue_count=0, closed_at=None, version=version)
    return CopiedItem(**(fields | changes))


@pytest.fixture
def items(db):
    copy = MongoItemCopy(db)
    for item in (copied("i1"), copied("i2", status="closed", closed_at=datetime.now(UTC)),
                 copied("i3", reopen_count=2), copied("k1", county=KEQIAO)):
        copy.upsert_newer(item, datetime.now(UTC))
    return copy


def plan_body(**changes) -> dict:
    now = datetime.now(UTC)
    body = {"target_county": YUECHENG, "kind": "spot_check", "team": TEAM,
            "window_start": (now - timedelta(hours=1)).isoformat(),
            "window_end": (now + timedelta(days=1)).isoformat(), "item_ids": ["i1", "i2"]}
    return body | changes
