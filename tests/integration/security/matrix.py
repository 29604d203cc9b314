"""The authorisation matrix: every endpoint of the three services × every kind of caller.

One table, two uses: ``test_authorisation_matrix.py`` sends each request as each caller and
expects the status written here, and ``python -m tests.integration.security.matrix`` renders the
same table as docs/authorisation.md (a test checks that the document is the rendering).

The deployment is a province, 浙江省 (330000), so that city admins may be scoped to one city.
The target county C is 越城区 (330602) of 绍兴市 (330600); "another county" is 柯桥区 (330603);
"another city" is 丽水市 (331100). Resources named in a path ({item}, {inspection},
{subscription}) belong to C, or are owned by C's subscriber; a {photo} is one uploaded to the
{item} or the {inspection}.
"""

from __future__ import annotations

from dataclasses import dataclass

C, OTHER, THIRD = "330602", "330603", "330604"
REGION, C_CITY, OTHER_CITY = "330000", "330600", "331100"


@dataclass(frozen=True)
class Principal:
    label: str
    role: str | None = None  # None: no token, or (with bad=True) a token that does not verify
    county: str | None = None
    sub: str | None = None
    bad: bool = False
    city: str | None = None  # a city_admin scoped to one city (the token's ``city`` claim)


# The team of every inspection in the matrix: one inspector from 柯桥区 (rule X keeps C's own off).
TEAM = [{"sub": "insp-team", "county": OTHER, "name": "王"}]
PRINCIPALS: dict[str, Principal] = {
    "anonymous": Principal("no token"),
    "bad_token": Principal("bad token (wrong secret)", "city_admin", sub="forger", bad=True),
    "city": Principal("city_admin of the whole region (no city claim)", "city_admin",
                      sub="city-office"),
    "city_c": Principal("city_admin scoped to C's city", "city_admin", sub="sx-office",
                        city=C_CITY),
    "city_other": Principal("city_admin scoped to another city", "city_admin",
                            sub="ls-office", city=OTHER_CITY),
    "county_c": Principal("county_admin of C", "county_admin", C, "yc-admin"),
    "county_other": Principal("county_admin of another county", "county_admin", OTHER,
                              "kq-admin"),
    "inspector_team": Principal("inspector on the team", "inspector", OTHER, "insp-team"),
    "inspector_off": Principal("inspector not on the team", "inspector", THIRD, "insp-off"),
    "inspector_c": Principal("inspector whose home county is C", "inspector", C, "insp-c"),
    "subscriber_c": Principal("subscriber of C", "subscriber", C, "yc-system"),
    "subscriber_other": Principal("subscriber of another county", "subscriber", OTHER,
                                  "kq-system"),
}
CALLERS = tuple(name for name, p in PRINCIPALS.items() if p.role and not p.bad)
INSPECTORS = ("inspector_team", "inspector_off", "inspector_c")
SUBSCRIBERS = ("subscriber_c", "subscriber_other")
COUNTY_ROLES = ("county_c", "county_other", *SUBSCRIBERS)


def expect(default: int, **statuses: int) -> dict[str, int]:
    """A protected endpoint: 401 without a valid token, ``default`` unless said otherwise."""
    return {"anonymous": 401, "bad_token": 401, **dict.fromkeys(CALLERS, default), **statuses}


def each(names: tuple[str, ...], status: int) -> dict[str, int]:
    return dict.fromkeys(names, status)


def scoped(c_city: int, other_city: int) -> dict[str, int]:
    """What the city admins scoped to C's city and to another city get."""
    return {"city_c": c_city, "city_other": other_city}


PUBLIC = dict.fromkeys(PRINCIPALS, 200)
# C's subscriber's subscription: its owner and the city admins whose scope holds C manage it.
OWNER_ONLY = expect(404, city=200, subscriber_c=200, **each(INSPECTORS, 403), **scoped(200, 404))


@dataclass(frozen=True)
class Endpoint:
    service: str
    method: str
    path: str
    what: str
    expect: dict[str, int]
    # The resource the request acts on, made afresh for a request that changes it.
    needs: str | None = None
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.service} {self.method} {self.path} ({self.what})"


def _health(service: str) -> list[Endpoint]:
    return [Endpoint(service, "GET", path, what, PUBLIC)
            for path, what in (("/healthz", "alive"), ("/readyz", "ready"),
                               ("/metrics", "Prometheus"), ("/openapi.json", "OpenAPI"),
                               ("/docs", "browsable docs"))]


