"""The counties grouped by city: the ranking within cities and of cities, the ledger's city
columns, and where an item's names lie in the division codes (pure, on the installed codes)."""

from __future__ import annotations

import pytest

from services.issues.domain.cities import city_rows, ledger_rows, place
from services.issues.domain.ranking import CountyFigures, rank_by_city
from shared import divisions
from shared.config import Settings


@pytest.fixture(scope="module")
def zhejiang():
    return divisions.of(Settings(region="330000"))


def test_counties_are_ranked_within_their_city_and_cities_on_their_summed_figures(zhejiang):
    figures = [CountyFigures("330602", 10, 5, 0, 0),   # 绍兴市 越城区: 50
               CountyFigures("330603", 10, 9, 0, 0),   # 绍兴市 柯桥区: 90
               CountyFigures("331125", 4, 1, 0, 0),    # 丽水市 云和县: 25
               CountyFigures("331102", 0, 0, 0, 0)]    # 丽水市 莲都区: nothing due
    counties, cities = rank_by_city(figures, zhejiang.city_of)
    assert [(rank, f.county) for rank, f in counties] == [
        (1, "330603"), (2, "330602"), (1, "331125"), (None, "331102")]
    assert [(rank, f.county, f.items, f.closed, f.score) for rank, f in cities] == [
        (1, "330600", 20, 14, 70.0), (2, "331100", 4, 1, 25.0)]


def test_ledger_rows_carry_their_city_and_are_read_for_one_city(zhejiang):
    rows = [{"county": "331125"}, {"county": "330602"}, {"county": "330603"}]
    assert [(r["county"], r["city"], r["city_name"]) for r in ledger_rows(rows, zhejiang)] == [
        ("330602", "330600", "绍兴市"), ("330603", "330600", "绍兴市"),
        ("331125", "331100", "丽水市")]
    assert [r["county"] for r in ledger_rows(rows, zhejiang, "331100")] == ["331125"]


def summary(closed: int, open_: int, days: dict[str, int]) -> dict:
    return {"by_status": {"closed": closed, "open": open_}, "reopened": 1, "reopenings": 2,
            "days_to_close": days, "quarters": {"2026Q4": [closed + open_, closed, 1, open_]}}


def test_a_citys_row_sums_its_counties_and_takes_the_median_of_all_their_closed_items(zhejiang):
    kept = {"330602": summary(3, 1, {"10": 3}), "330603": summary(2, 0, {"40": 1, "50": 1}),
            "331125": summary(0, 5, {})}
    rows = {r["city"]: r for r in city_rows(kept, zhejiang)}
    shaoxing = rows["330600"]
    assert (shaoxing["city_name"], shaoxing["counties"], shaoxing["total"]) == ("绍兴市", 6, 6)
    assert (shaoxing["by_status"]["closed"], shaoxing["overdue"], shaoxing["reopenings"]) == (
        5, 1, 4)
    # 10, 10, 10, 40, 50: the city's median is 10 (the counties' medians, 10 and 45, are not it).
    assert shaoxing["median_days_to_close"] == 10 and shaoxing["closure_rate"] == round(5 / 6, 4)
    assert rows["331100"]["total"] == 5 and rows["330100"]["total"] == 0
    assert [r["city"] for r in city_rows(kept, zhejiang, "331100")] == ["331100"]


def test_a_known_village_gets_its_code_and_unknown_names_only_warnings(zhejiang):
    assert place(zhejiang, "330603", "柯桥街道", "管墅社区") == ("330603001008", {})
    code, warnings = place(zhejiang, "330602", "灵芝镇", "张市村")  # 灵芝镇 is now 灵芝街道
    assert code == "330602009200" and set(warnings) == {"township"}
    code, warnings = place(zhejiang, "330602", "灵芝街道", "张市村、大善村")  # a joint branch
    assert code is None and set(warnings) == {"village"}


def test_a_zone_without_national_code_has_no_townships_to_check():
    shaoxing = divisions.of(Settings(region="330600"))
    assert place(shaoxing, "330691", "斗门镇", "某村") == (None, {})
