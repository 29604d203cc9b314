"""Evidence photos of an item on the real database (GridFS on FerretDB or MongoDB): upload,
scoping as the item's, stripped bytes served with cache headers, references in transitions."""

from __future__ import annotations

import io
from datetime import datetime

import pytest

from shared.evidence import BUCKET
from tests.integration.issues.conftest import KEQIAO
from tests.photos import LAT_DECIMAL, heic, jpeg, metadata_of, png


def upload(caller, item: dict, data: bytes, *, name: str = "photo.jpg", headers=None,
           content_type: str = "image/jpeg"):
    return caller.post(f"/v1/items/{item['id']}/evidence", headers=headers or {},
                       data={"file": (io.BytesIO(data), name, content_type)},
                       content_type="multipart/form-data")


def stored(db) -> tuple[int, int]:
    return (db[f"{BUCKET}.files"].count_documents({}),
            db[f"{BUCKET}.chunks"].count_documents({}))


def test_an_upload_is_answered_with_its_id_and_served_stripped_to_whoever_sees_the_item(
        city, yuecheng, as_role):
    item = yuecheng.create()
    answer = upload(yuecheng, item, jpeg())
    body = answer.get_json()
    assert answer.status_code == 201, body
    assert body["content_type"] == "image/jpeg" and body["has_location"] is True
    assert datetime.fromisoformat(body["taken_at"]) == datetime.fromisoformat(
        "2026-06-10T10:20:00+08:00") and len(body["sha256"]) == 64
    assert "location" not in body  # the county's own upload: the position is the city's
    assert answer.headers["Location"].endswith(f"/evidence/{body['id']}")
    for reader in (yuecheng, city, as_role("subscriber", "330602")):
        served = reader.get(f"/v1/items/{item['id']}/evidence/{body['id']}")
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        assert metadata_of(served.data) == {} and len(served.data) == body["size"]
        assert "private" in served.headers["Cache-Control"]
        assert served.headers["ETag"] == f'"{body["sha256"]}"'
    again = yuecheng.get(f"/v1/items/{item['id']}/evidence/{body['id']}",
                         headers={"If-None-Match": f'"{body["sha256"]}"'})
    assert again.status_code == 304 and again.data == b""


def test_an_iphones_heic_is_taken_and_served_as_jpeg(yuecheng, city):
    item = yuecheng.create()
    answer = upload(yuecheng, item, heic(), name="IMG_0001.HEIC", content_type="image/heic")
    body = answer.get_json()
    assert answer.status_code == 201 and body["content_type"] == "image/jpeg", body
    served = city.get(f"/v1/items/{item['id']}/evidence/{body['id']}")
    assert served.mimetype == "image/jpeg" and served.data[:3] == b"\xff\xd8\xff"
    assert metadata_of(served.data) == {}
    assert city.get(f"/v1/items/{item['id']}/evidence/{body['id']}/metadata").get_json()[
        "location"]["lat"] == pytest.approx(LAT_DECIMAL)


def test_the_city_reads_the_kept_position_and_a_county_does_not(city, yuecheng):
    item = yuecheng.create()
    photo = upload(yuecheng, item, jpeg()).get_json()
    path = f"/v1/items/{item['id']}/evidence/{photo['id']}/metadata"
    assert city.get(path).get_json()["location"]["lat"] == pytest.approx(LAT_DECIMAL)
    county_view = yuecheng.get(path).get_json()
    assert county_view["has_location"] is True and "location" not in county_view


def test_another_county_an_inspector_and_strangers_cannot_see_or_add_photos(
        yuecheng, keqiao, as_role, app, db):
    item = yuecheng.create()
    photo = upload(yuecheng, item, jpeg()).get_json()
    path = f"/v1/items/{item['id']}/evidence/{photo['id']}"
    assert keqiao.get(path).status_code == 404
    assert keqiao.get(path + "/metadata").status_code == 404
    assert as_role("inspector", KEQIAO).get(path).status_code == 403
    assert app.test_client().get(path).status_code == 401
    before = stored(db)
    assert upload(keqiao, item, jpeg()).status_code == 404
    assert upload(as_role("subscriber", "330602"), item, jpeg()).status_code == 403
    assert stored(db) == before


def test_a_photo_of_one_item_is_not_found_under_another(yuecheng):
    first, second = yuecheng.create(), yuecheng.create()
    photo = upload(yuecheng, first, jpeg()).get_json()
    assert yuecheng.get(f"/v1/items/{second['id']}/evidence/{photo['id']}").status_code == 404


