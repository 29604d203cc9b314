"""The inspections API with every role on the real database: rules U and X, the filing of
results once, Idempotency-Key, and bad input that changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.auth import mint
from tests.integration.inspections.conftest import KEQIAO, YUECHENG, Caller, plan_body

pytestmark = pytest.mark.usefixtures("items")


def plan(as_, **changes) -> dict:
    response = as_["city"].post("/v1/inspections", json=plan_body(**changes))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def started(as_, **changes) -> dict:
    inspection = plan(as_, **changes)
    response = as_["inspector"].post(f"/v1/inspections/{inspection['id']}/start")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def results(*checks, new_problems=()) -> dict:
    return {"checks": list(checks), "new_problems": list(new_problems)}


def check(item_id: str, outcome: str = "pass", findings: str | None = None, **changes) -> dict:
    observed = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return {"item_id": item_id, "outcome": outcome, "findings": findings,
            "evidence": ["photo:灵芝镇/1.jpg"], "observed_at": observed} | changes


def ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [row["id"] for row in response.get_json()["items"]]


def snapshot(db) -> list[dict]:
    """Everything stored: the current states and the changes with their outboxes."""
    return (list(db.inspections.find({}, {"_id": 1, "status": 1, "version": 1}))
            + list(db.inspection_changes.find({}, {"_id": 1, "outbox": 1})))


def events(db) -> list[dict]:
    """The events written so far (none is published here: no relay runs), oldest first."""
    changes = db.inspection_changes.find({}, {"version": 1, "outbox": 1})
    return [e for c in sorted(changes, key=lambda c: c["version"]) for e in c["outbox"]]


# --- planning --------------------------------------------------------------------------------

def test_the_city_plans_an_inspection_and_it_is_answered_with_its_location(as_):
    response = as_["city"].post("/v1/inspections", json=plan_body())
    body = response.get_json()
    assert response.status_code == 201 and response.headers["Location"].endswith(body["id"])
    assert body["status"] == "planned" and body["target_county_name"] == "越城区"
    assert body["item_ids"] == ["i1", "i2"]
    assert [i["id"] for i in body["sampled_items"]] == ["i1", "i2"]


@pytest.mark.parametrize("role", ["target_admin", "inspector", "target_subscriber"])
def test_only_the_city_plans(as_, db, role):
    assert as_[role].post("/v1/inspections", json=plan_body()).status_code == 403
    assert snapshot(db) == []


def test_no_token_or_a_bad_one_is_401(app, db):
    client = app.test_client()
    assert client.get("/v1/inspections").status_code == 401
    bad = client.post("/v1/inspections", json=plan_body(),
                      headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401 and bad.content_type == "application/problem+json"
    assert snapshot(db) == []


def test_rule_x_a_team_member_from_the_target_county_is_refused_by_name(as_, db):
    team = [{"sub": "wang", "county": KEQIAO}, {"sub": "sun", "county": YUECHENG}]
    response = as_["city"].post("/v1/inspections", json=plan_body(team=team))
    body = response.get_json()
    assert response.status_code == 422 and "sun" in body["detail"]
    assert "1" in body["errors"]["team"]
    assert snapshot(db) == []


@pytest.mark.parametrize("changes, field", [
    ({"window_end": (datetime.now(UTC) - timedelta(hours=2)).isoformat()}, "window_end"),
    ({"window_start": "2026-06-10T09:00:00"}, "window_start"),  # no offset
    ({"target_county": "110101"}, "target_county"),
    ({"kind": "raid"}, "kind"),
    ({"team": []}, "team"),
    ({"item_ids": ["i1", "k1"]}, "item_ids"),  # k1 belongs to 柯桥区
    ({"item_ids": ["i1", "nowhere"]}, "item_ids"),
    ({"sample": {"strategy": "random", "size": 2}}, "_schema"),  # both sample and item_ids
    ({"surprise": True}, "surprise"),
])
def test_bad_plans_are_refused_with_the_field_named_and_nothing_stored(as_, db, changes, field):
    response = as_["city"].post("/v1/inspections", json=plan_body(**changes))
    assert response.status_code == 422, response.get_json()
    assert response.content_type == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert snapshot(db) == []


def test_an_unknown_item_is_refused_saying_the_copy_may_be_behind(as_):
    response = as_["city"].post("/v1/inspections", json=plan_body(item_ids=["nowhere"]))
    assert "may simply be behind" in response.get_json()["detail"]


def test_a_sample_is_drawn_from_the_copy_and_repeats_with_its_seed(as_):
    sample = {"strategy": "risk", "size": 2, "seed": 2026}
    first = plan(as_, item_ids=None, sample=sample)
    second = plan(as_, item_ids=None, sample=sample)
    assert first["item_ids"] == second["item_ids"]
    assert set(first["item_ids"]) <= {"i1", "i2", "i3"} and len(first["item_ids"]) == 2
    assert first["sample"] == {"strategy": "risk", "size": 2, "seed": 2026, "status": None}


def test_a_sample_without_a_seed_records_the_seed_it_used(as_):
    body = plan(as_, item_ids=None, sample={"strategy": "random", "size": 1, "status": ["closed"]})
    assert body["item_ids"] == ["i2"] and isinstance(body["sample"]["seed"], int)


def test_the_city_sees_what_a_sample_draws_and_a_plan_with_its_seed_draws_the_same(as_, db):
    drawn = as_["city"].get("/v1/inspections/draw", query_string={
        "target_county": YUECHENG, "strategy": "risk", "size": 2})
    assert drawn.status_code == 200, drawn.get_json()
    body = drawn.get_json()
    assert body["population"] == 3 and len(body["items"]) == 2
    assert isinstance(body["sample"]["seed"], int)
    assert db.inspections.count_documents({}) == 0, "a draw keeps nothing"
    planned = plan(as_, item_ids=None, sample=body["sample"])
    assert planned["item_ids"] == [i["id"] for i in body["items"]]


def test_a_draw_takes_the_statuses_asked_for_and_only_the_city_may_draw(as_):
    query = {"target_county": YUECHENG, "strategy": "random", "size": 5,
             "status": ["closed", "pending_verification"]}
    body = as_["city"].get("/v1/inspections/draw", query_string=query).get_json()
    assert [i["id"] for i in body["items"]] == ["i2"] and body["population"] == 1
    assert as_["target_admin"].get("/v1/inspections/draw", query_string=query).status_code == 403
    assert as_["inspector"].get("/v1/inspections/draw", query_string=query).status_code == 403
    bad = as_["city"].get("/v1/inspections/draw", query_string={**query, "size": 0})
    assert bad.status_code == 422 and "size" in bad.get_json()["errors"]


def test_the_same_idempotency_key_and_body_plans_once(as_, db):
    body = plan_body()
    first = as_["city"].post("/v1/inspections", json=body, headers={"Idempotency-Key": "p-1"})
    again = as_["city"].post("/v1/inspections", json=body, headers={"Idempotency-Key": "p-1"})
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json() and db.inspections.count_documents({}) == 1
    other = as_["city"].post("/v1/inspections", json=plan_body(kind="patrol"),
                             headers={"Idempotency-Key": "p-1"})
    assert other.status_code == 409 and db.inspections.count_documents({}) == 1


# --- rule U: who sees what ---------------------------------------------------------------------

@pytest.mark.parametrize("role", ["target_admin", "target_subscriber", "stranger", "other_admin"])
def test_a_planned_inspection_is_invisible_and_404_exactly_like_a_missing_one(as_, role):
    inspection = plan(as_)
    assert inspection["id"] not in ids(as_[role].get("/v1/inspections"))
    hidden = as_[role].get(f"/v1/inspections/{inspection['id']}")
    missing = as_[role].get("/v1/inspections/00000000-0000-0000-0000-000000000000")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_data() == missing.get_data()


@pytest.mark.parametrize("role", ["target_admin", "target_subscriber"])
def test_the_target_county_sees_the_inspection_once_started(as_, role):
    inspection = started(as_)
    assert ids(as_[role].get("/v1/inspections")) == [inspection["id"]]
    assert as_[role].get(f"/v1/inspections/{inspection['id']}").status_code == 200


def test_the_team_sees_the_plan_but_the_sampled_items_only_once_started(as_):
    inspection = plan(as_)
    before = as_["teammate"].get(f"/v1/inspections/{inspection['id']}").get_json()
    assert "item_ids" not in before and "sampled_items" not in before and before["item_count"] == 2
    as_["inspector"].post(f"/v1/inspections/{inspection['id']}/start")
    after = as_["teammate"].get(f"/v1/inspections/{inspection['id']}").get_json()
    shown = [(i["id"], i["village"]) for i in after["sampled_items"]]
    assert shown == [("i1", "张市村"), ("i2", "张市村")]
    assert "responsible" not in after["sampled_items"][0]


def test_an_inspector_not_on_the_team_can_neither_see_nor_start_nor_file(as_):
    inspection = started(as_)
    path = f"/v1/inspections/{inspection['id']}"
    assert as_["stranger"].get(path).status_code == 404
    assert as_["stranger"].post(f"{path}/start").status_code == 404
    assert as_["stranger"].post(f"{path}/results", json=results(check("i1"))).status_code == 404
    assert inspection["id"] not in ids(as_["stranger"].get("/v1/inspections"))


def test_the_city_sees_every_inspection_and_may_filter(as_):
    planned_one, started_one = plan(as_), started(as_)
    assert set(ids(as_["city"].get("/v1/inspections"))) == {planned_one["id"], started_one["id"]}
    assert ids(as_["city"].get("/v1/inspections?status=planned")) == [planned_one["id"]]
    assert ids(as_["city"].get(f"/v1/inspections?target_county={KEQIAO}")) == []


def test_the_list_pages_by_cursor_without_repeats(as_):
    planned_ids = {plan(as_)["id"] for _ in range(5)}
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = as_["city"].get(f"/v1/inspections{query}").get_json()
        seen += [row["id"] for row in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(planned_ids)


def test_a_county_cannot_learn_of_a_planned_inspection_by_filtering(as_):
    plan(as_)
    query = f"/v1/inspections?status=planned&target_county={YUECHENG}"
    assert ids(as_["target_admin"].get(query)) == []


# --- start and results -----------------------------------------------------------------------

def test_starting_twice_is_a_conflict(as_):
    inspection = started(as_)
    assert as_["teammate"].post(f"/v1/inspections/{inspection['id']}/start").status_code == 409


def test_filing_results_completes_the_inspection(as_):
    inspection = started(as_)
    problem = {"township": "灵芝镇", "village": "大善村", "problem": "活动室闭门",
               "measure": "每周开放"}
    body = results(check("i1"), check("i2", "fail", "整改措施未落实"), new_problems=[problem])
    response = as_["teammate"].post(f"/v1/inspections/{inspection['id']}/results", json=body)
    filed = response.get_json()
    assert response.status_code == 200 and filed["status"] == "completed"
    assert [(c["item_id"], c["outcome"]) for c in filed["checks"]] == [("i1", "pass"),
                                                                       ("i2", "fail")]
    assert filed["new_problems"][0]["village"] == "大善村"


def test_the_same_key_and_body_files_once_and_answers_the_first_filing_again(as_, db):
    inspection = started(as_)
    path = f"/v1/inspections/{inspection['id']}/results"
    body, key = results(check("i1", "fail", "未整改")), {"Idempotency-Key": "r-1"}
    first = as_["inspector"].post(path, json=body, headers=key)
    written = events(db)
    again = as_["inspector"].post(path, json=body, headers=key)
    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json()
    assert events(db) == written
    assert [e["type"] for e in written].count("inspection.check_failed") == 1


@pytest.mark.parametrize("headers", [{"Idempotency-Key": "r-2"}, {}])
def test_a_second_filing_is_a_conflict(as_, db, headers):
    inspection = started(as_)
    path = f"/v1/inspections/{inspection['id']}/results"
    as_["inspector"].post(path, json=results(check("i1")), headers={"Idempotency-Key": "r-1"})
    before = snapshot(db)
    second = as_["inspector"].post(path, json=results(check("i2")), headers=headers)
    assert second.status_code == 409 and snapshot(db) == before


def test_the_same_key_with_another_body_is_a_conflict(as_, db):
    inspection = started(as_)
    path = f"/v1/inspections/{inspection['id']}/results"
    key = {"Idempotency-Key": "r-1"}
    as_["inspector"].post(path, json=results(check("i1")), headers=key)
    before = snapshot(db)
    assert as_["inspector"].post(path, json=results(check("i2")), headers=key).status_code == 409
    assert snapshot(db) == before


def test_results_before_the_start_are_a_conflict(as_):
    inspection = plan(as_)
    response = as_["inspector"].post(f"/v1/inspections/{inspection['id']}/results",
                                     json=results(check("i1")))
    assert response.status_code == 409


@pytest.mark.parametrize("bad, field", [
    (check("i1", "fail"), "findings"),
    (check("k1"), "item_id"),
    (check("i1", observed_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()),
     "observed_at"),
    (check("i1", observed_at=(datetime.now(UTC) - timedelta(days=2)).isoformat()),
     "observed_at"),
    (check("i1", observed_at="yesterday"), "observed_at"),
    (check("i1", evidence=["x" * 3000]), "evidence"),
    (check("i1", evidence=[f"p{n}" for n in range(21)]), "evidence"),
    (check("i1", outcome="maybe"), "outcome"),
    (check("i1", extra=1), "extra"),
])
def test_bad_results_are_refused_and_change_nothing(as_, db, bad, field):
    inspection = started(as_)
    before = snapshot(db)
    response = as_["inspector"].post(f"/v1/inspections/{inspection['id']}/results",
                                     json=results(check("i2"), bad))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]["checks"]["1"]
    assert snapshot(db) == before


def test_an_item_checked_twice_is_refused(as_, db):
    inspection = started(as_)
    response = as_["inspector"].post(f"/v1/inspections/{inspection['id']}/results",
                                     json=results(check("i1"), check("i1")))
    assert response.status_code == 422 and "twice" in response.get_json()["detail"]


def test_rule_x_a_token_from_the_target_county_cannot_start(as_, app, settings):
    inspection = plan(as_)
    insider = Caller(app.test_client(), mint(settings.jwt_secret, sub="wang", role="inspector",
                                             county=YUECHENG))
    # Its home is the target: the plan stays hidden from it (rule U) and it cannot start it.
    assert insider.post(f"/v1/inspections/{inspection['id']}/start").status_code == 404


# --- cancel ------------------------------------------------------------------------------------

def test_the_city_cancels_a_planned_inspection_which_the_county_never_learns_of(as_, db):
    inspection = plan(as_)
    response = as_["city"].post(f"/v1/inspections/{inspection['id']}/cancel",
                                json={"reason": "暴雨"})
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    assert as_["target_admin"].get(f"/v1/inspections/{inspection['id']}").status_code == 404
    assert [e["type"] for e in events(db)] == ["inspection.planned"]


def test_a_cancel_needs_no_body(as_):
    inspection = started(as_)
    response = as_["city"].post(f"/v1/inspections/{inspection['id']}/cancel")
    assert response.status_code == 200 and response.get_json()["cancel_reason"] is None
    # Cancelled after the start: the county keeps seeing it.
    assert as_["target_admin"].get(f"/v1/inspections/{inspection['id']}").status_code == 200


def test_only_the_city_cancels_and_a_completed_inspection_cannot_be(as_):
    inspection = started(as_)
    path = f"/v1/inspections/{inspection['id']}"
    assert as_["inspector"].post(f"{path}/cancel", json={}).status_code == 403
    as_["inspector"].post(f"{path}/results", json=results(check("i1")))
    assert as_["city"].post(f"{path}/cancel", json={}).status_code == 409


# --- operations --------------------------------------------------------------------------------

def test_ready_when_database_and_broker_answer(app):
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()


def test_the_openapi_document_describes_the_endpoints(app):
    paths = app.test_client().get("/openapi.json").get_json()["paths"]
    assert {"/v1/inspections", "/v1/inspections/{inspection_id}",
            "/v1/inspections/{inspection_id}/start", "/v1/inspections/{inspection_id}/results",
            "/v1/inspections/{inspection_id}/cancel"} <= set(paths)
