"""The lifecycle of an item (docs/domain.md) and who may move it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.issues.domain.model import (
    Caller,
    DomainError,
    Item,
    MissingInput,
    NotPermitted,
    TransitionNotAllowed,
)
from tests.unit.issues.builders import (
    CITY,
    KEQIAO_ADMIN,
    T0,
    YUECHENG_ADMIN,
    closed_item,
    later,
    new_item,
)


def test_a_new_item_is_open_at_version_1_with_its_creation_in_history():
    item = new_item()
    assert (item.status, item.version, item.reopen_count) == ("open", 1, 0)
    assert item.history == [{"at": T0, "actor": CITY.sub, "from": None, "to": "open",
                             "reason": None, "cause": "created"}]


def test_a_county_admin_creates_items_in_their_own_county_only():
    with pytest.raises(NotPermitted):
        Item.create(id="x", actor=KEQIAO_ADMIN, at=T0, county="330602", township="t",
                    village="v", problem="p", measure="m", deadline=T0.date())


def test_an_unknown_county_is_refused():
    with pytest.raises(DomainError) as refused:
        Item.create(id="x", actor=CITY, at=T0, county="999999", township="t", village="v",
                    problem="p", measure="m", deadline=T0.date())
    assert refused.value.field == "county"


def test_the_county_moves_an_item_up_to_pending_verification_with_evidence():
    item = new_item()
    item.transition("in_progress", actor=YUECHENG_ADMIN, at=later(1))
    changes = item.transition("pending_verification", actor=YUECHENG_ADMIN, at=later(2),
                              evidence=["整改照片.jpg"])
    assert item.status == "pending_verification" and item.version == 3
    assert [c.type for c in changes] == ["issue.status_changed"]
    assert changes[0].data["from_"] == "in_progress"
    assert item.history[-1]["evidence"] == ["整改照片.jpg"]


def test_asking_for_verification_without_evidence_is_refused_and_changes_nothing():
    item = new_item()
    item.transition("in_progress", actor=YUECHENG_ADMIN, at=later(1))
    for evidence in (None, [], ["  "]):
        with pytest.raises(MissingInput) as refused:
            item.transition("pending_verification", actor=YUECHENG_ADMIN, at=later(2),
                            evidence=evidence)
        assert refused.value.field == "evidence"
    assert (item.status, item.version, len(item.history)) == ("in_progress", 2, 2)


def test_only_the_city_verifies_and_crosses_off():
    item = new_item()
    item.transition("in_progress", actor=YUECHENG_ADMIN, at=later(1))
    item.transition("pending_verification", actor=YUECHENG_ADMIN, at=later(2), evidence=["e"])
    with pytest.raises(NotPermitted):
        item.transition("closed", actor=YUECHENG_ADMIN, at=later(3))
    changes = item.transition("closed", actor=CITY, at=later(3))
    assert item.status == "closed" and item.closed_at == later(3)
    assert [c.type for c in changes] == ["issue.status_changed", "issue.closed"]


def test_the_city_rejects_a_verification_only_with_a_reason():
    item = new_item()
    item.transition("in_progress", actor=CITY, at=later(1))
    item.transition("pending_verification", actor=CITY, at=later(2), evidence=["e"])
    with pytest.raises(MissingInput):
        item.transition("in_progress", actor=CITY, at=later(3), reason=" ")
    with pytest.raises(NotPermitted):
        item.transition("in_progress", actor=YUECHENG_ADMIN, at=later(3), reason="不到位")
    item.transition("in_progress", actor=CITY, at=later(3), reason="公示照片不清晰")
    assert item.status == "in_progress"
    assert item.history[-1]["cause"] == "rejected"
    assert item.history[-1]["reason"] == "公示照片不清晰"


def test_another_county_admin_may_not_move_the_item():
    with pytest.raises(NotPermitted):
        new_item().transition("in_progress", actor=KEQIAO_ADMIN, at=later(1))


@pytest.mark.parametrize("role", ["inspector", "subscriber"])
def test_inspectors_and_subscribers_never_move_items(role):
    with pytest.raises(NotPermitted):
        new_item().transition("in_progress", actor=Caller("x", role, "330602"), at=later(1))


def test_a_closed_item_leaves_closed_only_by_reopening():
    item = closed_item()
    for to in ("open", "in_progress", "pending_verification", "reopened"):
        with pytest.raises(TransitionNotAllowed):
            item.transition(to, actor=CITY, at=later(5))
    assert item.status == "closed"


@pytest.mark.parametrize("to", ["pending_verification", "closed", "reopened", "open"])
def test_moves_outside_the_lifecycle_are_refused(to):
    with pytest.raises(TransitionNotAllowed):
        new_item().transition(to, actor=CITY, at=later(1), evidence=["e"])


def test_a_reopened_item_is_taken_up_again_by_its_county(reopened_item):
    reopened_item.transition("in_progress", actor=YUECHENG_ADMIN, at=later(100))
    assert reopened_item.status == "in_progress"
    assert reopened_item.history[-1]["cause"] == "restarted"


def test_every_change_bumps_the_version_and_keeps_all_history():
    item = closed_item()
    assert item.version == 4
    assert [(h["from"], h["to"]) for h in item.history] == [
        (None, "open"), ("open", "in_progress"), ("in_progress", "pending_verification"),
        ("pending_verification", "closed")]


def test_days_to_close_count_calendar_days_from_creation():
    item = closed_item(at=later(24 * 10))
    assert item.days_to_close == 10


def test_overdue_is_derived_from_the_deadline_and_never_for_closed_items():
    item = new_item()
    assert not item.is_overdue(item.deadline)
    assert item.is_overdue(item.deadline + timedelta(days=1))
    closed = closed_item()
    assert not closed.is_overdue(closed.deadline + timedelta(days=99))
