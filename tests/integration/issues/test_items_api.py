"""The item API on the real database: validation, authorisation, ETags, idempotency."""

from __future__ import annotations

import pytest

from tests.integration.issues.conftest import KEQIAO, YUECHENG, close, item_body

PROBLEM = "application/problem+json"


@pytest.mark.parametrize("change, field", [
    ({"county": "999999"}, "county"), ({"deadline": "6月底"}, "deadline"),
    ({"problem": "   "}, "problem"), ({"public": "maybe"}, "public"), ({"colour": "red"}, "colour"),
])
def test_bad_input_is_a_422_problem_naming_the_field_and_stores_nothing(yuecheng, count_items,
                                                                        change, field):
    answer = yuecheng.post("/v1/items", json=item_body(**change))
    assert answer.status_code == 422 and answer.mimetype == PROBLEM
    assert field in answer.get_json()["errors"]
    assert count_items() == 0


def test_a_missing_field_is_named_and_nothing_is_stored(yuecheng, count_items):
    body = item_body()
    del body["measure"]
    answer = yuecheng.post("/v1/items", json=body)
    assert answer.status_code == 422 and "measure" in answer.get_json()["errors"]
    assert count_items() == 0


def test_chinese_text_round_trips_unchanged(yuecheng, city):
    created = yuecheng.create(problem="“三会一课”制度落实不到位；党员发展程序不规范")
    fetched = city.get(f"/v1/items/{created['id']}").get_json()
    assert fetched["problem"] == "“三会一课”制度落实不到位；党员发展程序不规范"
    assert fetched["county_name"] == "越城区"


