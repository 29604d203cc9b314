"""Valid events of the catalog, built the way producers build them, for notification tests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from shared.events import Event, encode, new_event, parse


def _item(item_id: str, county: str, version: int) -> dict:
    at = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    return {"id": item_id, "county": county, "township": "灵芝镇", "village": "张市村",
            "problem": "个别党员大局意识不强", "measure": "每名党员写出《无违建承诺书》",
            "deadline": date(2026, 6, 30), "status": "open", "reopen_count": 0,
            "version": version, "created_at": at, "updated_at": at}


def issue_created(county: str = "330602", *, item_id: str | None = None, version: int = 1,
                  time: datetime | None = None) -> Event:
    item_id = item_id or str(uuid.uuid4())
    envelope = new_event("issue.created", subject=item_id, county=county,
                         data={"item": _item(item_id, county, version)}, itemversion=version,
                         time=time)
    return parse(encode(envelope))


def inspection_planned(target_county: str = "330602") -> Event:
    inspection_id = str(uuid.uuid4())
    start = datetime(2026, 12, 1, tzinfo=UTC)
    envelope = new_event("inspection.planned", subject=inspection_id, county=target_county, data={
        "inspection_id": inspection_id, "target_county": target_county, "kind": "spot_check",
        "team": [{"sub": "inspector-1", "county": "330603"}], "window_start": start,
        "window_end": start + timedelta(days=7), "item_ids": [], "planned_at": start})
    return parse(encode(envelope))
