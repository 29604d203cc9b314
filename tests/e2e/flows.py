"""Steps of the key flows, in the contract's words, shared by the end-to-end tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import requests

from tests.support import eventually

YUECHENG, KEQIAO = "330602", "330603"
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
