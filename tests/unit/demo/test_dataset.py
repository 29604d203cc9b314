"""The demo city is Shaoxing's list at its real size (seed 000_…), the same on every run."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from shared import divisions
from shared.config import Settings
from tools.demo import dataset
from tools.demo.dataset import CLOSED, STATUS_SHARES, build, build_province, villages_of

TODAY = date(2026, 11, 23)
COUNTIES = divisions.of(Settings(region="330600")).counties
SEED_COUNTS = {"越城区": 380, "柯桥区": 629, "上虞区": 449, "诸暨市": 516, "嵊州市": 562,
               "新昌县": 448, "高新区": 152, "袍江开发区": 107, "滨海新城": 29}


@pytest.fixture(scope="module")
def items() -> list[dataset.DemoItem]:
    return build(TODAY)


def test_every_county_has_exactly_the_seed_count_of_problems(items):
    per_county = Counter(COUNTIES[item.county] for item in items)
    assert per_county == SEED_COUNTS
    assert len(items) == 3272


def test_the_problems_lie_in_exactly_2681_villages_and_communities(items):
    villages = {(i.county, i.township, v) for i in items for v in villages_of(i)}
    assert len(villages) == 2681
    assert sum(dataset.village_counts().values()) == 2681


def test_each_county_has_its_share_of_villages_and_every_township_has_one(items):
    for county, count in dataset.village_counts().items():
        mine = [i for i in items if i.county == county]
        assert len({(i.township, v) for i in mine for v in villages_of(i)}) == count
        assert {i.township for i in mine} == set(dataset.TOWNSHIPS[county])


def test_the_same_seed_and_day_give_the_same_city():
    assert build(TODAY) == build(TODAY)


def test_another_seed_gives_another_city():
    assert build(TODAY, seed=1) != build(TODAY)


def test_the_real_item_of_the_seed_is_in_the_list(items):
    real = [i for i in items if i.village == "张市村、大善村"]
    assert len(real) == 1
    item = real[0]
    assert (COUNTIES[item.county], item.township) == ("越城区", "灵芝镇")
    assert item.problem == "个别党员大局意识不强、不配合支持“无违建村”创建工作"
    assert item.measure.startswith("每名党员写出《无违建承诺书》并向全村进行公示")
    assert item.deadline == date(2026, 6, 30)  # 6月底
    assert item.public


def test_villages_named_in_the_seeds_are_in_their_townships(items):
    places = {(COUNTIES[i.county], i.township, v) for i in items for v in villages_of(i)}
    assert {("柯桥区", "钱清镇", "九岩村"), ("柯桥区", "柯岩街道", "梅墅村"),
            ("诸暨市", "草塔镇", "溪南村"), ("越城区", "灵芝镇", "大善村")} <= places


def test_a_village_never_lists_the_same_problem_twice(items):
    keys = Counter((i.county, i.township, i.village, i.problem) for i in items)
    assert max(keys.values()) == 1


def test_responsible_persons_are_a_title_and_a_surname_never_a_name(items):
    for item in items:
        title, person = item.responsible.split(" ")
        assert title.endswith(("书记", "主任"))
        assert person.endswith("某某") and len(person) == 3


def test_statuses_spread_roughly_as_the_city_wide_shares(items):
    counts = Counter(i.status for i in items)
    for status, share in STATUS_SHARES.items():
        assert abs(counts[status] / len(items) - share) < 0.05, status


def test_counties_differ_in_how_much_they_have_closed(items):
    rates = {c: sum(i.status == CLOSED for i in mine) / len(mine)
             for c, mine in dataset.by_county(items)}
    assert max(rates.values()) - min(rates.values()) > 0.05


def test_some_open_items_are_past_their_deadline_and_most_are_not(items):
    unclosed = [i for i in items if i.status != CLOSED]
    overdue = sum(i.deadline < TODAY for i in unclosed)
    assert 0.05 < overdue / len(unclosed) < 0.35


def test_about_a_third_is_posted_publicly(items):
    assert abs(sum(i.public for i in items) / len(items) - 1 / 3) < 0.05


def test_text_is_in_the_registers_of_the_seeds_with_no_placeholder_left(items):
    categories = {i.category for i in items}
    assert {"软弱落后", "组织生活", "集体经济", "村务公开", "阵地建设"} <= categories
    assert any("三会一课" in i.problem for i in items)
    for item in items:
        assert "{" not in item.problem + item.measure
    communities = [i for i in items if i.village.endswith("社区")]
    assert communities and not any("村务" in i.problem for i in communities)


@pytest.fixture(scope="module")
def zhejiang():
    return divisions.of(Settings(region="330000"))


@pytest.fixture(scope="module")
def province(zhejiang) -> list[dataset.DemoItem]:
    return build_province(zhejiang, TODAY)


def test_the_zhejiang_profile_has_100000_items_in_every_one_of_the_90_counties(province, zhejiang):
    assert len(province) == 100_000
    per_county = Counter(i.county for i in province)
    assert set(per_county) == set(zhejiang.counties) and len(per_county) == 90
    # In proportion to the county's villages and communities (25,547 in the province).
    villages = Counter(d.code[:6] for d in zhejiang.by_code.values() if d.level == "village")
    for county, n in per_county.items():
        assert abs(n - villages[county] * 100_000 / 25_547) < 1, county


def test_the_zhejiang_profile_names_real_townships_and_villages_of_their_county(province, zhejiang):
    for item in province[::97]:
        township = zhejiang.township(item.county, item.township)
        assert township is not None, item
        village = zhejiang.village(item.county, township, item.village)
        assert village is not None and village.parent == township.code, item
    screened = {(i.county, i.township, i.village) for i in province}
    assert len(screened) > 25_000  # about every one of the 25,547 villages and communities


def test_the_zhejiang_profile_is_spread_like_the_seed_city(province):
    statuses = Counter(i.status for i in province)
    for status, share in STATUS_SHARES.items():
        assert abs(statuses[status] / len(province) - share) < 0.03, status
    overdue = sum(1 for i in province if i.status != CLOSED and i.deadline < TODAY)
    assert 0.05 < overdue / len(province) < 0.25
    assert len({i.category for i in province}) == len({p.category for p in dataset.PROBLEMS})
    assert 0.3 < sum(i.public for i in province) / len(province) < 0.37


def test_the_zhejiang_profile_is_the_same_on_every_run(zhejiang, province):
    assert build_province(zhejiang, TODAY, total=2000) == build_province(zhejiang, TODAY,
                                                                         total=2000)
