"""The ledger, the ranking, the public board and dashboard, on hand-counted data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client import generate_latest

from services.issues import metrics
from services.issues.domain.model import Caller, Item, ReportedCheck, local_date
from services.issues.domain.ranking import Quarter
from services.issues.repository import MongoFigures, county_figures
from tests.integration.issues.conftest import KEQIAO, YUECHENG

CITY = Caller("city", "city_admin")
TODAY = local_date(datetime.now(UTC))
QUARTER = Quarter.of(TODAY)


def given(repo, county: str, *, created_days_ago: int = 40, deadline: date | None = None,
          closed_after_days: int | None = None, reopened: bool = False, public: bool = True,
          responsible: str = "责任人王某某") -> Item:
    """An item with a past of its own: created, maybe closed after some days, maybe reopened."""
    created = datetime.now(UTC) - timedelta(days=created_days_ago)
    item, _ = Item.create(id=f"{county}-{len(repo.items.distinct('_id'))}", actor=CITY,
                          at=created, county=county, township="灵芝镇", village="张市村",
                          problem="问题", measure="措施",
                          deadline=deadline or TODAY + timedelta(days=30),
                          responsible=responsible, public=public)
    if closed_after_days is not None:
        item.transition("in_progress", actor=CITY, at=created + timedelta(hours=1))
        item.transition("pending_verification", actor=CITY, at=created + timedelta(hours=2),
                        evidence=["e"])
        item.transition("closed", actor=CITY, at=created + timedelta(days=closed_after_days))
    if reopened:
        item.apply_check(ReportedCheck("ev-" + item.id, "insp", False, datetime.now(UTC)),
                         at=datetime.now(UTC), reopen_deadline_days=30)
    repo.add(item, [])
    return item


@pytest.fixture
def hand_counted(repo):
    """越城区: 5 items — closed after 2, 4 and 10 days, one overdue, one reopened.
    柯桥区: 2 items — one closed after 7 days, one open."""
    given(repo, YUECHENG, closed_after_days=2)
    given(repo, YUECHENG, closed_after_days=4)
    given(repo, YUECHENG, closed_after_days=10)
    given(repo, YUECHENG, deadline=TODAY - timedelta(days=1))
    given(repo, YUECHENG, closed_after_days=3, reopened=True)
    given(repo, KEQIAO, closed_after_days=7)
    given(repo, KEQIAO)
    kept_figures(repo)


def kept_figures(repo) -> None:
    """The items were written without their events: the figures are counted from the items
    (tests/integration/issues/test_figures.py folds them from the events)."""
    MongoFigures(repo.items.database).rebuild(lambda _: 0)


def test_the_ledger_counts_each_county_as_counted_by_hand(city, hand_counted):
    rows = {r["county"]: r for r in city.get("/v1/ledger").get_json()["counties"]}
    yc = rows[YUECHENG]
    assert yc["total"] == 5
    assert yc["by_status"] == {"open": 1, "in_progress": 0, "pending_verification": 0,
                               "closed": 3, "reopened": 1}
    assert (yc["overdue"], yc["reopened"], yc["reopenings"]) == (1, 1, 1)
    assert yc["closure_rate"] == 0.6
    assert yc["median_days_to_close"] == 4
    kq = rows[KEQIAO]
    assert (kq["total"], kq["closure_rate"], kq["median_days_to_close"]) == (2, 0.5, 7)
    assert rows["330692"]["total"] == 0 and rows["330692"]["closure_rate"] is None


def test_a_county_admin_sees_only_their_county_in_the_ledger(yuecheng, hand_counted):
    rows = yuecheng.get("/v1/ledger").get_json()["counties"]
    assert [r["county"] for r in rows] == [YUECHENG]


def test_the_ranking_scores_the_counties_on_the_items_due_in_the_quarter(city, repo):
    due = QUARTER.first_day + timedelta(days=20)
    for _ in range(3):
        given(repo, YUECHENG, deadline=due, closed_after_days=1)
    given(repo, YUECHENG, deadline=due)
    given(repo, KEQIAO, deadline=due, closed_after_days=1)
    given(repo, KEQIAO, deadline=QUARTER.next_first_day + timedelta(days=5))  # not due
    kept_figures(repo)
    answer = city.get(f"/v1/ranking?quarter={QUARTER}").get_json()
    ranked = [(r["rank"], r["county"], r["items"], r["closed"]) for r in answer["counties"]
              if r["items"]]
    assert ranked == [(1, KEQIAO, 1, 1), (2, YUECHENG, 4, 3)]
    keqiao = next(r for r in answer["counties"] if r["county"] == KEQIAO)
    assert keqiao["score"] == 100.0


def test_only_the_city_sees_the_ranking_and_a_bad_quarter_is_422(yuecheng, city):
    assert yuecheng.get("/v1/ranking").status_code == 403
    assert city.get("/v1/ranking?quarter=2026-4").status_code == 422


def test_the_public_board_shows_public_items_in_chinese_and_never_the_responsible_person(
        as_role, repo):
    given(repo, YUECHENG, responsible="村支书张三丰")
    given(repo, YUECHENG, public=False, responsible="李四")
    page = as_role(None).get(f"/board/{YUECHENG}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "越城区" in html and "待整改" in html and "措施" in html
    assert "张三丰" not in html and "李四" not in html and "责任人" not in html
    assert html.count("<tr>") == 1 + 1  # header and the one public item
    assert 'name="viewport"' in html


def test_the_board_of_an_unknown_county_is_404(as_role):
    assert as_role(None).get("/board/999999").status_code == 404


def test_the_dashboard_is_public_self_contained_and_shows_aggregates_only(as_role, repo,
                                                                         hand_counted):
    page = as_role(None).get("/dashboard")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<svg" in html and "越城区" in html and "60.0%" in html
    assert "各市工作台账" not in html, "a city region has no table of cities"
    assert "责任人王某某" not in html
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_the_figures_gauges_count_items_by_county_and_status(repo, hand_counted):
    metrics.set_item_gauges(county_figures(repo.items.database, TODAY))
    text = generate_latest().decode()
    assert f'supervision_items{{county="{YUECHENG}",status="closed"}} 3.0' in text
    assert f'supervision_items_overdue{{county="{YUECHENG}"}} 1.0' in text
