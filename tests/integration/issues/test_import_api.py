"""Importing a county problem list (CSV or XLSX) on the real database."""

from __future__ import annotations

import io

from openpyxl import Workbook
from pymongo import MongoClient

from services.issues.importing import COLUMNS, XLSX_TYPE
from tests.integration.issues.conftest import KEQIAO, YUECHENG

GOOD = [YUECHENG, "灵芝镇", "张市村", "党员不配合无违建村创建", "党员带头拆违", "2027-06-30",
        "张某某", "软弱落后", "是"]


def csv_file(*rows: list[str]) -> bytes:
    return "\n".join(",".join(r) for r in [list(COLUMNS), *rows]).encode()


def with_cells(**cells) -> list[str]:
    row = dict(zip(COLUMNS, GOOD, strict=True)) | cells
    return [row[c] for c in COLUMNS]


def send_csv(caller, content: bytes, query: str = "", **headers):
    return caller.post(f"/v1/items/import{query}", data=content, content_type="text/csv",
                       headers=headers)


def test_good_rows_are_created_and_bad_rows_reported_by_row_number_and_column(yuecheng,
                                                                             count_items):
    content = csv_file(GOOD, with_cells(完成时间="6月底"), with_cells(县区代码="999"), GOOD)
    answer = send_csv(yuecheng, content)
    report = answer.get_json()
    assert answer.status_code == 200
    assert (report["rows"], report["created"], report["invalid"]) == (4, 2, 2)
    by_row = {r["row"]: r for r in report["results"]}
    assert by_row[2]["status"] == by_row[5]["status"] == "created"
    assert "does not say which year" in by_row[3]["errors"]["完成时间"][0]
    assert list(by_row[4]["errors"]) == ["县区代码"]
    assert count_items() == 2


def test_an_atomic_import_with_a_bad_row_is_422_and_imports_nothing(yuecheng, count_items):
    content = csv_file(GOOD, GOOD, with_cells(存在问题=""))
    answer = send_csv(yuecheng, content, "?atomic=true")
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    assert list(answer.get_json()["errors"]) == ["row 4"]
    assert "存在问题" in answer.get_json()["errors"]["row 4"][0]
    assert count_items() == 0


def test_an_atomic_import_of_good_rows_imports_them_all(yuecheng, count_items):
    answer = send_csv(yuecheng, csv_file(GOOD, GOOD, GOOD), "?atomic=true")
    assert answer.status_code == 200 and answer.get_json()["created"] == 3
    assert count_items() == 3


def test_rows_of_another_county_are_refused_for_a_county_admin(keqiao, count_items):
    report = send_csv(keqiao, csv_file(GOOD, with_cells(县区代码=KEQIAO))).get_json()
    assert [r["status"] for r in report["results"]] == ["invalid", "created"]
    assert "县区代码" in report["results"][0]["errors"]
    assert count_items() == 1


def test_an_xlsx_list_uploaded_as_a_multipart_file_is_imported(city, count_items):
    book = Workbook()
    book.active.append(list(COLUMNS))
    book.active.append([330603, "钱清镇", "东村", "问题", "措施", "2027年6月底", None, None, 1])
    buffer = io.BytesIO()
    book.save(buffer)
    answer = city.post("/v1/items/import", data={"file": (io.BytesIO(buffer.getvalue()),
                                                          "清单.xlsx", XLSX_TYPE)},
                       content_type="multipart/form-data")
    assert answer.status_code == 200 and answer.get_json()["created"] == 1
    [item] = city.get("/v1/items").get_json()["items"]
    assert (item["county"], item["deadline"], item["public"]) == (KEQIAO, "2027-06-30", True)


def test_a_file_whose_header_is_not_the_list_format_is_422_and_imports_nothing(yuecheng,
                                                                               count_items):
    answer = send_csv(yuecheng, "名称,日期\n甲,2027-01-01\n".encode())
    assert answer.status_code == 422 and "file" in answer.get_json()["errors"]
    assert count_items() == 0


def test_a_body_that_is_neither_csv_nor_xlsx_is_415(yuecheng):
    answer = yuecheng.post("/v1/items/import", json={"rows": []})
    assert answer.status_code == 415


def test_an_import_sent_again_under_its_key_answers_the_same_and_adds_nothing(yuecheng,
                                                                             count_items, db):
    content = csv_file(GOOD, with_cells(村社区="大善村"))
    first = send_csv(yuecheng, content, **{"Idempotency-Key": "list-1"})
    again = send_csv(yuecheng, content, **{"Idempotency-Key": "list-1"})
    assert first.get_json() == again.get_json()
    assert count_items() == 2
    assert sum(len(c["outbox"]) for c in db.item_changes.find({}, {"outbox": 1})) == 2
    other = send_csv(yuecheng, csv_file(with_cells(村社区="小善村")),
                     **{"Idempotency-Key": "list-1"})
    assert other.status_code == 409 and count_items() == 2


def test_a_list_of_ten_thousand_rows_is_imported_in_one_request(city, settings):
    rows = [with_cells(村社区=f"第{n}村") for n in range(10_000)]
    answer = send_csv(city, csv_file(*rows))
    assert answer.status_code == 200
    assert answer.get_json()["created"] == 10_000
    # Counting 10,000 documents can outlast the service's socket timeout on a busy FerretDB.
    with MongoClient(settings.mongodb_uri, socketTimeoutMS=600_000) as patient:
        assert patient[settings.database_name("issues")].items.count_documents({}) == 10_000
