"""The key flow, through the real services as separate processes: a failed inspection reopens
the related rectification item by itself, and the county's system hears of it, signed."""

from __future__ import annotations

import uuid

import requests

from tests.e2e.flows import (
    KEQIAO,
    close_item,
    create_item,
    file_results,
    get_item,
    plan_inspection,
    start_inspection,
    subscribe,
)
from tests.receiver import Receiver
from tests.support import eventually


def test_a_failed_spot_check_reopens_the_closed_item_and_the_county_system_hears_of_it(stack):
    with Receiver() as county_system:
        county_system.secret = subscribe(stack, county_system.url)["secret"]
        closed = create_item(stack)
        close_item(stack, closed)
        passing = create_item(stack)
        close_item(stack, passing)

        inspection = plan_inspection(stack, [closed["id"], passing["id"]])
        hidden = requests.get(f"{stack.urls['inspections']}/v1/inspections/{inspection['id']}",
                              headers=stack.token("county_admin", KEQIAO))
        assert hidden.status_code == 404, "rule U: the county must not see a planned inspection"

        start_inspection(stack, inspection["id"])
        file_results(stack, inspection["id"], [
            {"item_id": closed["id"], "outcome": "fail", "findings": "承诺书未公示,整改不到位"},
            {"item_id": passing["id"], "outcome": "pass", "findings": "台账齐全"},
        ], key=str(uuid.uuid4()))

        reopened = eventually(lambda: (i := get_item(stack, closed["id"]))["status"] == "reopened"
                              and i, timeout=30, message="the item was not reopened")
        assert reopened["reopen_count"] == 1
        assert any(inspection["id"] in str(entry) for entry in reopened["history"])
        assert get_item(stack, passing["id"])["status"] == "closed"

        heard = eventually(lambda: [e for e in county_system.of_type("issue.reopened")
                                    if e["subject"] == closed["id"]],
                           timeout=30, message="the county system never heard of the reopening")
        assert heard[0]["county"] == KEQIAO and heard[0]["itemversion"] == reopened["version"]
        assert county_system.rejected == []
        started = eventually(lambda: county_system.of_type("inspection.started"), timeout=30)
        assert started[0]["subject"] == inspection["id"]
        assert county_system.of_type("inspection.planned") == [], "rule U: planned never leaks"
