"""Rule X — cross inspection: no inspector may inspect their own home county."""

import copy
from datetime import timedelta

import pytest

from services.inspections.domain.model import Check, InvalidRequest, TeamMember
from shared.domain import NotPermitted
from tests.unit.inspections.fakes import (
    KEQIAO,
    NOW,
    TEAM,
    YUECHENG,
    Caller,
    planned,
    started,
)


def test_a_team_member_from_the_target_county_refuses_the_plan_naming_the_member():
    team = [*TEAM, TeamMember("sun", YUECHENG, "孙")]
    with pytest.raises(InvalidRequest) as refused:
        planned(team=team)
    assert "sun" in refused.value.message and "rule X" in refused.value.message
    assert set(refused.value.errors["team"]) == {"2"}


def test_a_team_entirely_from_other_counties_may_be_planned():
    inspection = planned(team=[TeamMember("wang", KEQIAO)])
    assert inspection.status == "planned"


def test_a_team_member_whose_token_says_home_county_is_the_target_cannot_start():
    # The city's plan listed "wang" as from 柯桥区, but the token says 越城区: the token decides.
    inspection = planned()
    before = copy.deepcopy(inspection)
    with pytest.raises(NotPermitted, match="rule X"):
        inspection.start(Caller("wang", "inspector", YUECHENG), NOW)
    assert inspection == before, "nothing may change"


def test_a_team_member_whose_token_says_home_county_is_the_target_cannot_file_results():
    inspection = started()
    before = copy.deepcopy(inspection)
    check = Check("i1", "pass", NOW - timedelta(minutes=5))
    with pytest.raises(NotPermitted, match="rule X"):
        inspection.file_results(Caller("wang", "inspector", YUECHENG), [check], [], NOW,
                                key=None, fingerprint="f")
    assert inspection == before, "nothing may change"
