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


def _claims(**claims) -> dict:
    # Expiry is computed when the test runs, not when it is collected.
    return {"exp": int(time.time()) + 60, **claims}


@pytest.mark.parametrize("token, reason", [
    (mint("another-secret", sub="x", role="city_admin"), "Signature"),
    (jwt.encode({"sub": "x", "role": "city_admin", "exp": int(time.time()) - 10}, SECRET),
     "expired"),
    (lambda: jwt.encode(_claims(sub="x", role="city_admin"), None, algorithm="none"),
     "not valid"),
    (lambda: jwt.encode(_claims(sub="x"), SECRET), "role"),
    (lambda: jwt.encode(_claims(role="city_admin"), SECRET), "sub"),
    (jwt.encode({"sub": "x", "role": "city_admin"}, SECRET), "exp"),
    (lambda: jwt.encode(_claims(sub="x", role="mayor"), SECRET), "role"),
    (lambda: jwt.encode(_claims(sub="x", role="county_admin"), SECRET), "county"),
    ("not.a.token", "not valid"),
])
def test_bad_tokens_are_refused(token, reason):
    with pytest.raises(Unauthorized, match=reason):
        decode(token() if callable(token) else token, SECRET)
