"""The region as data, on the real database: a city region other than Shaoxing (丽水市), a
province (浙江省) whose counties are ranked within their cities, city-scoped admins, the
divisions endpoint, and township and village names checked against the division codes."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from services.issues.app import create_app
from services.issues.repository import MongoFigures
from shared import mongo
from shared.auth import mint
from tests.integration.issues.conftest import Caller, item_body

LISHUI, YUNHE, FUYUN = "331100", "331125", "浮云街道"
SHAOXING, YUECHENG, KEQIAO = "330600", "330602", "330603"
LIANDU = "331102"  # 莲都区, 丽水市


class ScopedCaller(Caller):
    """A city admin whose token names a city (the ``city`` claim)."""

    def __init__(self, client, settings, city: str):
        super().__init__(client, settings, None)
        self.headers = {"Authorization": "Bearer " + mint(
            settings.jwt_secret, sub=f"city_admin@{city}", role="city_admin", city=city)}


def region_app(settings, region: str):
    settings = dataclasses.replace(settings, region=region)
    return create_app(settings), settings


@pytest.fixture
def lishui(settings):
    app, scoped = region_app(settings, LISHUI)
    client = app.test_client()
    return lambda role, county=None: Caller(client, scoped, role, county)


@pytest.fixture
def zhejiang(settings):
    app, scoped = region_app(settings, "330000")
    client = app.test_client()

    def caller(role: str, county: str | None = None, *, city: str | None = None) -> Caller:
        if city is not None:
            return ScopedCaller(client, scoped, city)
        return Caller(client, scoped, role, county)

    caller.settings = scoped
    return caller


def kept_figures(zhejiang) -> None:
    """The ledger and the ranking read kept figures, which the figures process folds from the
    items' events; here they are counted from the items."""
    MongoFigures(mongo.database(zhejiang.settings, "issues")).rebuild(lambda _: 0)


def village_of(caller: Caller, township_code: str) -> dict:
    return caller.get(f"/v1/divisions?parent={township_code}&limit=1").get_json()["items"][0]


# --- a city region other than Shaoxing ---------------------------------------------------------

def test_a_lishui_deployment_lists_its_region_and_counties_and_yunhes_streets(lishui):
    county = lishui("county_admin", YUNHE)
    top = county.get("/v1/divisions").get_json()
    assert top["items"][0] == {"code": LISHUI, "name": "丽水市", "level": "city",
                               "parent": "330000"}
    assert [d["name"] for d in top["items"][1:]] == [
        "莲都区", "青田县", "缙云县", "遂昌县", "松阳县", "云和县", "庆元县", "景宁畲族自治县",
        "龙泉市"]
    streets = county.get(f"/v1/divisions?parent={YUNHE}").get_json()["items"]
    assert {"code": "331125001", "name": FUYUN, "level": "township",
            "parent": YUNHE} in streets


def test_divisions_are_cursor_paginated(lishui):
    reader = lishui("subscriber", YUNHE)
    first = reader.get("/v1/divisions?limit=4").get_json()
    second = reader.get(f"/v1/divisions?limit=4&cursor={first['next_cursor']}").get_json()
    third = reader.get(f"/v1/divisions?limit=4&cursor={second['next_cursor']}").get_json()
    codes = [d["code"] for page in (first, second, third) for d in page["items"]]
    assert len(codes) == 10 == len(set(codes)) and codes == sorted(codes)
    assert third["next_cursor"] is None


def test_divisions_refuse_a_parent_outside_the_region_and_need_a_token(lishui):
    reader = lishui("inspector", YUNHE)
    answer = reader.get(f"/v1/divisions?parent={KEQIAO}")
    assert answer.status_code == 404 and answer.content_type == "application/problem+json"
    assert reader.get("/v1/divisions?parent=33").status_code == 422
    assert lishui(None).get("/v1/divisions").status_code == 401


def test_a_lishui_item_of_yunhe_is_filed_with_its_village_code(lishui):
    city = lishui("city_admin")
    village = village_of(city, "331125001")
    item = city.create(YUNHE, township=FUYUN, village=village["name"])
    assert item["county_name"] == "云和县" and item["village_code"] == village["code"]


