"""The subscriptions API on the real database: who may subscribe to what, secrets shown once,
unsafe URLs refused with nothing stored, idempotent creation."""

from __future__ import annotations

import pytest

from shared import mongo
from shared.auth import mint
from shared.pagination import encode_cursor


def body(url: str, counties=("330602",), event_types=("*",)) -> dict:
    return {"url": url, "event_types": list(event_types), "counties": list(counties)}


def test_a_county_system_subscribes_and_sees_its_secret_once(as_, receiver):
    created = as_["yuecheng"].post("/v1/subscriptions", json=body(receiver.url))
    assert created.status_code == 201, created.json
    assert created.json["secret"].startswith("whsec_")
    assert created.json["status"] == "active"
    shown = as_["yuecheng"].get(f"/v1/subscriptions/{created.json['id']}")
    assert shown.status_code == 200
    assert "secret" not in shown.json and "secrets" not in shown.json
    listed = as_["yuecheng"].get("/v1/subscriptions")
    assert [s["id"] for s in listed.json["items"]] == [created.json["id"]]
    assert all("secret" not in s for s in listed.json["items"])


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]:8080/h",
    "http://[fd00:ec2::254]/h", "http://192.168.1.20/h", "http://0.0.0.0/h",
    "ftp://example.com/h", "https://nowhere.invalid/h",
])
def test_unsafe_urls_are_refused_with_422_and_nothing_is_stored(as_, db, url):
    answer = as_["yuecheng"].post("/v1/subscriptions", json=body(url))
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    assert "url" in answer.json["errors"]
    assert db.subscriptions.count_documents({}) == 0


def test_the_allow_list_admits_the_loopback_receiver(as_, receiver):
    assert as_["yuecheng"].post("/v1/subscriptions", json=body(receiver.url)).status_code == 201


def test_a_county_may_not_subscribe_to_another_county(as_, db, receiver):
    answer = as_["yuecheng"].post("/v1/subscriptions", json=body(receiver.url, ["330603"]))
    assert answer.status_code == 403
    assert db.subscriptions.count_documents({}) == 0


def test_unknown_fields_and_event_types_are_422(as_, receiver):
    extra = {**body(receiver.url), "colour": "red"}
    assert as_["yuecheng"].post("/v1/subscriptions", json=extra).status_code == 422
    wrong = body(receiver.url, event_types=["issue.exploded"])
    answer = as_["yuecheng"].post("/v1/subscriptions", json=wrong)
    assert answer.status_code == 422 and "event_types" in answer.json["errors"]


def test_no_token_is_401_and_an_inspector_is_403(app, as_, receiver):
    assert app.test_client().post("/v1/subscriptions", json=body(receiver.url)).status_code == 401
    assert as_["inspector"].get("/v1/subscriptions").status_code == 403


def test_the_same_idempotency_key_answers_the_first_subscription_again(as_, db, receiver):
    key = {"Idempotency-Key": "subscribe-1"}
    first = as_["yuecheng"].post("/v1/subscriptions", json=body(receiver.url), headers=key)
    again = as_["yuecheng"].post("/v1/subscriptions", json=body(receiver.url), headers=key)
    assert first.status_code == again.status_code == 201  # the first answer, status included
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    other = as_["yuecheng"].post("/v1/subscriptions", json=body(receiver.url, event_types=[
        "issue.created"]), headers=key)
    assert other.status_code == 409
    assert db.subscriptions.count_documents({}) == 1


def test_another_county_sees_404_and_the_city_sees_every_subscription(as_, receiver):
    created = as_["yuecheng"].post("/v1/subscriptions", json=body(receiver.url)).json
    assert as_["keqiao"].get(f"/v1/subscriptions/{created['id']}").status_code == 404
    assert as_["keqiao"].delete(f"/v1/subscriptions/{created['id']}").status_code == 404
    assert as_["city"].get(f"/v1/subscriptions/{created['id']}").status_code == 200
    assert [s["id"] for s in as_["city"].get("/v1/subscriptions").json["items"]] == [
        created["id"]]


def test_a_deleted_subscription_is_gone_from_its_owner(as_, receiver):
    created = as_["yuecheng"].post("/v1/subscriptions", json=body(receiver.url)).json
    assert as_["yuecheng"].delete(f"/v1/subscriptions/{created['id']}").status_code == 204
    assert as_["yuecheng"].get(f"/v1/subscriptions/{created['id']}").status_code == 404
    assert as_["yuecheng"].get("/v1/subscriptions").json["items"] == []


def test_rotating_shows_a_new_secret_once_and_says_until_when_the_old_one_signs(as_, receiver):
    created = as_["yuecheng"].post("/v1/subscriptions", json=body(receiver.url)).json
    rotated = as_["yuecheng"].post(f"/v1/subscriptions/{created['id']}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json["secret"].startswith("whsec_")
    assert rotated.json["secret"] != created["secret"]
    assert rotated.json["previous_secret_expires_at"] is not None


def test_the_subscription_list_pages_by_cursor_without_repeats(as_, receiver):
    ids = {as_["city"].post("/v1/subscriptions", json=body(receiver.url, ["*"])).json["id"]
           for _ in range(5)}
    seen, cursor = [], None
    while True:
        page = as_["city"].get("/v1/subscriptions", query_string={
            "limit": 2, **({"cursor": cursor} if cursor else {})}).json
        seen += [s["id"] for s in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(seen) == sorted(ids)


@pytest.mark.parametrize("cursor", [
    "not-a-cursor",
    encode_cursor({"at": "2026-12-01T08:00:00+00:00", "id": "d-1"}),  # a deliveries cursor
    encode_cursor({"after": {"$gt": ""}}),
])
def test_a_cursor_the_list_did_not_give_out_is_a_400_naming_it(as_, cursor):
    answer = as_["city"].get("/v1/subscriptions", query_string={"cursor": cursor})
    assert answer.status_code == 400
    assert answer.json["errors"] == {"cursor": ["Not a valid cursor."]}


def test_a_bad_token_is_401(app, receiver):
    token = mint("not-this-deployments-secret-but-long-enough", sub="x", role="city_admin")
    answer = app.test_client().get("/v1/subscriptions",
                                   headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


def test_openapi_documents_the_notifications_paths(app):
    paths = app.test_client().get("/openapi.json").json["paths"]
    for path in ("/v1/subscriptions", "/v1/subscriptions/{id_}/rotate-secret",
                 "/v1/subscriptions/{id_}/deliveries", "/v1/subscriptions/{id_}/replay",
                 "/v1/subscriptions/{id_}/enable", "/v1/feed"):
        assert path in paths, path


def test_the_database_is_this_tests_own(app):
    assert mongo.database(app.config["SETTINGS"], "notifications").name.startswith("t")
