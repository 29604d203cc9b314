"""Bearer tokens (HS256 JWT) and the roles of docs/api.md.

``python -m shared.auth mint --role county_admin --county 330602`` prints a token for local use.
"""

from __future__ import annotations

import argparse
import functools
import time
from dataclasses import dataclass

import jwt
from flask import current_app, g, request

from shared.errors import Forbidden, Unauthorized

ROLES = ("city_admin", "county_admin", "inspector", "subscriber")
# Roles whose token must name a county: the scope of an admin or subscriber, an inspector's home.
COUNTY_ROLES = ("county_admin", "inspector", "subscriber")


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    county: str | None = None

    @property
    def is_city(self) -> bool:
        return self.role == "city_admin"

    def sees_county(self, county: str) -> bool:
        """Whether this caller's scope covers ``county`` (the city covers all)."""
        if self.is_city:
            return True
        return self.role in ("county_admin", "subscriber") and self.county == county


def decode(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["sub", "role", "exp"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"The token is not valid: {exc}.") from exc
    role = claims.get("role")
    if role not in ROLES:
        raise Unauthorized(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}.")
    county = claims.get("county")
    if role in COUNTY_ROLES and not (isinstance(county, str) and county):
        raise Unauthorized(f"A {role} token must carry its county.")
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("The token's subject is empty.")
    return Principal(sub=sub, role=role, county=county if role in COUNTY_ROLES else None)


def mint(secret: str, *, sub: str, role: str, county: str | None = None,
         ttl_seconds: int = 8 * 3600) -> str:
    claims = {"sub": sub, "role": role, "exp": int(time.time()) + ttl_seconds}
    if county:
        claims["county"] = county
    return jwt.encode(claims, secret, algorithm="HS256")


def current_principal() -> Principal:
    """The caller of this request; 401 when the token is missing or bad."""
    if "principal" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Send a bearer token in the Authorization header.")
        g.principal = decode(token.strip(), current_app.config["SETTINGS"].jwt_secret)
    return g.principal


def require(*roles: str):
    """Decorator: the caller must hold one of ``roles``; the view receives ``principal``."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = current_principal()
            if principal.role not in roles:
                raise Forbidden(f"The role {principal.role} may not do this.")
            return view(*args, principal=principal, **kwargs)

        return wrapper

    return decorator


def main(argv: list[str] | None = None) -> None:
    from shared.config import Settings

    parser = argparse.ArgumentParser(prog="python -m shared.auth", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mint", help="print a bearer token")
    m.add_argument("--role", choices=ROLES, required=True)
    m.add_argument("--county", help="county code (required for every role but city_admin)")
    m.add_argument("--sub", default=None, help="the subject; defaults to role@county")
    m.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    args = parser.parse_args(argv)
    if args.role in COUNTY_ROLES and not args.county:
        parser.error(f"--county is required for {args.role}")
    subject = args.sub or f"{args.role}@{args.county or 'city'}"
    print(mint(Settings.from_env().jwt_secret, sub=subject, role=args.role, county=args.county,
               ttl_seconds=args.ttl))


if __name__ == "__main__":
    main()