def test_a_lishui_deployment_refuses_an_item_of_keqiao_with_a_clear_422(lishui, count_items):
    answer = lishui("city_admin").post("/v1/items", json=item_body(KEQIAO))
    assert answer.status_code == 422
    problem = answer.get_json()
    assert answer.content_type == "application/problem+json"
    assert problem["errors"]["county"] == [
        "330603 is not a county of 丽水市 331100; GET /v1/divisions lists them."]


def test_a_lishui_import_takes_the_county_by_name_and_warns_of_unknown_names(lishui):
    city = lishui("city_admin")
    village = village_of(city, "331125001")
    deadline = (date.today() + timedelta(days=90)).isoformat()
    csv = ("县区代码,乡镇街道,村社区,存在问题,整改措施,完成时间\n"
           f"云和县,{FUYUN},{village['name']},党员活动日未开展,每月开展党员活动日,{deadline}\n"
           f"{YUNHE},{FUYUN},新合并村,党员活动日未开展,每月开展党员活动日,{deadline}\n"
           f"{YUNHE},老城镇,老街村,党员活动日未开展,每月开展党员活动日,{deadline}\n"
           f"柯桥区,柯桥街道,管墅社区,党员活动日未开展,每月开展党员活动日,{deadline}\n")
    report = city.post("/v1/items/import", data=csv.encode(), content_type="text/csv").get_json()
    results = {r["row"]: r for r in report["results"]}
    assert (report["created"], report["invalid"]) == (3, 1)
    assert "warnings" not in results[2]
    assert set(results[3]["warnings"]) == {"村社区"}
    assert set(results[4]["warnings"]) == {"乡镇街道", "村社区"}
    assert results[5]["status"] == "invalid" and "县区代码" in results[5]["errors"]
    kept = {r: city.get(f"/v1/items/{results[r]['id']}").get_json() for r in (2, 3, 4)}
    assert kept[2]["village_code"] == village["code"]
    assert (kept[3]["village"], kept[3]["village_code"]) == ("新合并村", None)
    assert (kept[4]["township"], kept[4]["village"]) == ("老城镇", "老街村")


# --- a province ---------------------------------------------------------------------------------

def test_a_province_ledger_has_a_row_for_each_of_its_90_counties_with_its_city(zhejiang):
    city = zhejiang("city_admin")
    city.create(YUECHENG)
    city.create(YUNHE, township=FUYUN)
    kept_figures(zhejiang)
    rows = city.get("/v1/ledger").get_json()["counties"]
    assert len(rows) == 90 and len({r["city"] for r in rows}) == 11
    by_county = {r["county"]: r for r in rows}
    assert (by_county[YUECHENG]["city_name"], by_county[YUECHENG]["total"]) == ("绍兴市", 1)
    assert (by_county[YUNHE]["city_name"], by_county[YUNHE]["total"]) == ("丽水市", 1)
    cities = {r["city"]: r for r in city.get("/v1/ledger").get_json()["cities"]}
    assert len(cities) == 11 and cities[LISHUI]["counties"] == 9
    assert (cities[LISHUI]["city_name"], cities[LISHUI]["total"]) == ("丽水市", 1)
    assert cities[SHAOXING]["by_status"]["open"] == 1 and cities["330100"]["total"] == 0
    dashboard = city.get("/dashboard").get_data(as_text=True)
    assert "各市工作台账" in dashboard and "丽水市" in dashboard
    one_city = city.get(f"/v1/ledger?city={LISHUI}").get_json()
    assert [r["county"] for r in one_city["counties"]][5] == YUNHE
    assert len(one_city["counties"]) == 9 and [r["city"] for r in one_city["cities"]] == [LISHUI]
    assert [r["county"] for r in city.get(f"/v1/ledger?county={YUNHE}").get_json()[
        "counties"]] == [YUNHE]


