"""Steps of the key flows, in the contract's words, shared by the end-to-end tests."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from functools import partial

import requests

from shared import mongo
from tests.support import eventually

YUECHENG, KEQIAO = "330602", "330603"
PER_INSPECTION = 500  # the contract's maximum of item_ids and of checks in one inspection
TEAM = [{"sub": "inspector-yc-1", "county": YUECHENG},
        {"sub": "inspector-yc-2", "county": YUECHENG}]


def ok(answer: requests.Response, status: int = 200) -> dict:
    assert answer.status_code == status, f"{answer.request.method} {answer.url}: {answer.text}"
    return answer.json() if answer.content else {}


def create_item(stack, county: str = KEQIAO, **fields) -> dict:
    body = {"county": county, "township": "钱清镇", "village": "东村",
            "problem": "三会一课制度落实不到位", "measure": "建立三会一课台账,每月公示",
            "deadline": (date.today() + timedelta(days=60)).isoformat(),
            "responsible": "村党支部书记 李某某", "category": "软弱落后", "public": True, **fields}
    return ok(requests.post(f"{stack.urls['issues']}/v1/items", json=body,
                            headers=stack.token("county_admin", county)), 201)


def transition(stack, item_id: str, to: str, headers: dict, **body) -> dict:
    url = f"{stack.urls['issues']}/v1/items/{item_id}"
    etag = requests.get(url, headers=headers).headers["ETag"]
    return ok(requests.post(f"{url}/transitions", json={"to": to, **body},
                            headers={**headers, "If-Match": etag}))


def close_item(stack, item: dict) -> dict:
    county = stack.token("county_admin", item["county"])
    transition(stack, item["id"], "in_progress", county, reason="开始整改")
    transition(stack, item["id"], "pending_verification", county, reason="整改完成",
               evidence=["台账照片-01.jpg"])
    return transition(stack, item["id"], "closed", stack.token("city_admin"), reason="核查销号")


def get_item(stack, item_id: str) -> dict:
    return ok(requests.get(f"{stack.urls['issues']}/v1/items/{item_id}",
                           headers=stack.token("city_admin")))


def plan_inspection(stack, item_ids: list[str], county: str = KEQIAO, **extra) -> dict:
    now = datetime.now(UTC)
    body = {"target_county": county, "kind": "spot_check", "team": TEAM,
            "window_start": (now - timedelta(hours=1)).isoformat(),
            "window_end": (now + timedelta(days=2)).isoformat(), "item_ids": item_ids, **extra}

    def planned():
        answer = requests.post(f"{stack.urls['inspections']}/v1/inspections", json=body,
                               headers=stack.token("city_admin"))
        # The inspections service learns of items from events: it may be a moment behind.
        return answer.json() if answer.status_code == 201 else None

    return eventually(planned, timeout=30, message="the inspection could not be planned")


def start_inspection(stack, inspection_id: str) -> dict:
    return ok(requests.post(f"{stack.urls['inspections']}/v1/inspections/{inspection_id}/start",
                            headers=stack.token("inspector", YUECHENG, TEAM[0]["sub"])))


def file_results(stack, inspection_id: str, checks: list[dict], key: str) -> dict:
    now = datetime.now(UTC).isoformat()
    body = {"checks": [{"evidence": ["现场照片-01.jpg"], "observed_at": now, **c} for c in checks],
            "new_problems": []}
    return ok(requests.post(
        f"{stack.urls['inspections']}/v1/inspections/{inspection_id}/results", json=body,
        headers={**stack.token("inspector", YUECHENG, TEAM[0]["sub"]), "Idempotency-Key": key}))


def subscribe(stack, url: str, county: str = KEQIAO) -> dict:
    return ok(requests.post(f"{stack.urls['notifications']}/v1/subscriptions",
                            json={"url": url, "event_types": ["*"], "counties": [county]},
                            headers=stack.token("county_admin", county)), 201)


def closed_items(stack, count: int) -> list[str]:
    """``count`` items of 柯桥区, created and closed through the API, a few at a time."""
    def one(_: int) -> str:
        item = create_item(stack)
        close_item(stack, item)
        return item["id"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(count)))


def known_to_inspections(stack, item_ids: list[str]) -> bool:
    copies = mongo.database(stack.settings, "inspections")["items"]
    return copies.count_documents({"_id": {"$in": item_ids}}) == len(item_ids)


def started_inspection(stack, item_ids: list[str]) -> str:
    """An inspection of these items, planned and started once the inspections service has
    learnt of every one of them from events (a large burst takes it a while)."""
    eventually(partial(known_to_inspections, stack, item_ids), timeout=30 + len(item_ids) / 5,
               interval=0.5, message="the inspections service never learnt of every item")
    inspection = plan_inspection(stack, item_ids)
    start_inspection(stack, inspection["id"])
    return inspection["id"]


def file_failures(stack, inspection_id: str, item_ids: list[str]) -> dict:
    return file_results(stack, inspection_id, [
        {"item_id": item_id, "outcome": "fail", "findings": "整改不到位,问题反弹"}
        for item_id in item_ids], key=str(uuid.uuid4()))


def fail_all(stack, item_ids: list[str]) -> None:
    """Plan, start and file inspections in which every item fails its check."""
    for start in range(0, len(item_ids), PER_INSPECTION):
        chunk = item_ids[start:start + PER_INSPECTION]
        file_failures(stack, started_inspection(stack, chunk), chunk)


def reopened_count(stack, item_ids: list[str]) -> int:
    items = mongo.database(stack.settings, "issues")["items"]
    return items.count_documents({"_id": {"$in": item_ids}, "status": "reopened"})


def assert_reopened_exactly_once(stack, item_ids: list[str], timeout: float) -> None:
    def all_reopened() -> bool:
        count = reopened_count(stack, item_ids)
        assert count == len(item_ids), f"{count} of {len(item_ids)} items reopened"
        return True

    eventually(all_reopened, timeout=timeout, interval=0.5,
               message="not every failed check reopened its item")
    for item_id in item_ids:
        item = get_item(stack, item_id)
        reopenings = [e for e in item["history"] if e["to"] == "reopened"]
        assert (item["status"], item["reopen_count"], len(reopenings)) == ("reopened", 1, 1), (
            item_id, item["status"], item["reopen_count"], item["history"])
