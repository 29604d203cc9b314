"""An inspection is planned, started on site within its window, completed by one filing, or
cancelled by the city before that."""

from datetime import timedelta

import pytest

from services.inspections.domain.model import InvalidRequest, WrongStatus
from shared.domain import NotPermitted
from tests.unit.inspections.fakes import (
    CITY,
    INSPECTOR,
    NOW,
    STRANGER,
    TARGET_ADMIN,
    planned,
    planning,
    started,
)


def test_planning_raises_the_planned_event_with_the_items_and_team():
    inspection, [event] = planning()
    assert event.type == "inspection.planned" and event.subject == inspection.id
    assert event.data["item_ids"] == ["i1", "i2", "i3"]
    assert [m["sub"] for m in event.data["team"]] == ["wang", "zhao"]


@pytest.mark.parametrize("start, end, field", [
    (NOW + timedelta(hours=2), NOW + timedelta(hours=1), "window_end"),
    (NOW, NOW, "window_end"),
    (NOW - timedelta(days=3), NOW - timedelta(days=1), "window_end"),
])
def test_the_window_must_end_after_it_starts_and_not_lie_in_the_past(start, end, field):
    with pytest.raises(InvalidRequest) as refused:
        planned(window_start=start, window_end=end, now=NOW)
    assert field in refused.value.errors


def test_an_inspection_needs_items_and_each_only_once():
    with pytest.raises(InvalidRequest):
        planned(item_ids=[])
    with pytest.raises(InvalidRequest):
        planned(item_ids=["i1", "i1"])


def test_a_team_member_starts_it_on_site_and_the_start_is_announced():
    inspection = planned()
    [event] = inspection.start(INSPECTOR, NOW)
    assert inspection.status == "in_progress" and inspection.announced
    assert inspection.started_by == INSPECTOR.sub
    assert event.type == "inspection.started"


def test_only_a_team_member_may_start_it():
    with pytest.raises(NotPermitted):
        planned().start(STRANGER, NOW)


def test_it_cannot_start_twice():
    with pytest.raises(WrongStatus):
        started().start(INSPECTOR, NOW)


def test_it_cannot_start_outside_its_window():
    inspection = planned()
    with pytest.raises(WrongStatus, match="window"):
        inspection.start(INSPECTOR, inspection.window_end + timedelta(seconds=1))
    assert inspection.status == "planned"


@pytest.mark.parametrize("build", [planned, started])
def test_the_city_may_cancel_a_planned_or_running_inspection(build):
    inspection = build()
    inspection.cancel(CITY, NOW, "暴雨")
    assert (inspection.status, inspection.cancel_reason) == ("cancelled", "暴雨")


def test_nobody_but_the_city_may_cancel():
    with pytest.raises(NotPermitted):
        planned().cancel(TARGET_ADMIN, NOW)


def test_cancelling_raises_no_event_so_a_never_started_plan_stays_unknown_to_its_county():
    assert planned().cancel(CITY, NOW) == []


def test_a_cancelled_inspection_can_neither_start_nor_be_cancelled_again():
    inspection = planned()
    inspection.cancel(CITY, NOW)
    with pytest.raises(WrongStatus):
        inspection.start(INSPECTOR, NOW)
    with pytest.raises(WrongStatus):
        inspection.cancel(CITY, NOW)
