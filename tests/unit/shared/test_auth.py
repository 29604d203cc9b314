"""Bearer tokens: HS256 with the deployment's secret, and the claims each role needs."""

import time

import jwt
import pytest

from shared.auth import decode, mint
from shared.errors import Unauthorized

SECRET = "unit-test-secret-of-at-least-32-bytes"


def test_a_minted_token_decodes_to_its_principal():
    principal = decode(mint(SECRET, sub="li", role="county_admin", county="330602"), SECRET)
    assert (principal.sub, principal.role, principal.county) == ("li", "county_admin", "330602")
    assert principal.sees_county("330602") and not principal.sees_county("330603")


def test_the_city_sees_every_county():
    principal = decode(mint(SECRET, sub="city", role="city_admin"), SECRET)
    assert principal.county is None and principal.sees_county("330603")


def test_an_inspector_home_county_is_not_a_read_scope():
    principal = decode(mint(SECRET, sub="wang", role="inspector", county="330602"), SECRET)
    assert not principal.sees_county("330602")


@pytest.mark.parametrize("token, reason", [
    (mint("another-secret", sub="x", role="city_admin"), "Signature"),
    (jwt.encode({"sub": "x", "role": "city_admin", "exp": int(time.time()) - 10}, SECRET),
     "expired"),
    (jwt.encode({"sub": "x", "role": "city_admin", "exp": int(time.time()) + 60}, None,
                algorithm="none"), "not valid"),
    (jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, SECRET), "role"),
    (jwt.encode({"role": "city_admin", "exp": int(time.time()) + 60}, SECRET), "sub"),
    (jwt.encode({"sub": "x", "role": "city_admin"}, SECRET), "exp"),
    (jwt.encode({"sub": "x", "role": "mayor", "exp": int(time.time()) + 60}, SECRET), "role"),
    (jwt.encode({"sub": "x", "role": "county_admin", "exp": int(time.time()) + 60}, SECRET),
     "county"),
    ("not.a.token", "not valid"),
])
def test_bad_tokens_are_refused(token, reason):
    with pytest.raises(Unauthorized, match=reason):
        decode(token, SECRET)
