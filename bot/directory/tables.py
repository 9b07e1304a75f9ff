"""Read a spreadsheet the way committees keep them: CSV (UTF-8 or GBK) or XLSX; write the
/export file. No Telegram.

A file comes from a person, so reading it is bounded: its bytes, an XLSX's unzipped size,
rows and columns (counted while reading, never taken from what the file declares) and the
time spent. The handler calls `read_table` in a worker thread, off the event loop.
"""

from __future__ import annotations

import csv
import enum
import io
import re
import time
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024  # a legal 5,000-row roster unzips to a few MB
MAX_ROWS = 5000
MAX_COLUMNS = 100
PARSE_SECONDS = 30.0
_LAST_EXCEL_ROW = 1_048_576

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


class TableProblem(enum.StrEnum):
    """Why a file was refused; the handler words each one for people."""

    NOT_A_TABLE = "not_a_table"
    NOT_TEXT = "not_text"
    EMPTY = "empty"
    BROKEN_CSV = "broken_csv"
    BROKEN_XLSX = "broken_xlsx"
    TOO_BIG = "too_big"
    TOO_MANY_ROWS = "too_many_rows"
    TOO_MANY_COLUMNS = "too_many_columns"


class TableError(ValueError):
    """The file cannot be read as a table: `problem` (with `line` or `limit` where they
    help) for people, the message for the log."""

    def __init__(self, problem: TableProblem, detail: str = "", *, line: int | None = None,
                 limit: int | None = None) -> None:
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
        self.problem = problem
        self.line = line
        self.limit = limit


# What openpyxl lets through for a damaged workbook: XML errors are SyntaxErrors, a damaged
# zip member raises from zipfile or zlib, odd cell contents raise ValueError and its kin.
_DAMAGED_XLSX = (SyntaxError, ValueError, LookupError, TypeError, ArithmeticError, EOFError,
                 OSError, zipfile.BadZipFile, zlib.error)


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
    text = str(value).strip()
    if text[:1] == "'" and text[1:2].startswith(FORMULA_STARTS):
        text = text[1:].strip()  # as `as_text` wrote it in an export
    return text


def _rows(lines: list[list[object]]) -> list[TableRow]:
    """Rows keyed by the header's canonical names; blank rows left out."""
    names = [_canonical(h) for h in lines[0]]
    rows = []
    for number, cells in enumerate(lines[1:], start=2):
        values = {name: _cell(cells[i]) if i < len(cells) else ""
                  for i, name in enumerate(names) if name}
        if any(values.values()):
            rows.append(TableRow(line=number, values=values))
    return rows


def _blank(cells: Sequence[object]) -> bool:
    return all(v is None or v == "" for v in cells)


def _bounded(lines: Iterable[Sequence[object]]) -> list[list[object]]:
    """The lines of a sheet, header first, read one at a time within the caps: past
    `MAX_ROWS` rows or `MAX_COLUMNS` columns only blank cells may follow, and the whole
    read must end within `PARSE_SECONDS`."""
    deadline = time.monotonic() + PARSE_SECONDS
    kept: list[list[object]] = []
    last_blank: Sequence[object] | None = None
    for number, cells in enumerate(lines, start=1):
        if time.monotonic() >= deadline:
            raise TableError(TableProblem.TOO_BIG, f"still reading at line {number}")
        if number > _LAST_EXCEL_ROW:
            raise TableError(TableProblem.TOO_MANY_ROWS, f"line {number}", limit=MAX_ROWS)
        if cells is last_blank:
            continue  # openpyxl repeats one tuple for the rows a sheet skips
        if number > MAX_ROWS + 1:
            if not _blank(cells):
                raise TableError(TableProblem.TOO_MANY_ROWS, f"line {number}", limit=MAX_ROWS)
            last_blank = cells
            continue
        if len(cells) > MAX_COLUMNS and not _blank(cells[MAX_COLUMNS:]):
            raise TableError(TableProblem.TOO_MANY_COLUMNS, f"line {number}",
                             line=number, limit=MAX_COLUMNS)
        kept.append(list(cells[:MAX_COLUMNS]))
    if not kept:
        raise TableError(TableProblem.EMPTY)
    return kept


def read_csv(data: bytes) -> list[TableRow]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableError(TableProblem.NOT_TEXT, "not UTF-8 or GBK text")
    try:
        dialect = csv.Sniffer().sniff(text[:2048], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        return _rows(_bounded(reader))
    except csv.Error as exc:
        raise TableError(TableProblem.BROKEN_CSV, str(exc), line=reader.line_num) from None


def _check_unzipped_size(data: bytes) -> None:
    """Refuse a zip that unpacks to more than we would read (zipfile never unpacks more
    than the sizes it declares, so the declared sizes are a real bound)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise TableError(TableProblem.BROKEN_XLSX, f"not a zip: {exc}") from None
    if unzipped > MAX_UNZIPPED_BYTES:
        raise TableError(TableProblem.TOO_BIG, f"{unzipped} bytes unzipped")


def read_xlsx(data: bytes) -> list[TableRow]:
    """The first sheet's rows. openpyxl's read-only mode pads every row to the sheet's
    declared dimension (a 5 KB file can declare A1:XFD60000), so the dimension is dropped
    and only one column past the cap is read, enough to tell a sheet that is too wide."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _check_unzipped_size(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (*_DAMAGED_XLSX, InvalidFileException) as exc:
        raise TableError(TableProblem.BROKEN_XLSX, type(exc).__name__) from None
    try:
        if not workbook.worksheets:
            raise TableError(TableProblem.EMPTY, "no worksheet")
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        return _rows(_bounded(sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True)))
    except TableError:
        raise
    except _DAMAGED_XLSX as exc:
        raise TableError(TableProblem.BROKEN_XLSX, type(exc).__name__) from None
    finally:
        workbook.close()


def read_table(data: bytes, filename: str) -> list[TableRow]:
    """The rows of a CSV or XLSX file, keyed by canonical column names. Blocking: run it in
    a worker thread."""
    if len(data) > MAX_FILE_BYTES:
        raise TableError(TableProblem.TOO_BIG, f"{len(data)} bytes")
    lower = filename.lower()
    if lower.endswith((".xlsx", ".xlsm")):
        return read_xlsx(data)
    if lower.endswith((".csv", ".txt")):
        return read_csv(data)
    raise TableError(TableProblem.NOT_A_TABLE, filename)


# A spreadsheet runs a cell starting with one of these as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Control characters XML cannot hold (openpyxl refuses them); tab, LF and CR are allowed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def as_text(value: object) -> str:
    """A cell as text no spreadsheet will run: a leading = + - @, tab or CR gets the
    apostrophe spreadsheets read as "this is text" (`_cell` drops it again on import)."""
    text = _CONTROL.sub("", "" if value is None else str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_xlsx(header: list[str], rows: list[list[object]], title: str = "Sheet1") -> bytes:
    """Every cell written as text through `as_text`: names and phones come from people."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    for row in (header, *rows):
        sheet.append([as_text(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
