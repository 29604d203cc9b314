"""Bearer tokens and the roles of docs/api.md: tokens of the organisation's OpenID Connect
provider, verified by its JWKS (RS256, ES256), beside HS256 tokens signed with the deployment's
secret for local use (docs/deployment.md, Sign-in).

``python -m shared.auth mint --role county_admin --county 330602`` prints a token for local use.
"""

from __future__ import annotations

import argparse
import functools
import time

import jwt
import requests
from flask import current_app, g, request

from shared.domain import Caller
from shared.errors import ApiError, Forbidden, Unauthorized

ROLES = ("city_admin", "county_admin", "inspector", "subscriber")
# Roles whose token must name a county: the scope of an admin or subscriber, an inspector's home.
COUNTY_ROLES = ("county_admin", "inspector", "subscriber")
# A city_admin token may name a city (claim ``city``, a city code of a province region): the
# admin's scope is then that city's counties; without it, the whole region as before.
CITY_CLAIM = "city"


def decode(token: str, secret: str) -> Caller:
    """The caller of an HS256 token signed with the deployment's secret; none is taken when the
    secret is empty (a deployment that signs in through its provider only)."""
    if not secret:
        raise Unauthorized("This deployment takes its sign-in provider's tokens only.")
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["sub", "role", "exp"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"The token is not valid: {exc}.") from exc
    return caller_from(claims)


def caller_from(claims: dict) -> Caller:
    """The caller that verified claims name (``sub``, ``role``, ``county``, ``city``)."""
    role = claims.get("role")
    if role not in ROLES:
        raise Unauthorized(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}.")
    county = claims.get("county")
    if role in COUNTY_ROLES and not (isinstance(county, str) and county):
        raise Unauthorized(f"A {role} token must carry its county.")
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("The token's subject is empty.")
    city = claims.get(CITY_CLAIM) if role == "city_admin" else None
    if city is not None and not (isinstance(city, str) and len(city) == 6 and city.isdigit()
                                 and city.endswith("00") and not city.endswith("0000")):
        raise Unauthorized(f"The token's {CITY_CLAIM} claim must be a six-digit city code.")
    return Caller(sub=sub, role=role, county=county if role in COUNTY_ROLES else None,
                     city=city)


def mint(secret: str, *, sub: str, role: str, county: str | None = None,
         city: str | None = None, ttl_seconds: int = 8 * 3600) -> str:
    claims = {"sub": sub, "role": role, "exp": int(time.time()) + ttl_seconds}
    if county:
        claims["county"] = county
    if city:
        claims[CITY_CLAIM] = city
    return jwt.encode(claims, secret, algorithm="HS256")


def current_caller() -> Caller:
    """The caller of this request; 401 when the token is missing or bad."""
    if "caller" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Send a bearer token in the Authorization header.")
        g.caller = verifier(current_app.config["SETTINGS"]).caller(token.strip())
    return g.caller


ISSUER_ALGORITHMS = ("RS256", "ES256")


class Verifier:
    """Verifies a bearer token by its algorithm: HS256 with the deployment's secret; RS256 or
    ES256 by the issuer's JWKS, checking issuer, audience and expiry, with the provider's claim
    names mapped to role, county and city. No other algorithm is taken, so a token signed with
    the public key as an HMAC secret is refused."""

    def __init__(self, settings):
        self.settings = settings
        self._jwks: jwt.PyJWKClient | None = None

    def caller(self, token: str) -> Caller:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"The token is not valid: {exc}.") from exc
        if algorithm == "HS256":
            return decode(token, self.settings.jwt_secret)
        if algorithm in ISSUER_ALGORITHMS and self.settings.oidc_issuer:
            return self._issued(token)
        raise Unauthorized(f"Tokens signed {algorithm} are not taken here.")

    def _issued(self, token: str) -> Caller:
        s = self.settings
        try:
            key = self._keys().get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token, key.key, algorithms=list(ISSUER_ALGORITHMS), issuer=s.oidc_issuer,
                audience=s.oidc_audience or None,
                options={"require": ["sub", "exp", "iss"], "verify_aud": bool(s.oidc_audience)})
        except jwt.PyJWKClientConnectionError as exc:
            raise ApiError("The sign-in provider's keys cannot be fetched; try again shortly.",
                           status=503, title="Service Unavailable",
                           headers={"Retry-After": "5"}) from exc
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.") from exc
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as exc:
            raise Unauthorized(f"The token is not valid: {exc}.") from exc
        offered = claim(claims, s.oidc_role_claim)
        roles = offered if isinstance(offered, list) else [offered]
        return caller_from({
            "sub": claims["sub"], "role": next((r for r in roles if r in ROLES), offered),
            "county": claim(claims, s.oidc_county_claim),
            "city": claim(claims, s.oidc_city_claim)})

    def _keys(self) -> jwt.PyJWKClient:
        """The issuer's key set, fetched when a key is first needed and kept
        ``OIDC_JWKS_CACHE_SECONDS``; an unknown key id fetches it again, at most once every
        30 s (PyJWT's cooldown), so a provider's key rotation is taken up at once."""
        if self._jwks is None:
            s = self.settings
            self._jwks = jwt.PyJWKClient(s.oidc_jwks_url or _discovered_jwks_url(s.oidc_issuer),
                                         cache_keys=True, lifespan=s.oidc_jwks_cache_seconds,
                                         timeout=5)
        return self._jwks


def _discovered_jwks_url(issuer: str) -> str:
    try:
        answer = requests.get(issuer.rstrip("/") + "/.well-known/openid-configuration",
                              timeout=5)
        answer.raise_for_status()
        return answer.json()["jwks_uri"]
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise jwt.PyJWKClientConnectionError(
            f"no jwks_uri from {issuer}'s OpenID configuration: {exc}") from exc


def claim(claims: dict, path: str):
    """A claim by name, or by a dotted path into nested claims (``realm_access.roles``)."""
    value = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@functools.cache
def verifier(settings) -> Verifier:
    """One verifier (and key cache) per process and configuration."""
    return Verifier(settings)


def require(*roles: str):
    """Decorator: the caller must hold one of ``roles``; the view receives ``caller``."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            caller = current_caller()
            if caller.role not in roles:
                raise Forbidden(f"The role {caller.role} may not do this.")
            return view(*args, caller=caller, **kwargs)

        return wrapper

    return decorator


def main(argv: list[str] | None = None) -> None:
    from shared.config import Settings

    parser = argparse.ArgumentParser(prog="python -m shared.auth", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mint", help="print a bearer token")
    m.add_argument("--role", choices=ROLES, required=True)
    m.add_argument("--county", help="county code (required for every role but city_admin)")
    m.add_argument("--city", help="a city_admin's city in a province region (default: all)")
    m.add_argument("--sub", default=None, help="the subject; defaults to role@county")
    m.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    args = parser.parse_args(argv)
    if args.role in COUNTY_ROLES and not args.county:
        parser.error(f"--county is required for {args.role}")
    if args.city and args.role != "city_admin":
        parser.error("--city scopes a city_admin only")
    subject = args.sub or f"{args.role}@{args.county or args.city or 'city'}"
    print(mint(Settings.from_env().jwt_secret, sub=subject, role=args.role, county=args.county,
               city=args.city, ttl_seconds=args.ttl))


if __name__ == "__main__":
    main()
