"""Listing items: filters and cursor pagination that stays stable while items are added."""

from __future__ import annotations

from datetime import date, timedelta

from tests.integration.issues.conftest import KEQIAO, YUECHENG, close


def ids(answer) -> list[str]:
    return [i["id"] for i in answer.get_json()["items"]]


def test_pages_follow_the_cursor_and_items_added_meanwhile_are_neither_repeated_nor_skipped(
        city):
    before = [city.create()["id"] for _ in range(5)]
    first = city.get("/v1/items?limit=2").get_json()
    assert [i["id"] for i in first["items"]] == before[:2]
    added = [city.create()["id"] for _ in range(2)]
    seen = [i["id"] for i in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = city.get(f"/v1/items?limit=2&cursor={cursor}").get_json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert seen == before + added


def test_a_cursor_that_was_not_given_out_is_a_400_problem(city):
    answer = city.get("/v1/items?cursor=bm90LWEtY3Vyc29y")
    assert answer.status_code == 400 and "cursor" in answer.get_json()["errors"]


def test_a_limit_beyond_500_is_422(city):
    assert city.get("/v1/items?limit=501").status_code == 422


def test_an_unknown_filter_is_422(city):
    assert city.get("/v1/items?colour=red").status_code == 422


def test_filters_by_place_status_category_text_and_dates(city, yuecheng):
    late = city.create(village="大善村", category="软弱落后",
                       deadline=(date.today() - timedelta(days=3)).isoformat())
    done = city.create(village="张市村", problem="党员发展程序不规范(a+b)", category="组织建设")
    close(yuecheng, city, done)
    other = city.create(KEQIAO, township="钱清镇", category=None)
    assert ids(city.get(f"/v1/items?county={KEQIAO}")) == [other["id"]]
    assert ids(city.get("/v1/items?township=钱清镇")) == [other["id"]]
    assert ids(city.get(f"/v1/items?county={YUECHENG}&village=大善村")) == [late["id"]]
    assert ids(city.get("/v1/items?status=closed")) == [done["id"]]
    assert ids(city.get("/v1/items?overdue=true")) == [late["id"]]
    assert late["id"] not in ids(city.get("/v1/items?overdue=false"))
    assert ids(city.get("/v1/items?category=软弱落后")) == [late["id"]]
    # q is text, not a pattern: the parentheses and plus sign match literally
    assert ids(city.get("/v1/items", query_string={"q": "规范(a+b)"})) == [done["id"]]
    assert ids(city.get(f"/v1/items?deadline_before={date.today().isoformat()}")) == [
        late["id"]]
    # changed since the closure: the closed item, and the one created after it
    since = city.get(f"/v1/items/{done['id']}").get_json()["updated_at"]
    assert ids(city.get("/v1/items", query_string={"updated_since": since})) == [
        done["id"], other["id"]]
    assert city.get("/v1/items?overdue=true").get_json()["items"][0]["overdue"] is True
