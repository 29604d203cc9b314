"""Nobody sees or does what they should not: every endpoint × every caller answers the status
of the one table in matrix.py, which docs/authorisation.md renders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.security.conftest import Services, item_body, photo_upload, plan_body
from tests.integration.security.matrix import ENDPOINTS, PRINCIPALS, C, Endpoint, render

DOC = Path(__file__).resolve().parents[3] / "docs" / "authorisation.md"
CSV = ("县区代码,乡镇街道,村社区,存在问题,整改措施,完成时间,责任人,类别,公示\n"
       f"{C},灵芝镇,大善村,党员带头作用不明显,党员带头拆除违章建筑,2027-06-30,李某,软弱落后,是\n")


def request_for(endpoint: Endpoint, services: Services) -> tuple[str, dict]:
    """The path and the request arguments: a valid request, so that only the caller decides."""
    resource = (services.resource(endpoint.needs, fresh=endpoint.method != "GET")
                if endpoint.needs else {})
    path = (endpoint.path.replace("=C", f"={C}").replace("/C", f"/{C}")
            .replace("{item}", resource.get("id", "")).replace("{inspection}",
                                                                resource.get("id", ""))
            .replace("{subscription}", resource.get("id", ""))
            .replace("{photo}", resource.get("photo", "")))
    now = datetime.now(UTC)
    bodies = {
        "/v1/items": {"json": item_body()},
        "/v1/items/import": {"data": CSV.encode(), "content_type": "text/csv"},
        "/v1/items/{item}/transitions": {
            "json": {"to": "closed" if endpoint.needs == "pending_item" else "in_progress"},
            "headers": {"If-Match": resource.get("etag") or ""}},
        "/v1/inspections": {"json": plan_body([services.copied_item()])},
        "/v1/inspections/{inspection}/results": {"json": {"checks": [
            {"item_id": i, "outcome": "pass", "observed_at": (now - timedelta(minutes=1))
             .isoformat()} for i in resource.get("item_ids", [])]}},
        "/v1/inspections/{inspection}/cancel": {"json": {"reason": "计划调整"}},
        "/v1/items/{item}/evidence": photo_upload(),
        "/v1/inspections/{inspection}/evidence": photo_upload(),
        "/v1/subscriptions": {"json": {"url": "http://127.0.0.1:9/hook", "event_types": ["*"],
                                       "counties": [C]}},
        "/v1/subscriptions/{subscription}/replay": {
            "json": {"since": (now - timedelta(hours=1)).isoformat()}},
    }
    kwargs = bodies.get(endpoint.path, {}) if endpoint.method != "GET" else {}
    return path, kwargs


CASES = [pytest.param(endpoint, caller, id=f"{endpoint.id}-{caller}")
         for endpoint in ENDPOINTS for caller in PRINCIPALS]


@pytest.mark.parametrize(("endpoint", "caller"), CASES)
def test_each_caller_gets_the_status_the_matrix_says(services, endpoint: Endpoint, caller: str):
    path, kwargs = request_for(endpoint, services)
    answer = services.call(endpoint.service, caller, endpoint.method, path, **kwargs)
    expected = endpoint.expect[caller]
    assert answer.status_code == expected, (
        f"{caller} on {endpoint.id}: {answer.status_code}, expected {expected}: "
        f"{answer.get_data(as_text=True)[:300]}")
    if expected >= 400:
        assert answer.content_type == "application/problem+json"
        assert answer.get_json()["status"] == expected


def test_another_countys_admin_imports_nothing_into_c(services):
    path, kwargs = request_for(next(e for e in ENDPOINTS if e.path == "/v1/items/import"),
                               services)
    report = services.call("issues", "county_other", "POST", path, **kwargs).get_json()
    assert report["created"] == 0 and report["invalid"] == report["rows"] == 1


def test_every_operation_of_every_openapi_document_is_in_the_matrix(services):
    """A new endpoint cannot slip past the matrix: each documented operation has a row."""
    in_matrix = {(e.service, e.method, e.path.split("?")[0]) for e in ENDPOINTS}
    for service in services.apps:
        document = services.call(service, "anonymous", "GET", "/openapi.json").get_json()
        for path, operations in document["paths"].items():
            template = (path.replace("{item_id}", "{item}")
                        .replace("{inspection_id}", "{inspection}")
                        .replace("{id_}", "{subscription}").replace("{county}", "C")
                        .replace("{evidence_id}", "{photo}"))
            for method in operations:
                if method in ("get", "post", "put", "patch", "delete"):
                    assert (service, method.upper(), template) in in_matrix, (service, method,
                                                                             path)


def test_the_authorisation_document_is_the_rendering_of_the_tested_table():
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/authorisation.md is stale: python -m tests.integration.security.matrix "
        "> docs/authorisation.md")
