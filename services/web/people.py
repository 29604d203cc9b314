"""Who is signed in, and how an identity provider's claims become one of the contract's roles.

No I/O here: the sign-in views hand claims in and keep the ``Person`` in the session.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from shared import divisions
from shared.auth import COUNTY_ROLES, ROLES, claim

ROLE_LABELS = {"city_admin": "市级管理员", "county_admin": "县区管理员", "inspector": "督查组成员",
               "subscriber": "县区系统"}


@dataclass(frozen=True)
class Person:
    sub: str
    role: str
    name: str
    county: str | None = None

    @property
    def county_name(self) -> str:
        region = divisions.current()
        return region.county_name(self.county or "") or region.name

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    def as_dict(self) -> dict:
        return asdict(self)


def person_from_claims(claims: dict, *, role_claim: str, county_claim: str) -> Person:
    """The person an ID token's claims describe; ValueError says why none can be made.

    The role claim may hold one role or a list of them (a group list): the first of the
    contract's roles found is taken. Every role but the city's needs a known county.
    """
    raw = claim(claims, role_claim)
    offered = raw if isinstance(raw, list) else [raw]
    role = next((r for r in offered if r in ROLES), None)
    if role is None:
        raise ValueError(f"身份声明 {role_claim} 中没有可用的角色（{', '.join(ROLES)}）。")
    county = claim(claims, county_claim)
    if role in COUNTY_ROLES:
        if not (isinstance(county, str) and divisions.current().is_county(county)):
            raise ValueError(f"身份声明 {county_claim} 没有给出已知的县区代码。")
    else:
        county = None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise ValueError("身份声明缺少 sub。")
    name = claims.get("name") or claims.get("preferred_username") or sub
    return Person(sub=sub, role=role, name=str(name), county=county)


def demo_people() -> list[Person]:
    """The people of the local sign-in (`make run` only): the subjects the demo story uses."""
    counties = divisions.current().counties
    people = [Person("demo-city@330600", "city_admin", "市委组织部 管理员")]
    people += [Person(f"demo-county-admin@{code}", "county_admin", f"{name} 管理员", code)
               for code, name in counties.items()]
    for code, number, surname in (("330602", 1, "赵"), ("330602", 2, "钱"), ("330603", 1, "孙"),
                                  ("330604", 1, "李"), ("330681", 1, "周")):
        if code in counties:
            people.append(Person(f"demo-inspector-{number}@{code}", "inspector",
                                 f"督查组 {surname}某某（{counties[code]}）", code))
    return people