def test_a_province_ranks_counties_within_their_city_and_cities_within_the_province(zhejiang):
    city = zhejiang("city_admin")
    due = (date.today() + timedelta(days=20)).isoformat()
    for county in (YUECHENG, KEQIAO, YUNHE, LIANDU):
        city.create(county, deadline=due)
    closed = city.create(KEQIAO, deadline=due)
    county = zhejiang("county_admin", KEQIAO)
    county.move(closed, "in_progress")
    county.move(closed, "pending_verification", evidence=["整改照片.jpg"])
    city.move(closed, "closed")
    kept_figures(zhejiang)
    ranking = city.get("/v1/ranking").get_json()
    rows = {r["county"]: r for r in ranking["counties"]}
    assert len(rows) == 90
    # Within 绍兴市 柯桥区 leads and 越城区 follows; 丽水市's two share its first rank.
    assert (rows[KEQIAO]["rank"], rows[YUECHENG]["rank"]) == (1, 2)
    assert rows[YUNHE]["rank"] == rows[LIANDU]["rank"] == 1
    assert rows[YUNHE]["city_name"] == "丽水市"
    assert [r["city"] for r in ranking["counties"]] == sorted(r["city"] for r in
                                                              ranking["counties"])
    cities = {r["city"]: r for r in ranking["cities"]}
    assert len(cities) == 11 and (cities[SHAOXING]["items"], cities[SHAOXING]["closed"]) == (3, 1)
    assert (cities[SHAOXING]["rank"], cities[LISHUI]["rank"]) == (1, 2)
    assert cities["330100"]["rank"] is None  # nothing due in 杭州市: not ranked


# --- a city admin scoped to one city of the province --------------------------------------------

def test_a_city_scoped_admin_sees_and_verifies_only_its_own_city(zhejiang):
    province = zhejiang("city_admin")
    shaoxing_item = province.create(YUECHENG)
    lishui_item = province.create(YUNHE, township=FUYUN)
    lishui = zhejiang("city_admin", city=LISHUI)
    assert lishui.get(f"/v1/items/{shaoxing_item['id']}").status_code == 404
    assert lishui.get(f"/v1/items/{lishui_item['id']}").status_code == 200
    listed = lishui.get("/v1/items").get_json()["items"]
    assert [i["id"] for i in listed] == [lishui_item["id"]]
    assert lishui.get(f"/v1/items?county={YUECHENG}").status_code == 403
    refused = lishui.post("/v1/items", json=item_body(YUECHENG))
    assert refused.status_code == 403
    # Verifying (销号) another city's pending item: 404, as for a county's.
    county = zhejiang("county_admin", YUECHENG)
    county.move(shaoxing_item, "in_progress")
    pending = county.move(shaoxing_item, "pending_verification", evidence=["整改照片.jpg"])
    answer = lishui.post(f"/v1/items/{pending['id']}/transitions", json={"to": "closed"},
                         headers={"If-Match": f'"{pending["version"]}"'})
    assert answer.status_code == 404
    assert province.get(f"/v1/items/{pending['id']}").get_json()["status"] == (
        "pending_verification")
    # Its own city's pending item it verifies.
    own = zhejiang("county_admin", YUNHE)
    own.move(lishui_item, "in_progress")
    own.move(lishui_item, "pending_verification", evidence=["整改照片.jpg"])
    assert lishui.move(lishui_item, "closed")["status"] == "closed"


def test_a_city_scoped_admin_reads_the_ledger_and_ranking_of_its_own_city(zhejiang):
    lishui = zhejiang("city_admin", city=LISHUI)
    ledger = lishui.get("/v1/ledger").get_json()
    rows = ledger["counties"]
    assert len(rows) == 9 and {r["city"] for r in rows} == {LISHUI}
    assert [r["city"] for r in ledger["cities"]] == [LISHUI]
    assert lishui.get(f"/v1/ledger?city={SHAOXING}").status_code == 403
    assert lishui.get(f"/v1/ledger?county={YUECHENG}").status_code == 403
    ranking = lishui.get("/v1/ranking").get_json()
    assert {r["city"] for r in ranking["counties"]} == {LISHUI}
    assert len(ranking["cities"]) == 11


def test_a_city_admin_token_without_a_city_keeps_meaning_the_whole_region(zhejiang):
    province = zhejiang("city_admin")
    item = province.create(YUNHE, township=FUYUN)
    assert province.get(f"/v1/items/{item['id']}").status_code == 200
    assert len(province.get("/v1/ledger").get_json()["counties"]) == 90
