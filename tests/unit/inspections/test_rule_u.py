"""Rule U — unannounced: an inspection of county C is invisible to C until the team starts it."""

from datetime import timedelta

import pytest

from tests.unit.inspections.fakes import (
    CITY,
    INSPECTOR,
    NOW,
    OTHER_ADMIN,
    STRANGER,
    TARGET_ADMIN,
    TARGET_SUBSCRIBER,
    TEAMMATE,
    YUECHENG,
    Caller,
    planned,
    planning,
    started,
)


@pytest.mark.parametrize("viewer", [TARGET_ADMIN, TARGET_SUBSCRIBER])
def test_a_planned_inspection_is_invisible_to_the_target_county(viewer):
    assert not planned().visible_to(viewer)


@pytest.mark.parametrize("viewer", [TARGET_ADMIN, TARGET_SUBSCRIBER])
def test_the_target_county_sees_the_inspection_once_started(viewer):
    assert started().visible_to(viewer)


def test_a_cancelled_inspection_that_never_started_stays_invisible_to_the_target_county():
    inspection = planned()
    inspection.cancel(CITY, NOW)
    assert not inspection.visible_to(TARGET_ADMIN)


def test_a_cancelled_inspection_that_had_started_stays_visible_to_the_target_county():
    inspection = started()
    inspection.cancel(CITY, NOW + timedelta(minutes=30))
    assert inspection.visible_to(TARGET_ADMIN)


def test_the_city_sees_every_inspection():
    assert planned().visible_to(CITY) and started().visible_to(CITY)


@pytest.mark.parametrize("viewer", [INSPECTOR, TEAMMATE])
def test_an_inspector_on_the_team_sees_the_planned_inspection(viewer):
    assert planned().visible_to(viewer)


def test_an_inspector_not_on_the_team_sees_nothing_even_once_started():
    assert not planned().visible_to(STRANGER) and not started().visible_to(STRANGER)


def test_another_county_never_sees_the_inspection():
    assert not planned().visible_to(OTHER_ADMIN) and not started().visible_to(OTHER_ADMIN)


def test_a_team_member_whose_home_is_the_target_is_kept_in_the_dark_until_the_start():
    insider = Caller(INSPECTOR.sub, "inspector", YUECHENG)
    assert not planned().visible_to(insider)


def test_the_sampled_items_stay_secret_from_the_team_until_the_start():
    assert not planned().shows_items_to(INSPECTOR)
    assert started().shows_items_to(INSPECTOR)
    assert planned().shows_items_to(CITY)


def test_the_planned_event_carries_the_target_county_so_delivery_can_withhold_it():
    _, [event] = planning()
    assert (event.type, event.county) == ("inspection.planned", YUECHENG)
