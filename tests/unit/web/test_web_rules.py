"""The web app's own rules, without I/O: claims to a person, cookies that must be Secure, the
team lines of a plan and rule X in words, an import's refused rows against their row."""

from __future__ import annotations

import pytest

from services.web.app import secure_cookies
from services.web.city import read_team, rule_x_words
from services.web.county import bad_rows
from services.web.people import demo_people, person_from_claims

pytestmark = pytest.mark.unit
CLAIMS = {"role_claim": "role", "county_claim": "county"}


def test_claims_name_the_role_and_the_county():
    person = person_from_claims({"sub": "u1", "role": "county_admin", "county": "330603",
                                 "name": "李四"}, **CLAIMS)
    assert (person.sub, person.role, person.county, person.name) == (
        "u1", "county_admin", "330603", "李四")
    assert person.county_name == "柯桥区"


def test_a_group_list_under_a_nested_claim_gives_the_first_known_role():
    claims = {"sub": "u2", "realm_access": {"roles": ["offline_access", "inspector"]},
              "org": {"county": "330602"}}
    person = person_from_claims(claims, role_claim="realm_access.roles",
                                county_claim="org.county")
    assert (person.role, person.county) == ("inspector", "330602")


def test_the_city_needs_no_county_and_keeps_none():
    person = person_from_claims({"sub": "c", "role": "city_admin", "county": "330603"},
                                **CLAIMS)
    assert person.county is None


@pytest.mark.parametrize("claims, says", [
    ({"sub": "x", "role": "admin"}, "没有可用的角色"),
    ({"sub": "x", "role": "inspector"}, "县区代码"),
    ({"sub": "x", "role": "county_admin", "county": "999999"}, "县区代码"),
    ({"role": "city_admin"}, "sub"),
])
def test_claims_that_make_no_person_are_refused_with_the_reason(claims, says):
    with pytest.raises(ValueError, match=says):
        person_from_claims(claims, **CLAIMS)


def test_the_demo_people_are_the_city_every_county_and_inspectors_of_several_counties():
    people = demo_people()
    roles = [p.role for p in people]
    assert roles.count("city_admin") == 1 and roles.count("county_admin") == 9
    assert len({p.county for p in people if p.role == "inspector"}) >= 3


@pytest.mark.parametrize("url, secure", [("https://ducha.example.cn", True),
                                         ("http://127.0.0.1:8000", False),
                                         ("http://localhost:8000", False)])
def test_cookies_are_secure_except_over_plain_http_on_this_machine(url, secure):
    assert secure_cookies(url) is secure


@pytest.mark.parametrize("url", ["http://ducha.example.cn", "http://10.0.0.5:8000"])
def test_plain_http_elsewhere_is_refused(url):
    with pytest.raises(ValueError, match="https"):
        secure_cookies(url)


def test_team_lines_take_a_county_by_code_or_name_and_say_what_is_wrong():
    team, problems = read_team("wang, 330602, 王某\nzhao，柯桥区\n\nli, 火星区\n, 330602")
    assert team == [{"sub": "wang", "county": "330602", "name": "王某"},
                    {"sub": "zhao", "county": "330603"}]
    assert problems == ["第 4 行：不认识县区“火星区”。", "第 5 行：请写成“账号, 县区, 姓名”。"]


def test_rule_x_names_each_member_of_the_target_county_in_words():
    team = [{"sub": "wang", "county": "330602", "name": "王某"}, {"sub": "sun", "county": "330603"}]
    words = rule_x_words(team, "330603")
    assert len(words) == 1 and "sun" in words[0] and "柯桥区" in words[0] and "规则 X" in words[0]


def test_refused_rows_come_in_row_order_with_their_column_and_message():
    rows = bad_rows({"row 12": ["完成时间: does not say which year"],
                     "row 3": ["县区代码: unknown county", "存在问题: Missing."]})
    assert rows == [
        {"row": 3, "problems": [("县区代码", "unknown county"), ("存在问题", "Missing.")]},
        {"row": 12, "problems": [("完成时间", "does not say which year")]}]
