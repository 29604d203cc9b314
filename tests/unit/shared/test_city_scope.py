"""A city_admin token's ``city`` claim: the admin of one city of a province region."""

import jwt
import pytest

from shared.auth import decode, mint
from shared.errors import Unauthorized

SECRET = "unit-test-secret-of-at-least-32-bytes"


def test_a_city_claim_scopes_a_city_admin_to_that_citys_counties():
    principal = decode(mint(SECRET, sub="ls", role="city_admin", city="331100"), SECRET)
    assert principal.is_city and principal.city == "331100"
    assert principal.sees_county("331125") and not principal.sees_county("330602")


def test_a_city_admin_without_the_claim_keeps_the_whole_region():
    principal = decode(mint(SECRET, sub="zj", role="city_admin"), SECRET)
    assert principal.city is None
    assert principal.sees_county("331125") and principal.sees_county("330602")


def test_the_claim_scopes_city_admins_only():
    token = jwt.encode({"sub": "yc", "role": "county_admin", "county": "330602",
                        "city": "331100", "exp": 4_000_000_000}, SECRET, algorithm="HS256")
    principal = decode(token, SECRET)
    assert principal.city is None and principal.sees_county("330602")


@pytest.mark.parametrize("city", ["330000", "330602", "3311", 331100, ""])
def test_a_city_claim_that_is_no_city_code_is_refused(city):
    token = jwt.encode({"sub": "x", "role": "city_admin", "city": city, "exp": 4_000_000_000},
                       SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized, match="city"):
        decode(token, SECRET)
