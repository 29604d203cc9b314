"""Reading a county problem list: files, columns, and the rules of its cells."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from marshmallow import ValidationError
from openpyxl import Workbook

from services.issues.importing import (
    COLUMNS,
    UnreadableFile,
    looks_like_xlsx,
    parse_deadline,
    parse_public,
    read_table,
)
from services.issues.schemas import ImportRowSchema

ROW = ["330602", "灵芝镇", "张市村", "党员不配合无违建村创建", "党员带头拆违", "2027-06-30",
       "张某某", "软弱落后", "是"]


def csv_bytes(*rows, encoding="utf-8") -> bytes:
    lines = [",".join(COLUMNS)] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


@pytest.mark.parametrize("text, expected", [
    ("2027-06-30", date(2027, 6, 30)), ("2027/6/30", date(2027, 6, 30)),
    ("2027.6.3", date(2027, 6, 3)), ("2027年6月30日", date(2027, 6, 30)),
    ("2027年6月底", date(2027, 6, 30)), ("2028年2月底", date(2028, 2, 29)),
    ("2027年12月", date(2027, 12, 31)), (date(2027, 1, 5), date(2027, 1, 5)),
])
def test_a_deadline_names_its_year_and_a_month_end_is_its_last_day(text, expected):
    assert parse_deadline(text) == expected


@pytest.mark.parametrize("text, says", [
    ("6月底", "does not say which year"), ("2027-02-30", "not a date of the calendar"),
    ("尽快", "is not a date"),
])
def test_an_unreadable_deadline_is_refused_with_a_message_a_clerk_can_act_on(text, says):
    with pytest.raises(ValueError, match=says):
        parse_deadline(text)


@pytest.mark.parametrize("text, public", [("是", True), ("否", False), ("TRUE", True),
                                          ("0", False), ("1", True), (None, False)])
def test_the_public_flag_reads_yes_no_in_chinese_and_english(text, public):
    assert parse_public(text) is public


def test_a_csv_list_is_read_with_spreadsheet_row_numbers_skipping_blank_rows():
    rows = read_table(csv_bytes(ROW, [""] * 9, ROW), xlsx=False)
    assert [number for number, _ in rows] == [2, 4]
    assert rows[0][1]["存在问题"] == "党员不配合无违建村创建"


def test_a_csv_list_saved_by_excel_in_gb18030_is_read_too():
    rows = read_table(csv_bytes(ROW, encoding="gb18030"), xlsx=False)
    assert rows[0][1]["村社区"] == "张市村"


def test_an_xlsx_list_is_read_with_numbers_and_date_cells_as_people_mean_them():
    book = Workbook()
    sheet = book.active
    sheet.append(list(COLUMNS))
    sheet.append([330602, "灵芝镇", "张市村", "问题", "措施", datetime(2027, 6, 30), None, None,
                  "否"])
    buffer = io.BytesIO()
    book.save(buffer)
    content = buffer.getvalue()
    assert looks_like_xlsx(content)
    [(number, record)] = read_table(content, xlsx=True)
    assert number == 2
    loaded = ImportRowSchema().load({k: v for k, v in record.items() if v is not None})
    assert loaded["county"] == "330602" and loaded["deadline"] == date(2027, 6, 30)
    assert loaded["public"] is False


def test_a_header_with_unknown_or_missing_columns_is_refused_naming_them():
    content = "县区代码,乡镇街道,村社区,存在问题,整改措施,完成日期\n".encode()
    expected = "unknown columns: 完成日期.*missing columns: 完成时间"
    with pytest.raises(UnreadableFile, match=expected):
        read_table(content, xlsx=False)


def test_a_row_names_its_county_by_code_or_by_name():
    record = dict(zip(COLUMNS, ROW, strict=True)) | {"县区代码": "越城区"}
    assert ImportRowSchema().load(record)["county"] == "330602"


def test_a_bad_row_is_refused_field_by_field_under_the_column_names():
    record = dict(zip(COLUMNS, ROW, strict=True)) | {"县区代码": "999999", "完成时间": "6月底"}
    del record["存在问题"]
    with pytest.raises(ValidationError) as refused:
        ImportRowSchema().load(record)
    assert set(refused.value.messages) == {"县区代码", "完成时间", "存在问题"}
