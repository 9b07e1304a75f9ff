"""Read a spreadsheet the way committees keep them: CSV (UTF-8 or GBK, commas or tabs) or
XLSX, with title rows, merged cells, notes and a totals row around the table; write the
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
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024  # a legal 5,000-row roster unzips to a few MB
MAX_ROWS = 5000
MAX_COLUMNS = 100
MAX_SHEETS = 20
HEADER_SEARCH_LINES = 15  # title rows, blank rows and merged headings above the header
PARSE_SECONDS = 30.0
_LAST_EXCEL_ROW = 1_048_576

# Column names people actually type, in Chinese or English, mapped to ours. Keys are
# compared after `_header_key`: NFKC (full-width to half-width), lower case, no spaces.
HEADER_ALIASES = {
    "name": "name", "姓名": "name", "名字": "name",
    "phone": "phone", "mobile": "phone", "tel": "phone", "telephone": "phone",
    "电话": "phone", "手机": "phone", "手机号": "phone", "手机号码": "phone",
    "电话号码": "phone", "联系电话": "phone", "联系方式": "phone", "联系手机": "phone",
    "電話": "phone", "手機": "phone", "手機號": "phone", "手機號碼": "phone",
    "聯絡電話": "phone", "聯繫電話": "phone", "聯繫方式": "phone", "聯絡方式": "phone",
    "team": "team", "队伍": "team", "隊伍": "team", "所在队伍": "team", "所属队伍": "team",
    "所在隊伍": "team", "所屬隊伍": "team", "队名": "team", "隊名": "team", "志愿队": "team",
    "志願隊": "team", "队伍名称": "team", "隊伍名稱": "team",
    "role": "role", "角色": "role", "身份": "role", "职务": "role", "職務": "role",
    "职位": "role", "職位": "role",
    "area": "area", "区域": "area", "區域": "area", "网格": "area", "網格": "area",
    "楼栋": "area", "樓棟": "area", "网格/楼栋": "area", "網格/樓棟": "area",
    "所在网格": "area", "所属网格": "area", "住址": "area", "地址": "area",
    "居住地址": "area", "家庭住址": "area", "社区": "area", "社區": "area",
    "所属社区": "area", "所屬社區": "area",
    "telegram": "telegram", "telegramusername": "telegram", "telegramid": "telegram",
    "telegram_username": "telegram", "telegram_id": "telegram", "username": "telegram",
    "用户名": "telegram", "用戶名": "telegram", "tg": "telegram",
    "path": "path", "路径": "path", "路徑": "path",
    "language": "language", "语言": "language", "語言": "language",
}
# The columns of a patrol duty sheet (排班表) beyond 姓名: they count when finding the
# header, so a duty sheet is found under its title and a heading line that names a team
# and a phone; they keep their own names (bot.patrol.roster maps them) and a people roster
# lists them as unknown.
DUTY_HEADERS = frozenset({
    "日期", "date", "day", "班次", "班", "shift", "岗点", "崗點", "岗位", "崗位", "post",
    "时间", "時間", "time", "星期", "weekday",
})
# Columns committees keep that we do not need: left out, and the preview says so.
IGNORED_HEADERS = frozenset({
    "序号", "序號", "编号", "編號", "no", "no.", "#", "性别", "性別", "sex", "gender",
    "备注", "備註", "备注说明", "note", "notes", "remark", "remarks",
    "status", "状态", "狀態",  # /export's last column: the bot keeps it itself
})
# For a header cell no alias matches (`所在志愿服务队`, `队员手机`): the first keyword it
# contains, in this order (a phone column's name may also say whose phone it is).
_HEADER_KEYWORDS = (
    ("telegram", "telegram"), ("用户名", "telegram"), ("用戶名", "telegram"),
    ("电话", "phone"), ("手机", "phone"), ("電話", "phone"), ("手機", "phone"),
    ("phone", "phone"), ("姓名", "name"),
    ("职务", "role"), ("職務", "role"), ("职位", "role"), ("職位", "role"), ("角色", "role"),
    ("网格", "area"), ("網格", "area"), ("楼栋", "area"), ("樓棟", "area"),
    ("住址", "area"), ("地址", "area"), ("区域", "area"), ("區域", "area"),
    ("队", "team"), ("隊", "team"),
)
_BRACKETED = re.compile(r"[(\[【〔][^)\]】〕]*[)\]】〕]")
# A row saying how many people the table holds, not one of them.
_TOTALS = re.compile(r"^(合计|总计|小计|共计|合計|總計|共計|total)([:：\d]|$)")
# Lines under (or above) the table: notes, who filled it in, the date, the stamp.
_NOTE = re.compile(r"^(注|说明|說明|备注|備註|填表|制表|填报|填報|审核|審核|日期|单位|單位|"
                   r"联系人|聯繫人|note)")
# Multi-part values of one column joined like this (a 网格 column and a 楼栋 column make
# one area path); other columns keep their first non-empty value.
_JOINED = {"area": "/"}


class TableProblem(enum.StrEnum):
    """Why a file was refused; the handler words each one for people."""

    NOT_A_TABLE = "not_a_table"
    NOT_TEXT = "not_text"
    EMPTY = "empty"
    BROKEN_CSV = "broken_csv"
    BROKEN_XLSX = "broken_xlsx"
    OLD_XLS = "old_xls"
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
    line: int  # as the person sees it in their spreadsheet (the sheet's row number)
    values: dict[str, str]


@dataclass
class Table:
    """The rows under the header, keyed by our column names, and what the header held:
    the columns we use, those left out on purpose and those we do not know."""

    rows: list[TableRow] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    header_line: int = 1
    sheet: str | None = None


def _header_key(header: object) -> str:
    text = unicodedata.normalize("NFKC", str(header or "")).lower()
    return "".join(text.split()).strip("*:：")


def _known(header: object) -> str | None:
    """Our name for a header cell when it is one of the names people use, else None."""
    key = _header_key(header)
    return HEADER_ALIASES.get(key) or HEADER_ALIASES.get(_BRACKETED.sub("", key))


def _ignored(header: object) -> bool:
    key = _header_key(header)
    return key in IGNORED_HEADERS or _BRACKETED.sub("", key) in IGNORED_HEADERS


def _guessed(header: object) -> str | None:
    """Our name for a header cell by a keyword in it (only for the header row itself)."""
    key = _BRACKETED.sub("", _header_key(header))
    if not key or len(key) > 12:
        return None
    return next((name for word, name in _HEADER_KEYWORDS if word in key), None)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel keeps phone numbers as floats
    text = str(value).strip()
    if text[:1] == "'" and text[1:2].startswith(FORMULA_STARTS):
        text = text[1:].strip()  # as `as_text` wrote it in an export
    return text


def _header_name(header: object) -> str | None:
    """A header cell's column, ours or a duty sheet's, for telling the header apart."""
    known = _known(header)
    if known is not None:
        return known
    key = _BRACKETED.sub("", _header_key(header))
    return key if key in DUTY_HEADERS else None


def _header_score(cells: Sequence[object]) -> int:
    """How many different known column names (a roster's or a duty sheet's) a line holds."""
    return len({name for name in map(_header_name, cells) if name})


def _find_header(lines: list[list[object]]) -> int:
    """The index of the header: of the first lines, the one naming most known columns
    (the first such); with none known, the first line that is not blank."""
    best, best_score = -1, 0
    for index, cells in enumerate(lines[:HEADER_SEARCH_LINES]):
        score = _header_score(cells)
        if score > best_score:
            best, best_score = index, score
    if best >= 0:
        return best
    return next((i for i, cells in enumerate(lines) if not _blank(cells)), 0)


def _skipped(texts: list[str]) -> bool:
    """A blank row, a totals row or a note under the table (merged across the row, so
    one text in every cell)."""
    filled = list(dict.fromkeys(t for t in texts if t))
    if not filled:
        return True
    if any(_TOTALS.match(_header_key(t)) for t in filled[:3]):
        return True
    return len(filled) <= 2 and _NOTE.match(_header_key(filled[0])) is not None


def _table(lines: list[list[object]]) -> Table:
    """Find the header, name the columns, keep the rows that hold people."""
    at = _find_header(lines)
    header = lines[at] if lines else []
    table = Table(header_line=at + 1)
    names: list[str | None] = []
    for cell in header:
        text = str(cell).strip() if cell is not None else ""
        name = None
        if not text:
            pass
        elif _ignored(text):
            if text not in table.ignored:
                table.ignored.append(text)
        else:
            name = _known(text) or _guessed(text)
            if name is None:
                table.unknown.append(text)
                name = text.lower()  # kept under its own name for readers that know it
            elif name not in table.columns:
                table.columns.append(name)
        names.append(name)
    header_names = [_known(cell) for cell in header]
    for number, cells in enumerate(lines[at + 1:], start=at + 2):
        texts = [_cell(cells[i]) if i < len(cells) else "" for i in range(len(names))]
        if _skipped(texts) or ([_known(c) for c in cells[:len(names)]] == header_names
                               and _header_score(cells) >= 2):
            continue  # blank, totals, notes, the header repeated on a new page
        values: dict[str, str] = {}
        for name, text in zip(names, texts, strict=True):
            if name is None:
                continue
            if name in _JOINED and values.get(name) and text:
                values[name] += _JOINED[name] + text
            elif not values.get(name):
                values[name] = text
        table.rows.append(TableRow(line=number, values=values))
        if len(table.rows) > MAX_ROWS:
            raise TableError(TableProblem.TOO_MANY_ROWS, f"line {number}", limit=MAX_ROWS)
    return table


def _blank(cells: Sequence[object]) -> bool:
    return all(v is None or v == "" for v in cells)


def _bounded(lines: Iterable[Sequence[object]]) -> list[list[object]]:
    """The lines of a sheet, read one at a time within the caps: past `MAX_ROWS` rows
    (and the title rows a header may have above it) or `MAX_COLUMNS` columns only blank
    cells may follow, and the whole read must end within `PARSE_SECONDS`."""
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
        if number > MAX_ROWS + HEADER_SEARCH_LINES + 1:
            if not _blank(cells):
                raise TableError(TableProblem.TOO_MANY_ROWS, f"line {number}", limit=MAX_ROWS)
            last_blank = cells
            continue
        if len(cells) > MAX_COLUMNS and not _blank(cells[MAX_COLUMNS:]):
            raise TableError(TableProblem.TOO_MANY_COLUMNS, f"line {number}",
                             line=number, limit=MAX_COLUMNS)
        kept.append(list(cells[:MAX_COLUMNS]))
    if not kept or all(_blank(cells) for cells in kept):
        raise TableError(TableProblem.EMPTY)
    return kept


def _delimiter(text: str) -> str:
    """Tab, semicolon or comma: whichever the first lines hold most of (Excel's "Unicode
    text" is tab-separated; the sniffer trips over a title row)."""
    sample = text[:8192]
    counts = {d: sample.count(d) for d in ("\t", ";", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)  # Excel's "Unicode text"
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError(TableProblem.NOT_TEXT, "not UTF-8 or GBK text")


def read_csv(data: bytes) -> Table:
    text = _decode(data)
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    try:
        return _table(_bounded(reader))
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


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]{1,3}\d{1,7})(?::([A-Z]{1,3}\d{1,7}))?"')


