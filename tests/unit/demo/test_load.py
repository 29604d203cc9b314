"""The loader speaks the import format of docs/api.md and walks the lifecycle as people do."""

from __future__ import annotations

import csv
import io
from datetime import date

from tools.demo.dataset import build
from tools.demo.load import COLUMNS, county_csv, moves_to

ITEMS = build(date(2026, 11, 23))


def first(status: str):
    return next(i for i in ITEMS if i.status == status)


def test_a_county_list_is_csv_with_the_contract_columns_one_row_per_item():
    items = [i for i in ITEMS if i.county == "330692"]
    rows = list(csv.DictReader(io.StringIO(county_csv(items).decode("utf-8"))))
    assert tuple(rows[0]) == COLUMNS == ("县区代码", "乡镇街道", "村社区", "存在问题", "整改措施",
                                         "完成时间", "责任人", "类别", "公示")
    assert len(rows) == len(items) == 29
    for row, item in zip(rows, items, strict=True):
        assert row["县区代码"] == "330692"
        assert (row["村社区"], row["存在问题"]) == (item.village, item.problem)
        assert row["完成时间"] == item.deadline.isoformat()
        assert row["公示"] == ("是" if item.public else "否")


def test_chinese_text_with_commas_and_quotes_survives_the_csv():
    seed_item = ITEMS[0]
    rows = list(csv.DictReader(io.StringIO(county_csv([seed_item]).decode("utf-8"))))
    assert rows[0]["村社区"] == "张市村、大善村"
    assert rows[0]["整改措施"] == seed_item.measure


def test_an_open_item_is_left_as_imported():
    assert moves_to(first("open")) == []


def test_the_county_starts_and_submits_with_evidence_and_only_the_city_crosses_off():
    moves = moves_to(first("closed"))
    assert [(m.to, m.by) for m in moves] == [
        ("in_progress", "county"), ("pending_verification", "county"), ("closed", "city")]
    assert moves[1].evidence and all(m.reason for m in moves)


def test_items_waiting_for_verification_stop_before_the_city():
    assert [m.to for m in moves_to(first("pending_verification"))] == [
        "in_progress", "pending_verification"]
    assert [m.to for m in moves_to(first("in_progress"))] == ["in_progress"]


def test_a_move_is_sent_as_the_contract_transition_body():
    move = moves_to(first("pending_verification"))[1]
    assert set(move.body()) == {"to", "reason", "evidence"}
    assert move.body()["evidence"] == list(move.evidence)
