"""A whole system deployed for another city: `make run`'s processes started with
SUPERVISION_REGION=331100 (丽水市) in their environment know its counties, streets and villages
from the installed division codes and refuse a county of Shaoxing."""

from __future__ import annotations

from datetime import date, timedelta

import requests

YUNHE, FUYUN, KEQIAO = "331125", "浮云街道", "330603"
SYSTEM_ENV = {"SUPERVISION_REGION": "331100"}  # the module's system (tests/e2e/conftest.py)


def item(county: str, township: str, village: str) -> dict:
    return {"county": county, "township": township, "village": village,
            "problem": "党员活动日未正常开展", "measure": "每月固定一天开展党员活动日",
            "deadline": (date.today() + timedelta(days=60)).isoformat()}


def test_a_lishui_system_knows_yunhe_and_its_street_and_refuses_keqiao(system):
    issues = system.urls["issues"]
    county = system.token("county_admin", YUNHE)
    top = requests.get(f"{issues}/v1/divisions", headers=county, timeout=30).json()["items"]
    assert top[0]["name"] == "丽水市" and {"code": YUNHE, "name": "云和县", "level": "county",
                                           "parent": "331100"} in top
    streets = requests.get(f"{issues}/v1/divisions", params={"parent": YUNHE}, headers=county,
                           timeout=30).json()["items"]
    street = next(s for s in streets if s["name"] == FUYUN)
    village = requests.get(f"{issues}/v1/divisions", params={"parent": street["code"]},
                           headers=county, timeout=30).json()["items"][0]

    created = requests.post(f"{issues}/v1/items", json=item(YUNHE, FUYUN, village["name"]),
                            headers=county, timeout=30)
    assert created.status_code == 201, created.text
    assert (created.json()["county_name"], created.json()["village_code"]) == (
        "云和县", village["code"])

    refused = requests.post(f"{issues}/v1/items", json=item(KEQIAO, "柯桥街道", "管墅社区"),
                            headers=system.token("city_admin"), timeout=30)
    assert refused.status_code == 422
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.json()["errors"]["county"] == [
        "330603 is not a county of 丽水市 331100; GET /v1/divisions lists them."]

    # The other services of the system follow the same region: an inspection of 柯桥区 is refused.
    plan = requests.post(f"{system.urls['inspections']}/v1/inspections", json={
        "target_county": KEQIAO, "kind": "spot_check", "item_ids": ["x"],
        "team": [{"sub": "insp", "county": YUNHE}],
        "window_start": "2030-01-01T09:00:00+08:00", "window_end": "2030-01-02T09:00:00+08:00"},
        headers=system.token("city_admin"), timeout=30)
    assert plan.status_code == 422 and "target_county" in plan.json()["errors"]

    dashboard = requests.get(f"{issues}/dashboard", timeout=30)
    assert "丽水市 问题整改工作台账" in dashboard.text and "云和县" in dashboard.text