def test_no_token_or_a_bad_one_is_401(as_role):
    anonymous = as_role(None)
    assert anonymous.get("/v1/items").status_code == 401
    bad = anonymous.get("/v1/items", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and bad.mimetype == PROBLEM


def test_a_county_admin_creates_only_in_their_own_county(keqiao, count_items):
    answer = keqiao.post("/v1/items", json=item_body(YUECHENG))
    assert answer.status_code == 403 and answer.mimetype == PROBLEM
    assert count_items() == 0


@pytest.mark.parametrize("role", ["inspector", "subscriber"])
def test_inspectors_and_subscribers_do_not_create_items(as_role, role, count_items):
    answer = as_role(role, YUECHENG).post("/v1/items", json=item_body(KEQIAO))
    assert answer.status_code == 403 and count_items() == 0


def test_a_county_sees_only_its_own_items_and_another_countys_item_is_not_found(
        yuecheng, keqiao, city, as_role):
    mine = yuecheng.create()
    theirs = city.create(KEQIAO)
    listed = yuecheng.get("/v1/items").get_json()["items"]
    assert [i["id"] for i in listed] == [mine["id"]]
    assert yuecheng.get(f"/v1/items/{theirs['id']}").status_code == 404
    assert yuecheng.get(f"/v1/items?county={KEQIAO}").status_code == 403
    subscriber = as_role("subscriber", KEQIAO)
    assert [i["id"] for i in subscriber.get("/v1/items").get_json()["items"]] == [theirs["id"]]
    assert {i["id"] for i in city.get("/v1/items").get_json()["items"]} == {mine["id"],
                                                                           theirs["id"]}


def test_inspectors_do_not_browse_county_lists(as_role, city):
    city.create()
    assert as_role("inspector", KEQIAO).get("/v1/items").status_code == 403


def test_an_item_carries_its_etag_and_a_stale_if_match_is_412_changing_nothing(yuecheng):
    item = yuecheng.create()
    fetched = yuecheng.get(f"/v1/items/{item['id']}")
    assert fetched.headers["ETag"] == '"1"'
    yuecheng.move(item, "in_progress")
    stale = yuecheng.post(f"/v1/items/{item['id']}/transitions",
                          json={"to": "pending_verification", "evidence": ["e"]},
                          headers={"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.mimetype == PROBLEM
    assert yuecheng.get(f"/v1/items/{item['id']}").get_json()["status"] == "in_progress"


def test_an_update_without_if_match_is_428(yuecheng):
    item = yuecheng.create()
    answer = yuecheng.post(f"/v1/items/{item['id']}/transitions", json={"to": "in_progress"})
    assert answer.status_code == 428


def test_the_lifecycle_through_the_api_keeps_every_step_in_history(yuecheng, city):
    item = yuecheng.create()
    closed = close(yuecheng, city, item)
    assert closed["status"] == "closed" and closed["version"] == 4 and closed["closed_at"]
    assert [(h["from"], h["to"], h["actor"]) for h in closed["history"]] == [
        (None, "open", "county_admin@330602"), ("open", "in_progress", "county_admin@330602"),
        ("in_progress", "pending_verification", "county_admin@330602"),
        ("pending_verification", "closed", "city_admin@city")]


def test_the_county_cannot_verify_and_a_move_outside_the_lifecycle_is_409(yuecheng, city):
    item = yuecheng.create()
    yuecheng.move(item, "in_progress")
    yuecheng.move(item, "pending_verification", evidence=["照片"])
    etag = {"If-Match": '"3"'}
    verify = yuecheng.post(f"/v1/items/{item['id']}/transitions", json={"to": "closed"},
                           headers=etag)
    assert verify.status_code == 403
    jump = city.post(f"/v1/items/{item['id']}/transitions", json={"to": "reopened"},
                     headers=etag)
    assert jump.status_code == 409 and "to" in jump.get_json()["errors"]


def test_asking_for_verification_without_evidence_is_422_naming_evidence(yuecheng):
    item = yuecheng.create()
    yuecheng.move(item, "in_progress")
    answer = yuecheng.post(f"/v1/items/{item['id']}/transitions",
                           json={"to": "pending_verification"}, headers={"If-Match": '"2"'})
    assert answer.status_code == 422 and "evidence" in answer.get_json()["errors"]


def test_another_county_cannot_move_an_item_and_learns_nothing_of_it(yuecheng, keqiao):
    item = yuecheng.create()
    answer = keqiao.post(f"/v1/items/{item['id']}/transitions", json={"to": "in_progress"},
                         headers={"If-Match": '"1"'})
    assert answer.status_code == 404


def test_the_same_idempotency_key_and_body_answers_the_first_result_once(yuecheng,
                                                                        count_items):
    headers = {"Idempotency-Key": "create-1"}
    first = yuecheng.post("/v1/items", json=item_body(), headers=headers)
    again = yuecheng.post("/v1/items", json=item_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert count_items() == 1


def test_the_same_idempotency_key_with_another_body_is_409(yuecheng, count_items):
    headers = {"Idempotency-Key": "create-2"}
    yuecheng.post("/v1/items", json=item_body(), headers=headers)
    other = yuecheng.post("/v1/items", json=item_body(village="大善村"), headers=headers)
    assert other.status_code == 409 and other.mimetype == PROBLEM
    assert count_items() == 1


def test_creating_an_item_records_its_first_change_with_issue_created_in_its_outbox(yuecheng,
                                                                                      db):
    item = yuecheng.create()
    [event] = db.item_changes.find_one({"_id": f"{item['id']}:1"})["outbox"]
    assert event["type"] == "issue.created" and event["itemversion"] == 1
    assert event["data"]["item"]["id"] == item["id"]


def test_every_change_of_an_item_is_kept_with_the_events_it_caused(yuecheng, city, repo):
    item = yuecheng.create()
    close(yuecheng, city, item)
    changes = repo.log.history(item["id"])
    assert [c["version"] for c in changes] == [1, 2, 3, 4]
    assert [c["state"]["status"] for c in changes] == [
        "open", "in_progress", "pending_verification", "closed"]
    assert [e["type"] for e in changes[-1]["outbox"]] == ["issue.status_changed", "issue.closed"]
    assert "outbox" not in repo.items.find_one({"_id": item["id"]})