ENDPOINTS: list[Endpoint] = [
    # --- issues ----------------------------------------------------------------------------
    Endpoint("issues", "POST", "/v1/items", "create an item of C",
             expect(403, city=201, county_c=201, **scoped(201, 403))),
    Endpoint("issues", "POST", "/v1/items/import", "import a list of C",
             expect(403, city=200, county_c=200, county_other=200, **scoped(200, 200)),
             note="another county's or city's admin: 200 with every row refused, nothing "
                  "created"),
    Endpoint("issues", "GET", "/v1/items?county=C", "list C's items",
             expect(403, city=200, county_c=200, subscriber_c=200, **scoped(200, 403))),
    Endpoint("issues", "GET", "/v1/items/{item}", "read an item of C",
             expect(404, city=200, county_c=200, subscriber_c=200, **each(INSPECTORS, 403),
                    **scoped(200, 404)),
             needs="item"),
    Endpoint("issues", "POST", "/v1/items/{item}/transitions", "open → in_progress",
             expect(403, city=200, county_c=200, county_other=404, **scoped(200, 404)),
             needs="item"),
    Endpoint("issues", "POST", "/v1/items/{item}/transitions", "verify: → closed (销号)",
             expect(403, city=200, county_other=404, **scoped(200, 404)), needs="pending_item"),
    Endpoint("issues", "POST", "/v1/items/{item}/evidence", "upload a photo of an item of C",
             expect(403, city=201, county_c=201, county_other=404, **scoped(201, 404)),
             needs="item"),
    Endpoint("issues", "GET", "/v1/items/{item}/evidence/{photo}", "a photo of an item of C",
             expect(404, city=200, county_c=200, subscriber_c=200, **each(INSPECTORS, 403),
                    **scoped(200, 404)),
             needs="item_photo"),
    Endpoint("issues", "GET", "/v1/items/{item}/evidence/{photo}/metadata",
             "what was kept of the photo", expect(404, city=200, county_c=200, subscriber_c=200,
                                                  **each(INSPECTORS, 403), **scoped(200, 404)),
             needs="item_photo", note="the GPS position for the city only"),
    Endpoint("issues", "GET", "/v1/ledger", "the ledger", expect(200),
             note="a county role gets its own county's row only, a city-scoped admin its "
                  "city's rows"),
    Endpoint("issues", "GET", "/v1/ranking", "the quarterly ranking",
             expect(403, city=200, **scoped(200, 200)),
             note="a city-scoped admin: its city's counties, and every city's rank"),
    Endpoint("issues", "GET", "/v1/divisions", "the region's divisions", expect(200)),
    Endpoint("issues", "GET", "/board/C", "public board of C", PUBLIC),
    Endpoint("issues", "GET", "/dashboard", "city dashboard", PUBLIC),
    *_health("issues"),
    # --- inspections -----------------------------------------------------------------------
    Endpoint("inspections", "POST", "/v1/inspections", "plan against C",
             expect(403, city=201, **scoped(201, 403))),
    Endpoint("inspections", "GET", "/v1/inspections/draw?target_county=C&strategy=random&size=1",
             "what a sample of C draws", expect(403, city=200, **scoped(200, 403)),
             needs="planned", note="the city's alone, nothing kept (rule U: the sample is the "
                                   "city's secret)"),
    Endpoint("inspections", "GET", "/v1/inspections", "list", expect(200),
             note="each caller sees only what rules U and X allow"),
    Endpoint("inspections", "GET", "/v1/inspections/{inspection}", "read a planned one",
             expect(404, city=200, inspector_team=200, **scoped(200, 404)), needs="planned",
             note="404 exactly as for an id that does not exist (rule U)"),
    Endpoint("inspections", "GET", "/v1/inspections/{inspection}", "read a started one",
             expect(404, city=200, county_c=200, subscriber_c=200, inspector_team=200,
                    **scoped(200, 404)),
             needs="started"),
    Endpoint("inspections", "POST", "/v1/inspections/{inspection}/start", "start",
             expect(403, inspector_team=200, inspector_off=404, inspector_c=404),
             needs="planned"),
    Endpoint("inspections", "POST", "/v1/inspections/{inspection}/results", "file results",
             expect(403, inspector_team=200, inspector_off=404, inspector_c=404),
             needs="started"),
    Endpoint("inspections", "POST", "/v1/inspections/{inspection}/evidence", "a photo on site",
             expect(403, inspector_team=201, inspector_off=404, inspector_c=404),
             needs="started"),
    Endpoint("inspections", "GET", "/v1/inspections/{inspection}/evidence/{photo}",
             "a photo of a started one",
             expect(404, city=200, county_c=200, subscriber_c=200, inspector_team=200,
                    **scoped(200, 404)),
             needs="started_photo", note="as the inspection: hidden from C until started"),
    Endpoint("inspections", "GET", "/v1/inspections/{inspection}/evidence/{photo}/metadata",
             "what was kept of the photo",
             expect(404, city=200, county_c=200, subscriber_c=200, inspector_team=200,
                    **scoped(200, 404)),
             needs="started_photo", note="the GPS position for the city only"),
    Endpoint("inspections", "POST", "/v1/inspections/{inspection}/cancel", "cancel",
             expect(403, city=200, **scoped(200, 404)), needs="planned"),
    *_health("inspections"),
    # --- notifications ---------------------------------------------------------------------
    Endpoint("notifications", "POST", "/v1/subscriptions", "subscribe to C",
             expect(403, city=201, county_c=201, subscriber_c=201, **scoped(201, 403))),
    Endpoint("notifications", "GET", "/v1/subscriptions", "list own",
             expect(200, **each(INSPECTORS, 403)),
             note="a city admin: every subscription of its scope (a city-scoped one: its city's)"),
    Endpoint("notifications", "GET", "/v1/subscriptions/{subscription}", "read",
             OWNER_ONLY, needs="subscription",
             note="owned by C's subscriber; anyone else 404, never 403"),
    Endpoint("notifications", "DELETE", "/v1/subscriptions/{subscription}", "delete",
             {**OWNER_ONLY, "city": 204, "subscriber_c": 204, "city_c": 204},
             needs="subscription"),
    Endpoint("notifications", "POST", "/v1/subscriptions/{subscription}/rotate-secret",
             "rotate the secret", OWNER_ONLY, needs="subscription"),
    Endpoint("notifications", "POST", "/v1/subscriptions/{subscription}/enable", "enable",
             OWNER_ONLY, needs="subscription"),
    Endpoint("notifications", "GET", "/v1/subscriptions/{subscription}/deliveries",
             "delivery log", OWNER_ONLY, needs="subscription"),
    Endpoint("notifications", "POST", "/v1/subscriptions/{subscription}/replay", "replay",
             {**OWNER_ONLY, "city": 202, "subscriber_c": 202, "city_c": 202},
             needs="subscription"),
    Endpoint("notifications", "GET", "/v1/feed", "the pull feed",
             expect(200, **each(INSPECTORS, 403)),
             note="a county role reads its own county's events, never inspection.planned; a "
                  "city-scoped admin its city's"),
    *_health("notifications"),
]


