"""Checked files (pending uploads) older than a day are forgotten when the next one comes;
files over the fake: /export writes every cell as text, /import reads a file off the event
loop within bounds and names what is wrong with a damaged one."""

from __future__ import annotations

import csv
import io
import re
import threading
import tracemalloc
import zipfile
from collections.abc import Callable
from datetime import timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from bot.db import transaction, utcnow
from bot.directory import tables
from bot.directory.models import PendingUpload, PendingUploadKind, Person
from bot.directory.roster import normalize_phone, parse_telegram
from bot.directory.tables import MAX_ROWS, read_table
from bot.directory.uploads import open_upload, save_upload
from tests.factories import Cast, make_cast, make_person
from tests.fake_telegram import FakeTelegram, FakeUser


async def test_a_new_upload_clears_day_old_ones(session_factory):
    now = utcnow()
    async with transaction(session_factory) as session:
        lee = await make_person(session, name="李干部", telegram_id=600_000_001)
        old = await save_upload(session, kind=PendingUploadKind.ROSTER, created_by_id=lee.id,
                                rows=[{"name": "旧"}], now=now - timedelta(days=1, minutes=1))
        recent = await save_upload(session, kind=PendingUploadKind.AREAS, created_by_id=lee.id,
                                   rows=[{"path": "a"}], now=now - timedelta(hours=23))
    async with session_factory() as session:  # the second upload was younger: both still kept
        assert set(await session.scalars(select(PendingUpload.id))) == {old.id, recent.id}
    async with transaction(session_factory) as session:
        new = await save_upload(session, kind=PendingUploadKind.ROSTER, created_by_id=lee.id,
                                rows=[{"name": "新"}], now=now)
    async with session_factory() as session:
        assert set(await session.scalars(select(PendingUpload.id))) == {recent.id, new.id}


async def test_only_the_uploader_may_open_a_fresh_upload(session_factory):
    now = utcnow()
    async with transaction(session_factory) as session:
        lee = await make_person(session, name="李干部", telegram_id=600_000_002)
        upload = await save_upload(session, kind=PendingUploadKind.ROSTER, created_by_id=lee.id,
                                   rows=[], now=now - timedelta(hours=2))
    async with session_factory() as session:
        assert await open_upload(session, upload_id=upload.id, created_by_id=lee.id,
                                 now=now) is not None
        assert await open_upload(session, upload_id=upload.id, created_by_id=lee.id + 1,
                                 now=now) is None
        assert await open_upload(session, upload_id=upload.id, created_by_id=lee.id,
                                 now=now + timedelta(days=1)) is None


# -- files over the fake: /export writes text, /import reads within bounds ----------------

def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _with_sheet_xml(data: bytes, change: Callable[[bytes], bytes]) -> bytes:
    """The same workbook with its first sheet's XML changed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = change(body)
            target.writestr(info.filename, body)
    return out.getvalue()


def _declaring(dimension: bytes) -> Callable[[bytes], bytes]:
    return lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="' + dimension + b'"',
                              xml)


ONE_GOOD_ROW = [["name", "phone", "team"], ["王芳", 13812345678, "治安巡逻队"]]


async def _staff(session_factory, user: FakeUser) -> Cast:
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = user.id
    return cast


async def _pending_uploads(session_factory) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(PendingUpload)) or 0


async def test_export_writes_every_cell_as_text(bot, fake: FakeTelegram, session_factory):
    lee = fake.user("Lee")
    cast = await _staff(session_factory, lee)
    formula = '=HYPERLINK("http://example.com/x","点我")'
    async with transaction(session_factory) as session:
        resident = await session.get(Person, cast.resident.id)
        resident.name, resident.username = formula, "chen_ayi"
        resident.phone = "+8613912345678"
    await lee.send("/export")
    document = lee.last_message.document
    assert document is not None
    data = fake.files[document["file_id"]].data
    sheet = load_workbook(io.BytesIO(data)).active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert cells and all(cell.data_type == "s" for cell in cells)
    by_value = {cell.value: cell for cell in cells}
    assert f"'{formula}" in by_value and formula not in by_value
    # Phones and usernames are written so that they need no apostrophe.
    assert "https://t.me/chen_ayi" in by_value and "13912345678" in by_value
    assert not any(value.startswith("'+") or value.startswith("'@") for value in by_value)
    # Imported again, the export gives back what was stored.
    names = {row.values["name"]: row.values for row in read_table(data, "roster.xlsx")}
    assert parse_telegram(names[formula]["telegram"]) == ("chen_ayi", None)
    assert normalize_phone(names[formula]["phone"]) == "+8613912345678"


async def test_a_sheet_declaring_a_huge_size_is_read_as_it_really_is(
    bot, fake: FakeTelegram, session_factory,
):
    lee = fake.user("Lee")
    await _staff(session_factory, lee)
    # A 5 KB workbook claiming 16,384 columns by 60,000 rows.
    small = _with_sheet_xml(_xlsx(ONE_GOOD_ROW), _declaring(b"A1:XFD60000"))
    # The same claim, with something really written in row 60,000.
    far = _with_sheet_xml(small, lambda xml: xml.replace(
        b"</sheetData>",
        b'<row r="60000"><c r="A60000" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'))
    assert len(far) < 10_000
    tracemalloc.start()
    try:
        await lee.send_document(small, "名单.xlsx", caption="/import")
        checked = lee.last_message.text
        await lee.send_document(far, "名单.xlsx", caption="/import")
        refused = lee.last_message.text
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "共检查了 1 行：新增 1 人" in checked
    assert refused == ("这个文件超过了 5000 行。请拆成几个小文件，一个一个发，"
                       "或发送 /cancel 取消。")
    assert peak < 50 * 1024 * 1024


def _with_doctype(entities: bytes, reference: bytes) -> Callable[[bytes], bytes]:
    """The sheet declaring `entities` in a document type, with `reference` for A2's text."""
    def change(xml: bytes) -> bytes:
        xml = re.sub(rb'(<c r="A2" t="inlineStr"><is><t>)[^<]*', lambda m: m.group(1) + reference,
                     xml, count=1)
        return re.sub(rb"^(<\?xml[^>]*\?>)?", lambda m: (m.group(0) or b"")
                      + b"<!DOCTYPE worksheet [" + entities + b"]>", xml, count=1)
    return change


