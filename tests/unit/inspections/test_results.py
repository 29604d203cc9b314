"""Results: one filing completes the inspection; each check is of a sampled item, observed inside
the window, once; a failed check says what was found; every check and new problem is an event."""

import copy
from datetime import timedelta

import pytest

from services.inspections.domain.model import (
    Check,
    InvalidRequest,
    NewProblem,
    WrongStatus,
)
from shared.domain import NotPermitted
from tests.unit.inspections.fakes import (
    INSPECTOR,
    NOW,
    STRANGER,
    TEAMMATE,
    YUECHENG,
    planned,
    started,
)

SEEN = NOW - timedelta(minutes=10)
PROBLEM = NewProblem("灵芝镇", "大善村", "党员活动室长期闭门", "每周开放并公示值班表")


def file(inspection, checks, new_problems=(), by=INSPECTOR, key=None, fingerprint="f1"):
    return inspection.file_results(by, list(checks), list(new_problems), NOW, key=key,
                            fingerprint=fingerprint)


def refused_fields(checks) -> dict:
    inspection = started()
    before = copy.deepcopy(inspection)
    with pytest.raises(InvalidRequest) as refused:
        file(inspection, checks)
    assert inspection == before, "nothing may change"
    return refused.value.errors["checks"]


def test_a_filing_completes_the_inspection_with_one_event_per_check_and_problem():
    inspection = started()
    events = file(inspection, [Check("i1", "pass", SEEN),
                               Check("i2", "fail", SEEN, "整改措施未落实", ("photo:1.jpg",))],
                  [PROBLEM])
    assert inspection.status == "completed" and inspection.completed_at == NOW
    assert [e.type for e in events] == [
        "inspection.check_passed", "inspection.check_failed", "inspection.problem_found",
        "inspection.completed"]
    failed = events[1]
    assert failed.subject == "i2" and failed.county == YUECHENG
    assert failed.data["findings"] == "整改措施未落实" and failed.data["inspector"] == "wang"
    assert events[2].data["county"] == YUECHENG
    assert events[3].data | {"completed_at": None} == {
        "inspection_id": inspection.id, "target_county": YUECHENG, "checks": 2, "passed": 1,
        "failed": 1, "new_problems": 1, "completed_at": None}


def test_any_team_member_may_file():
    inspection = started()
    file(inspection, [Check("i1", "pass", SEEN)], by=TEAMMATE)
    assert inspection.filing.by == TEAMMATE.sub


def test_an_inspector_not_on_the_team_may_not_file():
    with pytest.raises(NotPermitted):
        file(started(), [Check("i1", "pass", SEEN)], by=STRANGER)


def test_a_check_of_an_item_outside_the_sample_is_refused():
    assert "item_id" in refused_fields([Check("elsewhere", "pass", SEEN)])["0"]


def test_the_same_item_may_not_be_checked_twice_in_one_filing():
    errors = refused_fields([Check("i1", "pass", SEEN), Check("i1", "fail", SEEN, "x")])
    assert "twice" in errors["1"]["item_id"][0]


@pytest.mark.parametrize("findings", [None, "", "   "])
def test_a_failed_check_must_say_what_was_found(findings):
    assert "findings" in refused_fields([Check("i1", "fail", SEEN, findings)])["0"]


def test_an_observation_in_the_future_is_refused():
    errors = refused_fields([Check("i1", "pass", NOW + timedelta(minutes=1))])
    assert errors["0"]["observed_at"] == ["Lies in the future."]


def test_an_observation_before_the_window_is_refused():
    inspection = started()
    before = inspection.window_start - timedelta(seconds=1)
    errors = refused_fields([Check("i1", "pass", before)])
    assert "window" in errors["0"]["observed_at"][0]


def test_every_bad_check_is_reported_by_its_position():
    errors = refused_fields([Check("i1", "pass", SEEN), Check("nope", "fail", SEEN)])
    assert set(errors) == {"1"} and set(errors["1"]) == {"item_id", "findings"}


def test_an_empty_filing_is_refused():
    inspection = started()
    with pytest.raises(InvalidRequest):
        file(inspection, [])


def test_new_problems_alone_complete_an_inspection():
    inspection = started()
    file(inspection, [], [PROBLEM])
    assert inspection.status == "completed"


def test_a_second_filing_is_refused():
    inspection = started()
    file(inspection, [Check("i1", "pass", SEEN)], key="k1")
    with pytest.raises(WrongStatus):
        file(inspection, [Check("i2", "pass", SEEN)], key="k2", fingerprint="f2")


def test_results_cannot_be_filed_before_the_start():
    with pytest.raises(WrongStatus):
        file(planned(), [Check("i1", "pass", SEEN)])


def test_the_same_key_and_body_is_recognised_as_a_retry_of_the_filing():
    inspection = started()
    file(inspection, [Check("i1", "pass", SEEN)], key="k1", fingerprint="f1")
    assert inspection.is_retry_of_filing(INSPECTOR, "k1", "f1")
    assert not inspection.is_retry_of_filing(INSPECTOR, "k2", "f1")
    assert not inspection.is_retry_of_filing(INSPECTOR, None, "f1")


def test_the_same_key_with_another_body_is_a_conflict():
    inspection = started()
    file(inspection, [Check("i1", "pass", SEEN)], key="k1", fingerprint="f1")
    with pytest.raises(WrongStatus, match="Idempotency-Key"):
        inspection.is_retry_of_filing(INSPECTOR, "k1", "f2")