def test_the_public_board_never_shows_a_photo(yuecheng, app):
    item = yuecheng.create(public=True)
    photo = upload(yuecheng, item, jpeg()).get_json()
    board = app.test_client().get("/board/330602")
    assert board.status_code == 200 and item["problem"] in board.get_data(as_text=True)
    assert photo["id"] not in board.get_data(as_text=True)


@pytest.mark.parametrize(("data", "status"), [
    (b"GIF89a" + bytes(200), 415),
    (b"%PDF-1.7\n" + bytes(200), 415),
    (jpeg(size=(400, 300))[:300], 422),
    (png(size=(200, 200))[:60], 422),
    (jpeg() + bytes(10 * 1024 * 1024), 413),
], ids=["gif", "pdf", "truncated-jpeg", "truncated-png", "over-10-mb"])
def test_a_bad_upload_is_refused_clearly_and_stores_nothing(yuecheng, db, data, status):
    item = yuecheng.create()
    before = stored(db)
    # A name and a declared type that lie: the bytes decide.
    answer = upload(yuecheng, item, data, name="photo.jpg", content_type="image/jpeg")
    assert answer.status_code == status, answer.get_json()
    assert answer.content_type == "application/problem+json" and answer.get_json()["errors"]
    assert stored(db) == before


def test_an_upload_without_the_file_field_is_422(yuecheng, db):
    item = yuecheng.create()
    answer = yuecheng.post(f"/v1/items/{item['id']}/evidence", data={"other": "x"},
                           content_type="multipart/form-data")
    assert answer.status_code == 422 and "file" in answer.get_json()["errors"]


def test_an_upload_with_other_fields_beside_the_photo_is_422(yuecheng, db):
    item = yuecheng.create()
    before = stored(db)
    answer = yuecheng.post(f"/v1/items/{item['id']}/evidence", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(png()), "p.png"), "note": "x"})
    assert answer.status_code == 422 and answer.get_json()["errors"] == {
        "note": ["Unknown field."]}
    assert stored(db) == before


def test_the_same_key_and_photo_keep_one_photo_and_another_photo_is_409(yuecheng, db):
    item = yuecheng.create()
    key = {"Idempotency-Key": "photo-1"}
    first = upload(yuecheng, item, jpeg(), headers=key)
    again = upload(yuecheng, item, jpeg(), headers=key)
    assert first.status_code == 201 and again.status_code == 201
    assert again.get_json() == first.get_json()
    assert stored(db)[0] == 1
    assert upload(yuecheng, item, png(), headers=key).status_code == 409


def test_submitting_for_verification_names_the_photos_uploaded_to_the_item(yuecheng, city):
    item = yuecheng.create()
    other = yuecheng.create()
    mine = upload(yuecheng, item, jpeg()).get_json()["id"]
    theirs = upload(yuecheng, other, jpeg()).get_json()["id"]
    yuecheng.move(item, "in_progress")
    etag = yuecheng.get(f"/v1/items/{item['id']}").headers["ETag"]
    for wrong in (theirs, "6f1c2a5e-0b7d-4c8e-9a1f-3d2b4c5e6f70"):
        refused = yuecheng.post(f"/v1/items/{item['id']}/transitions",
                                json={"to": "pending_verification", "evidence": [mine, wrong]},
                                headers={"If-Match": etag})
        assert refused.status_code == 422
        assert refused.get_json()["errors"] == {
            "evidence": {"1": [f"{wrong} is not a photo uploaded to this item."]}}
    assert yuecheng.get(f"/v1/items/{item['id']}").headers["ETag"] == etag  # nothing changed
    moved = yuecheng.move(item, "pending_verification", evidence=[mine, "整改报告 第3号"])
    assert moved["history"][-1]["evidence"] == [mine, "整改报告 第3号"]
    assert city.get(f"/v1/items/{item['id']}/evidence/{mine}").status_code == 200


def test_the_openapi_document_describes_the_upload_as_multipart(app):
    paths = app.test_client().get("/openapi.json").get_json()["paths"]
    upload_doc = paths["/v1/items/{item_id}/evidence"]["post"]
    assert "multipart/form-data" in upload_doc["requestBody"]["content"]
    assert {"201", "413", "415", "422"} <= set(upload_doc["responses"])
    served = paths["/v1/items/{item_id}/evidence/{evidence_id}"]["get"]["responses"]["200"]
    assert {"image/jpeg", "image/png"} <= set(served["content"])
