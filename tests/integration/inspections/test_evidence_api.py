"""Evidence photos of an inspection on the real database: taken by the team while it runs,
seen by whoever sees the inspection (rule U), named by the checks of its results."""

from __future__ import annotations

import io

import pytest

from shared.evidence import BUCKET
from tests.integration.inspections.test_inspections_api import check, plan, results, started
from tests.photos import jpeg, metadata_of

pytestmark = pytest.mark.usefixtures("items")


def upload(caller, inspection: dict, data: bytes = b"", headers=None):
    return caller.post(f"/v1/inspections/{inspection['id']}/evidence", headers=headers or {},
                       data={"file": (io.BytesIO(data or jpeg()), "IMG_0001.JPG")},
                       content_type="multipart/form-data")


def photo_count(db) -> int:
    return db[f"{BUCKET}.files"].count_documents({})


def test_the_team_uploads_on_site_and_the_checks_name_the_photos(as_, db):
    inspection = started(as_)
    answer = upload(as_["inspector"], inspection)
    photo = answer.get_json()
    assert answer.status_code == 201, photo
    assert photo["has_location"] is True and "location" not in photo
    filed = as_["inspector"].post(f"/v1/inspections/{inspection['id']}/results", json=results(
        check("i1", "fail", "未公示", evidence=[photo["id"], "现场记录 第2页"])))
    assert filed.status_code == 200, filed.get_json()
    assert filed.get_json()["checks"][0]["evidence"] == [photo["id"], "现场记录 第2页"]
    failed = [e for c in db.inspection_changes.find() for e in c["outbox"]
              if e["type"] == "inspection.check_failed"]
    assert failed[0]["data"]["evidence"] == [photo["id"], "现场记录 第2页"]


def test_a_check_naming_a_photo_of_another_inspection_or_none_is_422_and_files_nothing(as_, db):
    inspection, other = started(as_), started(as_)
    theirs = upload(as_["inspector"], other).get_json()["id"]
    for wrong in (theirs, "6f1c2a5e-0b7d-4c8e-9a1f-3d2b4c5e6f70"):
        refused = as_["inspector"].post(f"/v1/inspections/{inspection['id']}/results",
                                        json=results(check("i1"), check("i2", evidence=[wrong])))
        assert refused.status_code == 422
        assert refused.get_json()["errors"] == {"checks": {"1": {"evidence": {
            "0": [f"{wrong} is not a photo uploaded to this inspection."]}}}}
    current = as_["city"].get(f"/v1/inspections/{inspection['id']}").get_json()
    assert current["status"] == "in_progress" and current["checks"] == []


def test_photos_are_added_by_the_team_while_in_progress_only(as_, db):
    planned = plan(as_)
    assert upload(as_["inspector"], planned).status_code == 409
    inspection = started(as_)
    assert upload(as_["stranger"], inspection).status_code == 404
    for role in ("city", "target_admin"):
        assert upload(as_[role], inspection).status_code == 403
    as_["inspector"].post(f"/v1/inspections/{inspection['id']}/results",
                          json=results(check("i1")))
    assert upload(as_["teammate"], inspection).status_code == 409
    assert photo_count(db) == 0


def test_rule_u_whoever_sees_the_inspection_sees_its_photos_and_no_one_else(as_):
    inspection = started(as_)
    photo = upload(as_["inspector"], inspection).get_json()
    path = f"/v1/inspections/{inspection['id']}/evidence/{photo['id']}"
    for role in ("city", "inspector", "teammate", "target_admin", "target_subscriber"):
        served = as_[role].get(path)
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        assert metadata_of(served.data) == {}
        assert "private" in served.headers["Cache-Control"]
    for role in ("stranger", "other_admin"):
        assert as_[role].get(path).status_code == 404
    assert as_["city"].get(path + "/metadata").get_json()["location"] is not None
    assert "location" not in as_["target_admin"].get(path + "/metadata").get_json()


def test_rule_u_a_county_never_sees_a_photo_of_an_unstarted_inspection(as_, db):
    """A photo cannot be added before the start; and were one there, the unstarted
    inspection and everything under it answer 404 to its county like a missing one."""
    planned = plan(as_)
    path = f"/v1/inspections/{planned['id']}/evidence/6f1c2a5e-0b7d-4c8e-9a1f-3d2b4c5e6f70"
    for role in ("target_admin", "target_subscriber"):
        hidden = as_[role].get(path)
        missing = as_[role].get(path.replace(planned["id"], "no-such-inspection"))
        assert hidden.status_code == missing.status_code == 404
        assert hidden.get_json()["detail"] == missing.get_json()["detail"]


def test_a_bad_upload_stores_nothing(as_, db):
    inspection = started(as_)
    assert upload(as_["inspector"], inspection, b"GIF89a" + bytes(100)).status_code == 415
    assert upload(as_["inspector"], inspection, jpeg(size=(300, 200))[:200]).status_code == 422
    assert photo_count(db) == 0


def test_a_photo_resent_under_its_key_is_kept_once(as_, db):
    inspection = started(as_)
    key = {"Idempotency-Key": "phone-photo-7"}
    first, again = (upload(as_["inspector"], inspection, headers=key) for _ in range(2))
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json() and photo_count(db) == 1