def _merged(workbook: Any, sheet: Any) -> list[tuple[int, int, int, int]]:
    """The sheet's merged ranges (min_col, min_row, max_col, max_row). Read-only mode does
    not load them, so the sheet's XML is scanned for them, a chunk at a time."""
    from openpyxl.utils.cell import coordinate_to_tuple

    found: list[tuple[int, int, int, int]] = []
    tail = b""
    with workbook._archive.open(sheet._worksheet_path) as member:
        while chunk := member.read(1 << 20):
            text = tail + chunk
            last = 0
            for match in _MERGE.finditer(text):
                top = coordinate_to_tuple(match.group(1).decode())
                bottom = coordinate_to_tuple((match.group(2) or match.group(1)).decode())
                found.append((top[1], top[0], bottom[1], bottom[0]))
                last = match.end()
            tail = text[max(last, len(text) - 200):]
    return found


def _fill_merged(lines: list[list[object]], ranges: list[tuple[int, int, int, int]]) -> None:
    """Give every cell of a merged range the value of its top-left cell, as people see it
    (a team name merged down over its members' rows)."""
    for min_col, min_row, max_col, max_row in ranges:
        if min_row > len(lines) or min_col > MAX_COLUMNS:
            continue
        first = lines[min_row - 1]
        value = first[min_col - 1] if min_col - 1 < len(first) else None
        for row in lines[min_row - 1:min(max_row, len(lines))]:
            width = min(max_col, MAX_COLUMNS)
            if len(row) < width:
                row.extend([None] * (width - len(row)))
            for col in range(min_col - 1, width):
                row[col] = value


