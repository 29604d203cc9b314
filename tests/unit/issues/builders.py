"""Items, actors and checks for the specifications, in the domain's words."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from services.issues.domain.model import Caller, Item, ReportedCheck

YUECHENG, KEQIAO = "330602", "330603"
CITY = Caller("city-officer", "city_admin")
YUECHENG_ADMIN = Caller("yc-admin", "county_admin", YUECHENG)
KEQIAO_ADMIN = Caller("kq-admin", "county_admin", KEQIAO)
INSPECTOR = Caller("inspector-1", "inspector", KEQIAO)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def later(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def new_item(county: str = YUECHENG, deadline: date = date(2026, 6, 30), **fields) -> Item:
    item, _ = Item.create(
        id=str(uuid.uuid4()), actor=CITY, at=T0, county=county, township="灵芝镇",
        village="张市村", problem="个别党员大局意识不强、不配合支持“无违建村”创建工作",
        measure="每名党员写出《无违建承诺书》并向全村进行公示", deadline=deadline,
        responsible="张某某", **fields)
    return item


def closed_item(at: datetime | None = None, **fields) -> Item:
    item = new_item(**fields)
    county_admin = Caller("admin", "county_admin", item.county)
    item.transition("in_progress", actor=county_admin, at=later(1))
    item.transition("pending_verification", actor=county_admin, at=later(2),
                    evidence=["承诺书照片.jpg"])
    item.transition("closed", actor=CITY, at=at or later(3))
    return item


def failed_check(observed_at: datetime, findings: str = "承诺书未公示") -> ReportedCheck:
    return ReportedCheck(event_id=str(uuid.uuid4()), inspection_id="insp-1", passed=False,
                 observed_at=observed_at, findings=findings, evidence=("现场照片.jpg",),
                 inspector="inspector-1")


def passed_check(observed_at: datetime) -> ReportedCheck:
    return ReportedCheck(event_id=str(uuid.uuid4()), inspection_id="insp-1", passed=True,
                 observed_at=observed_at, findings="台账齐全")
