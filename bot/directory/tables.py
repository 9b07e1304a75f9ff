"""Read a spreadsheet the way committees keep them: CSV (UTF-8 or GBK) or XLSX. No Telegram."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

MAX_ROWS = 5000

# Column names people actually type, in Chinese or English, mapped to ours.
HEADER_ALIASES = {
    "name": "name", "姓名": "name", "名字": "name",
    "phone": "phone", "mobile": "phone", "电话": "phone", "手机": "phone", "手机号": "phone",
    "電話": "phone", "手機": "phone", "联系电话": "phone",
    "team": "team", "队伍": "team", "隊伍": "team", "所在队伍": "team",
    "role": "role", "角色": "role", "身份": "role",
    "area": "area", "区域": "area", "區域": "area", "网格": "area", "網格": "area",
    "telegram": "telegram", "telegram username": "telegram", "telegram id": "telegram",
    "telegram_username": "telegram", "telegram_id": "telegram", "username": "telegram",
    "path": "path", "路径": "path", "路徑": "path",
    "language": "language", "语言": "language", "語言": "language",
}


class TableError(ValueError):
    """The file cannot be read as a table; the message says why, for the log."""


@dataclass(frozen=True)
class TableRow:
    line: int  # as the person sees it in their spreadsheet (header is line 1)
    values: dict[str, str]


def _canonical(header: object) -> str:
    text = str(header or "").strip().lower()
    return HEADER_ALIASES.get(text, text)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel keeps phone numbers as floats
    return str(value).strip()


def _rows(header: list[object], body: list[tuple[int, list[object]]]) -> list[TableRow]:
    names = [_canonical(h) for h in header]
    rows = []
    for line, cells in body:
        values = {name: _cell(cells[i]) if i < len(cells) else ""
                  for i, name in enumerate(names) if name}
        if any(values.values()):
            rows.append(TableRow(line=line, values=values))
    if len(rows) > MAX_ROWS:
        raise TableError(f"more than {MAX_ROWS} rows")
    return rows


def read_csv(data: bytes) -> list[TableRow]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableError("not UTF-8 or GBK text")
    try:
        dialect = csv.Sniffer().sniff(text[:2048], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    lines = list(csv.reader(io.StringIO(text), dialect))
    if not lines:
        raise TableError("empty file")
    return _rows(list(lines[0]), [(i + 2, list(r)) for i, r in enumerate(lines[1:])])


def read_xlsx(data: bytes) -> list[TableRow]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a bad file
        raise TableError(f"not an XLSX workbook: {type(exc).__name__}") from None
    try:
        sheet = workbook.worksheets[0]
        all_rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    if not all_rows:
        raise TableError("empty sheet")
    return _rows(all_rows[0], [(i + 2, r) for i, r in enumerate(all_rows[1:])])


def read_table(data: bytes, filename: str) -> list[TableRow]:
    """The rows of a CSV or XLSX file, keyed by canonical column names."""
    lower = filename.lower()
    if lower.endswith((".xlsx", ".xlsm")):
        return read_xlsx(data)
    if lower.endswith((".csv", ".txt")):
        return read_csv(data)
    raise TableError("not a .csv or .xlsx file")


def write_xlsx(header: list[str], rows: list[list[object]], title: str = "Sheet1") -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