def _sheet_lines(workbook: Any, sheet: Any, *, limit: int | None = None) -> list[list[object]]:
    sheet.reset_dimensions()
    rows = sheet.iter_rows(max_row=limit, max_col=MAX_COLUMNS + 1, values_only=True)
    if limit is not None:
        return [list(cells[:MAX_COLUMNS]) for cells in rows]
    lines = _bounded(rows)
    _fill_merged(lines, _merged(workbook, sheet))
    return lines


def read_xlsx(data: bytes) -> Table:
    """The sheet that looks most like our table (the first, when none looks like one).
    openpyxl's read-only mode pads every row to the sheet's declared dimension (a 5 KB
    file can declare A1:XFD60000), so the dimension is dropped and only one column past
    the cap is read, enough to tell a sheet that is too wide."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _check_unzipped_size(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (*_DAMAGED_XLSX, InvalidFileException) as exc:
        raise TableError(TableProblem.BROKEN_XLSX, type(exc).__name__) from None
    try:
        sheets = workbook.worksheets[:MAX_SHEETS]
        if not sheets:
            raise TableError(TableProblem.EMPTY, "no worksheet")
        sheet = sheets[0]
        if len(sheets) > 1:
            scores = [max(map(_header_score, _sheet_lines(workbook, s,
                                                           limit=HEADER_SEARCH_LINES)),
                          default=0) for s in sheets]
            sheet = sheets[scores.index(max(scores))]
        table = _table(_sheet_lines(workbook, sheet))
        table.sheet = sheet.title
        return table
    except TableError:
        raise
    except _DAMAGED_XLSX as exc:
        raise TableError(TableProblem.BROKEN_XLSX, type(exc).__name__) from None
    finally:
        workbook.close()


def load_table(data: bytes, filename: str) -> Table:
    """The table in a CSV, tab-separated or XLSX file (an .xls that is really an XLSX or
    text, as many systems export, too). Blocking: run it in a worker thread."""
    if len(data) > MAX_FILE_BYTES:
        raise TableError(TableProblem.TOO_BIG, f"{len(data)} bytes")
    lower = filename.lower()
    if lower.endswith((".xlsx", ".xlsm")) or (lower.endswith(".xls")
                                                and data.startswith(b"PK\x03\x04")):
        return read_xlsx(data)
    if lower.endswith(".xls") and data.startswith(b"\xd0\xcf\x11\xe0"):
        raise TableError(TableProblem.OLD_XLS, filename)
    if lower.endswith((".csv", ".txt", ".tsv", ".xls")):
        return read_csv(data)
    raise TableError(TableProblem.NOT_A_TABLE, filename)


def read_table(data: bytes, filename: str) -> list[TableRow]:
    """The rows of `load_table`, keyed by canonical column names."""
    return load_table(data, filename).rows


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
