"""Reading a county's problem list (问题清单) from CSV or XLSX, and how its cells are read.

Rows are numbered as a person sees them in a spreadsheet: the header is row 1, the first item
row 2; blank rows keep their number and are skipped.

完成时间 (deadline) must name its year: ``2027-06-30``, ``2027/6/30``, ``2027年6月30日``, or
``2027年6月底`` / ``2027年6月`` (the last day of that month). ``6月底`` alone is refused, because
the year it means cannot be told from the cell; an Excel date cell is taken as it is.
公示 (public) reads 是/否, true/false, 1/0, yes/no; empty means not public.
"""

from __future__ import annotations

import calendar
import csv
import io
import re
from datetime import date, datetime

from openpyxl import load_workbook

COLUMNS = ("县区代码", "乡镇街道", "村社区", "存在问题", "整改措施", "完成时间",
           "责任人", "类别", "公示")
REQUIRED_COLUMNS = COLUMNS[:6]
CSV_TYPES = ("text/csv", "application/csv", "text/plain")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_MAGIC = b"PK\x03\x04"  # an XLSX file is a zip archive


class UnreadableFile(ValueError):
    """The upload is not a problem list we can read (format, encoding, header)."""


def read_table(content: bytes, *, xlsx: bool) -> list[tuple[int, dict]]:
    """(row number, {column: cell}) for every non-blank row; the header must be our columns."""
    rows = _xlsx_rows(content) if xlsx else _csv_rows(content)
    try:
        header = [_text(cell) or "" for cell in next(rows)]
    except StopIteration:
        raise UnreadableFile("The file is empty; expected a header row with the columns "
                             + "、".join(COLUMNS) + ".") from None
    unknown = [h for h in header if h and h not in COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if unknown or missing:
        problems = ([f"unknown columns: {'、'.join(unknown)}"] if unknown else []) + (
            [f"missing columns: {'、'.join(missing)}"] if missing else [])
        raise UnreadableFile(f"The header row does not match the problem list format "
                             f"({'; '.join(problems)}); expected {'、'.join(COLUMNS)}.")
    table = []
    for number, cells in enumerate(rows, start=2):
        record = {name: _cell(value) for name, value in zip(header, cells, strict=False) if name}
        if any(value is not None for value in record.values()):
            table.append((number, record))
    return table


def looks_like_xlsx(content: bytes) -> bool:
    return content.startswith(XLSX_MAGIC)


def _csv_rows(content: bytes):
    # Excel on Chinese Windows saves CSV as GB18030 (GBK); everything else says UTF-8.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise UnreadableFile("The CSV file is neither UTF-8 nor GB18030 text.")
    return iter(csv.reader(io.StringIO(text, newline="")))


def _xlsx_rows(content: bytes):
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 — openpyxl raises many kinds for a bad file
        raise UnreadableFile(f"The file is not a readable XLSX workbook: {exc}") from exc
    return iter(workbook.worksheets[0].iter_rows(values_only=True))


def _cell(value):
    """A cell as text, a date (Excel date cells), or None when empty."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date | bool):
        return value
    return _text(value)


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel keeps 330602 as the number 330602.0
    text = str(value).strip()
    return text or None


_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_CHINESE_DAY = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?$")
_CHINESE_MONTH_END = re.compile(r"^(\d{4})年(\d{1,2})月底?$")
_YEARLESS = re.compile(r"^\d{1,2}月")


def parse_deadline(value) -> date:
    """A 完成时间 cell as a date; ValueError with a message a county clerk can act on."""
    if isinstance(value, date):
        return value
    text = str(value).strip().replace(" ", "")
    try:
        if match := _ISO.match(text) or _CHINESE_DAY.match(text):
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if match := _CHINESE_MONTH_END.match(text):
            year, month = int(match.group(1)), int(match.group(2))
            return date(year, month, calendar.monthrange(year, month)[1])
    except ValueError:
        raise ValueError(f"{text} is not a date of the calendar.") from None
    if _YEARLESS.match(text):
        raise ValueError(f"{text} does not say which year; write 2027-06-30 or 2027年6月底.")
    raise ValueError(f"{text} is not a date; write 2027-06-30 or 2027年6月底.")


_TRUE = {"是", "true", "1", "yes", "y", "公示"}
_FALSE = {"否", "false", "0", "no", "n", "不公示"}


def parse_public(value) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value} is not one of 是/否, true/false, 1/0.")
