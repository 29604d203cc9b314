"""Fakes of the repositories and small builders shared by the unit tests of inspections."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from services.inspections.domain.model import CopiedItem, Inspection, TeamMember
from shared.domain import Caller, Change
from shared.events import encode, parse

NOW = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
YUECHENG, KEQIAO, SHANGYU = "330602", "330603", "330604"


CITY = Caller("city", "city_admin")
INSPECTOR = Caller("wang", "inspector", KEQIAO)  # on the team, from another county
TEAMMATE = Caller("zhao", "inspector", SHANGYU)
STRANGER = Caller("qian", "inspector", SHANGYU)  # an inspector not on the team
TARGET_ADMIN = Caller("yc-admin", "county_admin", YUECHENG)
TARGET_SUBSCRIBER = Caller("yc-system", "subscriber", YUECHENG)
OTHER_ADMIN = Caller("kq-admin", "county_admin", KEQIAO)
TEAM = [TeamMember("wang", KEQIAO, "王"), TeamMember("zhao", SHANGYU)]


def item(id: str, county: str = YUECHENG, **changes) -> CopiedItem:
    base = CopiedItem(id=id, county=county, township="灵芝镇", village="张市村",
                      problem="个别党员大局意识不强", measure="写出《无违建承诺书》",
                      deadline=date(2026, 6, 30), status="open", reopen_count=0,
                      overdue=False, overdue_count=0, closed_at=None, version=1)
    return replace(base, **changes)


def planned(item_ids: Iterable[str] = ("i1", "i2", "i3"), **changes) -> Inspection:
    return planning(item_ids, **changes)[0]


def planning(item_ids: Iterable[str] = ("i1", "i2", "i3"),
             **changes) -> tuple[Inspection, list[Change]]:
    """The planned inspection and the events its planning causes."""
    arguments = dict(id="insp-1", target_county=YUECHENG, kind="spot_check", team=TEAM,
                     window_start=NOW - timedelta(hours=1), window_end=NOW + timedelta(days=2),
                     item_ids=list(item_ids), planned_by="city", now=NOW - timedelta(hours=2))
    arguments.update(changes)
    return Inspection.plan(**arguments)


def started(**changes) -> Inspection:
    inspection = planned(**changes)
    inspection.start(INSPECTOR, NOW)
    return inspection


class FakeInspections:
    def __init__(self, *existing: Inspection):
        self.stored: dict[str, Inspection] = {}
        self.published: list = []
        self.overtake_next_save = False  # simulates a concurrent writer winning once
        for inspection in existing:
            self.stored[inspection.id] = copy.deepcopy(inspection)

    def get(self, inspection_id: str) -> Inspection | None:
        found = self.stored.get(inspection_id)
        return copy.deepcopy(found) if found else None

    def add(self, inspection: Inspection, events: list[dict]) -> bool:
        if inspection.id in self.stored:
            return False
        self._keep(inspection, events)
        return True

    def save(self, inspection: Inspection, events: list[dict]) -> bool:
        if self.overtake_next_save:
            self.overtake_next_save = False
            self.stored[inspection.id].version += 1
            return False
        if self.stored[inspection.id].version != inspection.version - 1:
            return False
        self._keep(inspection, events)
        return True

    def list(self, viewer: Caller, *, status, target_county, after, limit) -> list[Inspection]:
        rows = sorted(self.stored.values(), key=lambda i: (i.planned_at, i.id), reverse=True)
        rows = [i for i in rows if i.visible_to(viewer)
                and (status is None or i.status == status)
                and (target_county is None or i.target_county == target_county)
                and (after is None or (i.planned_at, i.id) < after)]
        return [copy.deepcopy(i) for i in rows[:limit]]

    def _keep(self, inspection: Inspection, events: list[dict]) -> None:
        # As a consumer will read them.
        self.published.extend(parse(encode(e)) for e in events)
        self.stored[inspection.id] = copy.deepcopy(inspection)


class FakeItemCopy:
    def __init__(self, *items: CopiedItem):
        self.items = {i.id: i for i in items}
        self.updated_at: dict[str, datetime] = {}

    def upsert_newer(self, item: CopiedItem, now: datetime) -> bool:
        current = self.items.get(item.id)
        if current is not None and current.version >= item.version:
            return False
        self.items[item.id], self.updated_at[item.id] = item, now
        return True

    def get_many(self, ids: Iterable[str]) -> dict[str, CopiedItem]:
        return {i: self.items[i] for i in ids if i in self.items}

    def of_county(self, county: str, statuses: Iterable[str] | None) -> list[CopiedItem]:
        wanted = set(statuses or ())
        return [i for i in self.items.values()
                if i.county == county and (not wanted or i.status in wanted)]