async def test_a_workbook_declaring_entities_is_refused_without_expanding_them(
    bot, fake: FakeTelegram, session_factory, tmp_path,
):
    lee = fake.user("Lee")
    await _staff(session_factory, lee)
    # A billion laughs: 10^9 "ha" from a few hundred bytes; and a file on the server's disk.
    laughs = b'<!ENTITY a0 "ha">' + b"".join(
        b'<!ENTITY a%d "%s">' % (i, b"&a%d;" % (i - 1) * 10) for i in range(1, 10))
    secret = tmp_path / "secret.txt"
    secret.write_text("13900000000")
    external = b'<!ENTITY e SYSTEM "' + secret.as_uri().encode() + b'">'
    replies = []
    tracemalloc.start()
    try:
        for entities, reference in ((laughs, b"&a9;"), (external, b"&e;")):
            hostile = _with_sheet_xml(_xlsx(ONE_GOOD_ROW), _with_doctype(entities, reference))
            assert len(hostile) < 10_000
            await lee.send_document(hostile, "名单.xlsx", caption="/import")
            replies.append(lee.last_message.text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert replies == ["这个 Excel 文件已损坏，我打不开。请用 Excel 打开，"
                       "重新保存为 .xlsx 后再发一次，或发送 /cancel 取消。"] * 2
    assert peak < 50 * 1024 * 1024
    assert await _pending_uploads(session_factory) == 0


async def test_a_file_with_too_many_rows_is_refused(bot, fake: FakeTelegram, session_factory):
    lee = fake.user("Lee", language_code="en")
    await _staff(session_factory, lee)
    rows = "".join(f"居民{i},138{i:08d},治安巡逻队\n" for i in range(MAX_ROWS + 1))
    await lee.send("/import")
    await lee.send_document(("name,phone,team\n" + rows).encode(), "roster.csv")
    assert lee.last_message.text == (
        f"This file has more than {MAX_ROWS} rows. Please split it into smaller files and send "
        "them one at a time, or /cancel.")
    assert await _pending_uploads(session_factory) == 0
    one_fewer = ("name,phone,team\n" + rows[rows.index("\n") + 1:]).encode()
    assert len(read_table(one_fewer, "roster.csv")) == MAX_ROWS


async def test_the_file_is_read_off_the_event_loop(
    bot, fake: FakeTelegram, session_factory, monkeypatch: pytest.MonkeyPatch,
):
    lee = fake.user("Lee")
    await _staff(session_factory, lee)
    readers: list[int] = []
    read_csv = tables.read_csv

    def recording(data: bytes) -> list[tables.TableRow]:
        readers.append(threading.get_ident())
        return read_csv(data)

    monkeypatch.setattr(tables, "read_csv", recording)
    await lee.send_document("name,phone,team\n王芳,13812345678,治安巡逻队\n".encode(), "r.csv",
                            caption="/import")
    assert "共检查了 1 行" in lee.last_message.text
    assert readers and threading.get_ident() not in readers


async def test_damaged_files_get_a_message_naming_the_problem(
    bot, fake: FakeTelegram, session_factory,
):
    lee = fake.user("Lee")
    await _staff(session_factory, lee)
    broken_xml = _with_sheet_xml(_xlsx(ONE_GOOD_ROW), lambda xml: xml.replace(
        b"</sheetData>", b'<row r="3"><c r="A3"><v>1</v></c></sheetData>'))
    await lee.send_document(broken_xml, "名单.xlsx", caption="/import")
    assert lee.last_message.text == ("这个 Excel 文件已损坏，我打不开。请用 Excel 打开，"
                                     "重新保存为 .xlsx 后再发一次，或发送 /cancel 取消。")
    long_cell = "x" * (csv.field_size_limit() + 1)
    await lee.send_document(f'name,phone,team\n"{long_cell}",13812345678,治安巡逻队\n'.encode(),
                            "名单.csv", caption="/import")
    assert lee.last_message.text.startswith("这个 CSV 文件在第 2 行附近有损坏")
    assert await _pending_uploads(session_factory) == 0


# -- the reader's budgets, without Telegram ------------------------------------------------

def test_reading_stops_when_the_time_budget_is_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "PARSE_SECONDS", 0.0)  # spent before the first line
    with pytest.raises(tables.TableError) as refused:
        read_table("name,phone,team\n王芳,13812345678,治安巡逻队\n".encode(), "r.csv")
    assert refused.value.problem is tables.TableProblem.TOO_BIG


def test_files_too_big_to_read_are_refused_before_reading() -> None:
    oversized = b"name\n" + b"x\n" * (tables.MAX_FILE_BYTES // 2)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", bytes(tables.MAX_UNZIPPED_BYTES + 1))
    for data, name in ((oversized, "r.csv"), (zipped.getvalue(), "r.xlsx")):
        with pytest.raises(tables.TableError) as refused:
            read_table(data, name)
        assert refused.value.problem is tables.TableProblem.TOO_BIG
