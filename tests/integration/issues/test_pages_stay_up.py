"""Pages that stay up: a browser gets its errors as a page in Chinese, never problem+json, and a
query slower than REQUEST_DATABASE_SECONDS is a 504 that says so, never a 503 that says the
database is down when it is not."""

from __future__ import annotations

import dataclasses

from services.issues.app import create_app
from tests.integration.issues.conftest import Caller

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_a_browser_gets_an_error_page_in_chinese_and_an_api_client_problem_json(as_role):
    anyone = as_role(None)
    page = anyone.get("/board/999999", headers=BROWSER)
    assert (page.status_code, page.mimetype) == (404, "text/html")
    html = page.get_data(as_text=True)
    assert "页面不存在" in html and "<html" in html and "about:blank" not in html
    api = anyone.get("/board/999999")
    assert (api.status_code, api.mimetype) == (404, "application/problem+json")
    assert api.get_json()["status"] == 404


def test_a_query_slower_than_the_limit_is_a_504_not_a_database_down_503(settings):
    impatient = create_app(dataclasses.replace(settings, request_database_seconds=1e-6))
    client = impatient.test_client()
    page = client.get("/dashboard", headers=BROWSER)
    assert (page.status_code, page.mimetype) == (504, "text/html")
    assert "查询超时" in page.get_data(as_text=True)
    city = Caller(client, settings, "city_admin")
    answer = city.get("/v1/ledger")
    assert answer.status_code == 504 and answer.mimetype == "application/problem+json"
    assert answer.headers["Retry-After"] == "5"
    # Writes are never cut short by the limit.
    created = city.post("/v1/items", json={
        "county": "330602", "township": "灵芝镇", "village": "张市村", "problem": "问题",
        "measure": "措施", "deadline": "2030-01-01"})
    assert created.status_code == 201, created.get_json()

