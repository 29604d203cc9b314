"""Idempotency-Key on every endpoint that takes it, on the real database: a repeat (same key and
body) is answered with the first answer itself, even after the thing it created has moved on;
the same key with another body is 409; records past their retention are swept, nothing else."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from services.inspections.app import create_app as inspections_app
from services.inspections.domain.model import CopiedItem
from services.inspections.repository import MongoItemCopy
from services.issues.app import create_app as issues_app
from services.notifications.app import create_app as notifications_app
from shared import idempotency, mongo
from shared.auth import mint
from tests.photos import jpeg
from tests.support import Caller, eventually

YUECHENG, KEQIAO = "330602", "330603"
KEY = {"Idempotency-Key": "phone-7f3a"}


@pytest.fixture
def apps(settings):
    settings = dataclasses.replace(settings, webhook_allowed_hosts=("127.0.0.1",))
    return {"issues": issues_app(settings), "inspections": inspections_app(settings),
            "notifications": notifications_app(settings), "settings": settings}


def caller(apps, service: str, sub: str, role: str, county: str | None = None) -> Caller:
    token = mint(apps["settings"].jwt_secret, sub=sub, role=role, county=county)
    return Caller(apps[service].test_client(), token)


def db(apps, service: str):
    return mongo.database(apps["settings"], service)


def item_body() -> dict:
    return {"county": YUECHENG, "township": "灵芝镇", "village": "张市村",
            "problem": "个别党员大局意识不强", "measure": "每名党员写出《无违建承诺书》",
            "deadline": (date.today() + timedelta(days=60)).isoformat()}


def replayed(first, again) -> None:
    """``again`` is ``first`` answered once more: the same status, body and headers."""
    assert again.status_code == first.status_code and again.data == first.data
    assert again.headers.get(idempotency.REPLAYED) == "true"
    assert first.headers.get(idempotency.REPLAYED) is None
    for name in ("Location", "ETag", "Content-Type"):
        assert again.headers.get(name) == first.headers.get(name), name


# --- issues ----------------------------------------------------------------------------------

def test_a_repeated_create_answers_the_item_as_first_created_not_as_it_is_now(apps):
    county = caller(apps, "issues", "yc-admin", "county_admin", YUECHENG)
    first = county.post("/v1/items", json=item_body(), headers=KEY)
    assert first.status_code == 201
    item = first.get_json()
    moved = county.post(f"/v1/items/{item['id']}/transitions", json={"to": "in_progress"},
                        headers={"If-Match": first.headers["ETag"]})
    assert moved.status_code == 200
    again = county.post("/v1/items", json=item_body(), headers=KEY)
    replayed(first, again)
    assert again.get_json()["status"] == "open" and again.headers["ETag"] == '"1"'
    assert db(apps, "issues").items.count_documents({}) == 1
    other = county.post("/v1/items", json=item_body() | {"village": "大善村"}, headers=KEY)
    assert other.status_code == 409


def test_a_repeated_import_answers_the_first_report(apps):
    county = caller(apps, "issues", "yc-admin", "county_admin", YUECHENG)
    csv = ("县区代码,乡镇街道,村社区,存在问题,整改措施,完成时间\n"
           f"{YUECHENG},灵芝镇,大善村,党员带头作用不明显,党员带头拆除违章建筑,2027-06-30\n"
           f"{YUECHENG},灵芝镇,张市村,,缺问题,2027-06-30\n").encode()
    send = dict(data=csv, content_type="text/csv", headers=KEY)
    first = county.post("/v1/items/import", **send)
    assert first.status_code == 200 and first.get_json()["created"] == 1
    again = county.post("/v1/items/import", **send)
    replayed(first, again)
    assert db(apps, "issues").items.count_documents({}) == 1
    assert county.post("/v1/items/import", data=csv + b"\n" + csv.splitlines()[1],
                       content_type="text/csv", headers=KEY).status_code == 409


def test_a_repeated_photo_upload_answers_the_first_record(apps):
    county = caller(apps, "issues", "yc-admin", "county_admin", YUECHENG)
    item = county.post("/v1/items", json=item_body()).get_json()

    def upload(data: bytes):
        return county.post(f"/v1/items/{item['id']}/evidence", headers=KEY,
                           data={"file": (io.BytesIO(data), "a.jpg")},
                           content_type="multipart/form-data")

    first = upload(jpeg())
    replayed(first, upload(jpeg()))
    assert upload(jpeg(color="red")).status_code == 409


def test_the_same_key_of_another_caller_or_on_another_path_is_another_request(apps):
    yuecheng = caller(apps, "issues", "yc-admin", "county_admin", YUECHENG)
    city = caller(apps, "issues", "city-office", "city_admin")
    mine = yuecheng.post("/v1/items", json=item_body(), headers=KEY)
    theirs = city.post("/v1/items", json=item_body(), headers=KEY)
    assert mine.status_code == theirs.status_code == 201
    assert mine.get_json()["id"] != theirs.get_json()["id"]


def test_a_refused_request_is_not_kept_and_may_be_sent_again_under_its_key(apps):
    county = caller(apps, "issues", "yc-admin", "county_admin", YUECHENG)
    refused = county.post("/v1/items", json=item_body() | {"county": KEQIAO}, headers=KEY)
    assert refused.status_code == 403
    assert db(apps, "issues")[idempotency.RECORDS].count_documents({}) == 0
    assert county.post("/v1/items", json=item_body(), headers=KEY).status_code == 201


# --- inspections -----------------------------------------------------------------------------

def copied(item_id: str, **changes) -> CopiedItem:
    fields = dict(id=item_id, county=YUECHENG, township="灵芝镇", village="张市村",
                  problem="个别党员大局意识不强", measure="每名党员写出《无违建承诺书》",
                  deadline=date(2027, 6, 30), status="closed", reopen_count=0, overdue=False,
                  overdue_count=0, closed_at=datetime(2026, 5, 1, tzinfo=UTC), version=4)
    return CopiedItem(**(fields | changes))


@pytest.fixture
def inspection(apps):
    copy = MongoItemCopy(db(apps, "inspections"))
    for item_id in ("i1", "i2"):
        copy.upsert_newer(copied(item_id), datetime.now(UTC))
    now = datetime.now(UTC)
    plan = {"target_county": YUECHENG, "kind": "spot_check",
            "team": [{"sub": "wang", "county": KEQIAO}],
            "window_start": (now - timedelta(hours=1)).isoformat(),
            "window_end": (now + timedelta(days=1)).isoformat(), "item_ids": ["i1", "i2"]}
    city = caller(apps, "inspections", "city-office", "city_admin")
    first = city.post("/v1/inspections", json=plan, headers=KEY)
    assert first.status_code == 201
    inspector = caller(apps, "inspections", "wang", "inspector", KEQIAO)
    started = inspector.post(f"/v1/inspections/{first.get_json()['id']}/start")
    assert started.status_code == 200
    again = city.post("/v1/inspections", json=plan, headers=KEY)
    replayed(first, again)  # the plan as first answered: still planned
    assert again.get_json()["status"] == "planned"
    return started.get_json() | {"copy": copy, "inspector": inspector}


def test_repeated_results_answer_the_first_filing_not_the_items_reopened_since(apps,
                                                                                inspection):
    """Issue 17 item 7: the same key and body 6 s later answered the sampled items as they
    stood then (reopened, reopen_count 1) instead of the first answer (closed, 0)."""
    inspector = inspection["inspector"]
    observed = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = {"checks": [{"item_id": "i1", "outcome": "fail", "findings": "违章建筑仍未拆除",
                        "observed_at": observed}]}
    path = f"/v1/inspections/{inspection['id']}/results"
    first = inspector.post(path, json=body, headers=KEY)
    assert first.status_code == 200, first.get_json()
    # The issues service reopens the item (rule R) and the copy hears of it.
    inspection["copy"].upsert_newer(copied("i1", status="reopened", reopen_count=1, version=5),
                                    datetime.now(UTC))
    now_seen = caller(apps, "inspections", "city-office", "city_admin").get(
        f"/v1/inspections/{inspection['id']}").get_json()
    assert now_seen["sampled_items"][0]["reopen_count"] == 1
    again = inspector.post(path, json=body, headers=KEY)
    replayed(first, again)
    sampled = again.get_json()["sampled_items"][0]
    assert (sampled["status"], sampled["reopen_count"]) == ("closed", 0)
    other = inspector.post(path, json=body | {"new_problems": [
        {"township": "灵芝镇", "village": "大善村", "problem": "新问题", "measure": "整改"}]},
        headers=KEY)
    assert other.status_code == 409


def test_a_repeated_photo_of_an_inspection_answers_the_first_record(apps, inspection):
    def upload():
        return inspection["inspector"].post(
            f"/v1/inspections/{inspection['id']}/evidence", headers=KEY,
            data={"file": (io.BytesIO(jpeg()), "IMG_1.JPG")}, content_type="multipart/form-data")

    first = upload()
    assert first.status_code == 201
    replayed(first, upload())


# --- notifications ---------------------------------------------------------------------------

def test_a_repeated_subscription_answers_the_first_secret_even_after_a_rotation(apps):
    county = caller(apps, "notifications", "yc-system", "subscriber", YUECHENG)
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["*"], "counties": [YUECHENG]}
    first = county.post("/v1/subscriptions", json=body, headers=KEY)
    assert first.status_code == 201
    rotated = county.post(f"/v1/subscriptions/{first.get_json()['id']}/rotate-secret")
    assert rotated.status_code == 200
    again = county.post("/v1/subscriptions", json=body, headers=KEY)
    replayed(first, again)
    assert county.post("/v1/subscriptions", json=body | {"event_types": ["issue.created"]},
                       headers=KEY).status_code == 409


# --- retention -------------------------------------------------------------------------------

def test_records_past_their_retention_are_swept_and_the_rest_and_every_item_kept(apps):
    issues_db = db(apps, "issues")
    county = caller(apps, "issues", "yc-admin", "county_admin", YUECHENG)
    bodies = [item_body() | {"village": f"村{n}"} for n in range(3)]
    answers = [county.post("/v1/items", json=b, headers={"Idempotency-Key": f"k{n}"})
               for n, b in enumerate(bodies)]
    assert all(a.status_code == 201 for a in answers)
    records = issues_db[idempotency.RECORDS]
    # Two of the three were kept longer ago than the retention.
    old = datetime.now(UTC) - timedelta(seconds=apps["settings"].idempotency_retention_seconds,
                                        minutes=1)
    ids = sorted(r["_id"] for r in records.find({}, {"_id": 1}))
    assert len(ids) == 3
    for record_id in ids[:2]:
        records.update_one({"_id": record_id}, {"$set": {"created_at": old}})
    store = idempotency.Records(issues_db, retention=timedelta(
        seconds=apps["settings"].idempotency_retention_seconds), sweep_every=timedelta(hours=1))
    later = datetime.now(UTC) + timedelta(hours=1)  # a period no sweep has held yet
    assert store.sweep(later) == 2
    assert store.sweep(later) is None  # the period's lease is taken: swept once
    assert sorted(r["_id"] for r in records.find({}, {"_id": 1})) == ids[2:]
    assert issues_db.items.count_documents({}) == 3
    # A repeat after the retention still creates nothing twice; it answers the item as it is.
    for n, body in enumerate(bodies):
        again = county.post("/v1/items", json=body, headers={"Idempotency-Key": f"k{n}"})
        assert again.status_code in (200, 201)
        assert again.get_json()["id"] == answers[n].get_json()["id"]
    assert issues_db.items.count_documents({}) == 3


def test_a_keyed_request_sweeps_in_the_background_once_a_period(apps, monkeypatch):
    issues_db = db(apps, "issues")
    records = issues_db[idempotency.RECORDS]
    stale = datetime.now(UTC) - timedelta(days=30)
    records.insert_one({"_id": "stale", "fingerprint": "", "status": 201, "created_at": stale,
                        "content_type": "application/json", "headers": {}, "body": b"{}"})
    monkeypatch.setattr(idempotency, "_tried", {})
    county = caller(apps, "issues", "yc-admin", "county_admin", YUECHENG)
    assert county.post("/v1/items", json=item_body(), headers=KEY).status_code == 201
    eventually(lambda: records.count_documents({"_id": "stale"}) == 0,
               message="the stale record was not swept")
    assert records.count_documents({}) == 1
