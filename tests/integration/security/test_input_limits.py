"""Bad input never breaks it: bodies over the size limit, lists and texts beyond their documented
maxima, NUL characters, invalid UTF-8 and forged tokens are 4xx problem+json and change nothing;
text in any script round-trips unchanged."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from tests.integration.security.conftest import Services, item_body, plan_body
from tests.integration.security.matrix import ENDPOINTS, TEAM, C

MAX_BODY = 16 * 1024 * 1024
PROBLEM = "application/problem+json"


def refused(services: Services, service: str, method: str, path: str, status: int,
            field: str | None = None, *, caller: str = "city", **kwargs):
    """Send as ``caller``; the answer is ``status`` problem+json naming ``field``, and nothing
    stored has changed."""
    before = services.stored()
    answer = services.call(service, caller, method, path, **kwargs)
    assert answer.status_code == status, answer.get_data(as_text=True)[:500]
    assert answer.content_type == PROBLEM
    if field is not None:
        assert field in answer.get_json()["errors"], answer.get_json()
    assert services.stored() == before, "refused input changed what is stored"
    return answer


@pytest.mark.parametrize(("service", "path"), [
    ("issues", "/v1/items"), ("issues", "/v1/items/import"), ("inspections", "/v1/inspections"),
    ("notifications", "/v1/subscriptions")])
def test_a_body_over_16_mib_is_413_and_creates_nothing(services, service, path):
    body = b'{"problem": "' + b"x" * MAX_BODY + b'"}'
    refused(services, service, "POST", path, 413, data=body, content_type="application/json")


def observed_now() -> str:
    return (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


def check(item_id: str, **fields) -> dict:
    return {"item_id": item_id, "outcome": "pass", "observed_at": observed_now()} | fields


# (what, needs, service, method, path, body from the resource, the field named in errors)
BEYOND_MAXIMA = [
    ("evidence > 50", "item", "issues", "POST", "/v1/items/{id}/transitions",
     lambda r: {"to": "in_progress", "evidence": ["照片"] * 51}, "evidence"),
    ("problem > 2000 chars", None, "issues", "POST", "/v1/items",
     lambda r: item_body(problem="问" * 2001), "problem"),
    ("township > 100 chars", None, "issues", "POST", "/v1/items",
     lambda r: item_body(township="镇" * 101), "township"),
    ("responsible > 100 chars", None, "issues", "POST", "/v1/items",
     lambda r: item_body(responsible="张" * 101), "responsible"),
    ("reason > 2000 chars", "item", "issues", "POST", "/v1/items/{id}/transitions",
     lambda r: {"to": "in_progress", "reason": "因" * 2001}, "reason"),
    ("team > 20", None, "inspections", "POST", "/v1/inspections",
     lambda r: plan_body(["i"], team=[{"sub": f"s{i}", "county": "330603"} for i in range(21)]),
     "team"),
    ("item_ids > 500", None, "inspections", "POST", "/v1/inspections",
     lambda r: plan_body([f"i{i}" for i in range(501)]), "item_ids"),
    ("team member sub > 128 chars", None, "inspections", "POST", "/v1/inspections",
     lambda r: plan_body(["i"], team=[{"sub": "s" * 129, "county": "330603"}]), "team"),
    ("checks > 500", "started", "inspections", "POST", "/v1/inspections/{id}/results",
     lambda r: {"checks": [check(f"i{i}") for i in range(501)]}, "checks"),
    ("evidence of a check > 20", "started", "inspections", "POST",
     "/v1/inspections/{id}/results",
     lambda r: {"checks": [check(r["item_ids"][0], evidence=["p"] * 21)]}, "checks"),
    ("findings > 4000 chars", "started", "inspections", "POST", "/v1/inspections/{id}/results",
     lambda r: {"checks": [check(r["item_ids"][0], outcome="fail", findings="查" * 4001)]},
     "checks"),
    ("new_problems > 100", "started", "inspections", "POST", "/v1/inspections/{id}/results",
     lambda r: {"new_problems": [{"township": "镇", "village": "村", "problem": "问",
                                  "measure": "措"}] * 101}, "new_problems"),
    ("cancel reason > 1000 chars", "planned", "inspections", "POST",
     "/v1/inspections/{id}/cancel", lambda r: {"reason": "因" * 1001}, "reason"),
    ("url > 2048 chars", None, "notifications", "POST", "/v1/subscriptions",
     lambda r: {"url": "http://127.0.0.1/" + "a" * 2048, "event_types": ["*"],
                "counties": [C]}, "url"),
    ("event_types > 32", None, "notifications", "POST", "/v1/subscriptions",
     lambda r: {"url": "http://127.0.0.1:9/h", "event_types": ["issue.created"] * 33,
                "counties": [C]}, "event_types"),
    ("counties > 32", None, "notifications", "POST", "/v1/subscriptions",
     lambda r: {"url": "http://127.0.0.1:9/h", "event_types": ["*"], "counties": [C] * 33},
     "counties"),
]


@pytest.mark.parametrize(("needs", "service", "method", "path", "body", "field"),
                         [pytest.param(*case[1:], id=case[0]) for case in BEYOND_MAXIMA])
def test_lists_and_texts_beyond_their_maxima_are_422_and_change_nothing(
        services, needs, service, method, path, body, field):
    resource = services.resource(needs, fresh=True) if needs else {}
    headers = {"If-Match": resource["etag"]} if service == "issues" and needs else {}
    caller = "inspector_team" if path.endswith("/results") else "city"  # the team files
    refused(services, service, method, path.format(id=resource.get("id")), 422, field,
            caller=caller, json=body(resource), headers=headers)


@pytest.mark.parametrize(("service", "path", "query", "field"), [
    ("issues", "/v1/items", {"q": "问" * 201}, "q"),
    ("issues", "/v1/items", {"limit": 501}, "limit"),
    ("issues", "/v1/items", {"cursor": "c" * 1025}, "cursor"),
    ("inspections", "/v1/inspections", {"limit": 0}, "limit"),
    ("notifications", "/v1/feed", {"types": "issue.created," * 80}, "types"),
    ("notifications", "/v1/feed", {"after": "a" * 4097}, "after"),
    ("issues", "/v1/ranking", {"quarter": "0000Q1"}, "quarter"),  # found by the fuzzer: a 500
    ("issues", "/v1/ranking", {"quarter": "9999Q4"}, "quarter"),
    ("issues", "/v1/ranking", {"quarter": "20x6Q4"}, "quarter"),
])
def test_query_values_beyond_their_maxima_are_422(services, service, path, query, field):
    refused(services, service, "GET", path, 422, field, query_string=query)


def test_an_idempotency_key_over_255_characters_is_refused(services):
    refused(services, "issues", "POST", "/v1/items", 400, "Idempotency-Key", json=item_body(),
            headers={"Idempotency-Key": "k" * 256})


TEXTS = {
    "chinese": "越城区灵芝镇 张市村、大善村党支部：个别党员大局意识不强",
    "astral CJK": "𠀀𪚥𰻞 (supplementary planes)",
    "emoji": "🏚️➡️🏠 整改完成 👍🏽 👨‍👩‍👧",
    "combining": "e\u0301 (e + combining acute) is not é; Zalgo: Z\u0336\u0353a\u0335l\u0334",
    "rtl": "مرحبا بالعالم — עברית \u202eRTL override\u202c",
    "invisible": "zero\u200bwidth\u200djoiner\ufeffbom",
}


@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
def test_text_in_any_script_round_trips_unchanged(services, text):
    item = services.ok("issues", "city", "POST", "/v1/items",
                       json=item_body(problem=text, measure=text, village=text[:100]))
    read = services.ok("issues", "county_c", "GET", f"/v1/items/{item['id']}")
    assert (read["problem"], read["measure"], read["village"]) == (text, text, text[:100])
    planned = services.ok("inspections", "city", "POST", "/v1/inspections", json=plan_body(
        [services.copied_item()], team=[{**TEAM[0], "name": text[:100]}]))
    cancelled = services.ok("inspections", "city", "POST",
                            f"/v1/inspections/{planned['id']}/cancel", json={"reason": text})
    assert cancelled["cancel_reason"] == text and cancelled["team"][0]["name"] == text[:100]


@pytest.mark.parametrize(("service", "method", "path", "kwargs", "status"), [
    ("issues", "POST", "/v1/items", {"json": item_body(problem="整改\x00完成")}, 422),
    ("issues", "GET", "/v1/items/abc%00def", {}, 400),
    ("issues", "GET", "/v1/items", {"query_string": {"q": "张\x00"}}, 422),
    ("issues", "POST", "/v1/items/import",
     {"data": "县区代码\x00,乡镇街道\n".encode(), "content_type": "text/csv"}, 422),
    ("inspections", "GET", "/v1/inspections/abc%00def", {}, 400),
    ("inspections", "POST", "/v1/inspections",
     {"json": plan_body(["i"], team=[{"sub": "wang\x00", "county": "330603"}])}, 422),
    ("notifications", "GET", "/v1/subscriptions/abc%00def", {}, 400),
    ("notifications", "POST", "/v1/subscriptions",
     {"json": {"url": "http://127.0.0.1:9/\x00", "event_types": ["*"], "counties": [C]}}, 422),
], ids=["issues body", "issues path", "issues query", "issues CSV", "inspections path",
        "inspections body", "notifications path", "notifications body"])
def test_nul_characters_are_4xx_and_change_nothing(services, service, method, path, kwargs,
                                                   status):
    refused(services, service, method, path, status, **kwargs)


@pytest.mark.parametrize("body", [b'{"problem": "\xff\xfe"}', b"\xc3\x28", b'{"a": 1',
                                  b"[" * 5000 + b"]" * 5000],
                         ids=["invalid UTF-8 in a string", "invalid UTF-8", "truncated",
                              "nested 5000 deep"])
@pytest.mark.parametrize(("service", "path"), [
    ("issues", "/v1/items"), ("inspections", "/v1/inspections"),
    ("notifications", "/v1/subscriptions")])
def test_unreadable_json_is_400_and_changes_nothing(services, service, path, body):
    refused(services, service, "POST", path, 400, data=body, content_type="application/json")


def forged_tokens(secret: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "city-office", "role": "city_admin", "exp": now + 3600}

    def signed(payload: dict, key: str = secret, algorithm: str = "HS256") -> str:
        return jwt.encode(payload, key, algorithm=algorithm)

    without = {name: {k: v for k, v in claims.items() if k != name} for name in claims}
    return {
        "wrong secret": signed(claims, "another-deployment's-secret-of-32-bytes"),
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "HS512 instead of HS256": signed(claims, algorithm="HS512"),
        "expired": signed(claims | {"exp": now - 60}),
        "no sub": signed(without["sub"]),
        "empty sub": signed(claims | {"sub": ""}),
        "no role": signed(without["role"]),
        "no exp": signed(without["exp"]),
        "unknown role": signed(claims | {"role": "superuser"}),
        "county_admin without county": signed(claims | {"role": "county_admin"}),
        "not a JWT": "not.a.jwt",
        "tampered payload": _tampered(signed(claims | {"role": "subscriber", "county": C})),
    }


def _tampered(token: str) -> str:
    header, _, signature = token.split(".")
    payload = jwt.utils.base64url_encode(
        b'{"sub":"x","role":"city_admin","exp":9999999999}').decode()
    return f"{header}.{payload}.{signature}"


PROTECTED = [e for e in ENDPOINTS if e.expect["anonymous"] == 401]


@pytest.mark.filterwarnings("ignore:The HMAC key")  # the forgeries use short keys on purpose
@pytest.mark.parametrize("endpoint", PROTECTED, ids=[e.id for e in PROTECTED])
def test_every_forged_or_malformed_token_is_401_everywhere(services, endpoint):
    path = endpoint.path.replace("{item}", "x").replace("{inspection}", "x").replace(
        "{subscription}", "x").replace("=C", f"={C}")
    headers = {f"Bearer {name}": f"Bearer {token}"
               for name, token in forged_tokens(services.settings.jwt_secret).items()}
    headers |= {"empty bearer": "Bearer ", "basic scheme": "Basic Y2l0eTpjaXR5"}
    for name, value in headers.items():
        answer = services.call(endpoint.service, "anonymous", endpoint.method, path,
                               headers={"Authorization": value})
        assert answer.status_code == 401, (name, answer.get_data(as_text=True)[:300])
        assert answer.content_type == PROBLEM and "WWW-Authenticate" in answer.headers