def render() -> str:
    """docs/authorisation.md, written from the table above."""
    columns = list(PRINCIPALS)
    lines = [
        "# Authorisation matrix",
        "",
        "Every endpoint of the three services, called by every kind of caller: the HTTP status",
        "each one gets. Generated from `tests/integration/security/matrix.py` by",
        "`python -m tests.integration.security.matrix > docs/authorisation.md`; the same table",
        "drives `tests/integration/security/test_authorisation_matrix.py`, which sends every",
        "request in it to the real services on the real database, and a test fails when this",
        "document is not the table's rendering.",
        "",
        f"The deployment is a province, {REGION} (浙江省; `SUPERVISION_REGION`, docs/region.md),",
        f"so that a city admin may be scoped to one city. C is the target county, {C} (越城区)",
        f"of {C_CITY} (绍兴市); another county is {OTHER} (柯桥区); another city is {OTHER_CITY}",
        "(丽水市). An item is one of C's; an inspection is planned against C with a team of one",
        f"inspector from {OTHER}; a subscription is owned by C's subscriber. 404 where 403 would",
        "tell that a hidden thing exists (rule U, other cities' and callers' things).",
        "",
        "Roles: **city_admin** (the organisation department of the region: a city's, or a",
        "province's), optionally scoped to one city of a province by the token's `city` claim",
        "(it then acts as the city admin of that city's counties; without the claim, the whole",
        "region, as before); **county_admin** (one county, claim `county`); **inspector** (claim",
        "`county`: the home county, which rule X keeps them from inspecting); **subscriber** (a",
        "county system, claim `county`).",
        "",
        "Callers: " + "; ".join(f"**{n}**: {PRINCIPALS[n].label}" for n in columns) + ".",
        "",
        "| service | endpoint | " + " | ".join(columns) + " | note |",
        "| --- | --- | " + " | ".join("---" for _ in columns) + " | --- |",
    ]
    for e in ENDPOINTS:
        cells = " | ".join(str(e.expect[c]) for c in columns)
        lines.append(f"| {e.service} | `{e.method} {e.path}` {e.what} | {cells} | {e.note} |")
    lines += ["", f"{len(ENDPOINTS)} endpoints × {len(columns)} callers = "
              f"{len(ENDPOINTS) * len(columns)} tested cases.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
