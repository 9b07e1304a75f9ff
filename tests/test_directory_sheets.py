"""Rosters shaped like the ones committees keep, sent with /import over the fake: a merged
title over the header, a totals row and notes under the table, several sheets, a GBK CSV
from Excel, tab-separated text, and the header names people really write."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import func, select

from bot.db import transaction
from bot.directory.models import PendingUpload, Person
from bot.directory.tables import load_table
from tests.factories import Cast, make_cast
from tests.fake_telegram import FakeTelegram, FakeUser

TITLE = "龙江路社区平安志愿者花名册（2026年11月）"


def committee_xlsx(header: list[object], rows: list[list[object]], *,
                   merge_down: str | None = None, cover_sheet: bool = True) -> bytes:
    """A workbook as a committee makes it: a cover sheet with instructions, then the roster
    under a merged title row and a blank row, a totals row and a merged note under it."""
    workbook = Workbook()
    first = workbook.active
    if cover_sheet:
        first.title = "填表说明"
        first.append(["填表说明：请如实填写，电话填手机号。"])
        sheet = workbook.create_sheet("花名册")
    else:
        sheet = first
    width = len(header)
    sheet.append([TITLE])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.append([])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    if merge_down:
        sheet.merge_cells(merge_down)
    sheet.append(["合计", None, f"{len(rows)}人"])
    sheet.append(["注：以上信息仅用于社区平安工作，请勿外传。"])
    last = sheet.max_row
    sheet.merge_cells(start_row=last, start_column=1, end_row=last, end_column=width)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def staff_user(session_factory, user: FakeUser) -> Cast:
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = user.id
    return cast


async def count_people(session_factory, *names: str) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(Person).where(
            Person.name.in_(names))) or 0


async def test_a_roster_under_a_merged_title_with_a_totals_row_is_read(
    bot, fake: FakeTelegram, session_factory,
):
    lee = fake.user("Lee")
    await staff_user(session_factory, lee)
    data = committee_xlsx(
        ["序号", "姓名", "性别", "联系电话", "所属队伍", "职务", "网格/楼栋", "微信号"],
        [[1, "王芳", "女", 13812345678, "治安巡逻队", "队员", "3网格", "wf01"],
         [2, "李明", "男", "139-1234-5678", None, "队员", "3网格/12栋", None]],
        merge_down="E4:E5")  # the team written once, merged down over its members
    await lee.send_document(data, "龙江路社区花名册.xlsx", caption="/import")
    preview = lee.last_message.text
    assert "共检查了 2 行：2 行没问题" in preview
    assert "序号、性别" in preview and "微信号" in preview
    await lee.press("导入 2 人")
    assert "已导入 2 人" in lee.last_message.text
    assert await count_people(session_factory, "王芳", "李明") == 2


async def test_a_gbk_csv_and_tab_separated_text_with_chinese_headers_are_read(
    bot, fake: FakeTelegram, session_factory,
):
    lee = fake.user("Lee")
    await staff_user(session_factory, lee)
    gbk = (f"{TITLE},,,\n,,,\n姓名,联系电话,所属队伍,备注\n"
           "王芳,138 1234 5678,治安巡逻队,\n总计,1人,,\n").encode("gbk")
    await lee.send_document(gbk, "名单.csv", caption="/import")
    assert "共检查了 1 行：1 行没问题" in lee.last_message.text
    assert "备注" in lee.last_message.text
    await lee.press("取消")
    tabs = "\ufeff名字\t手机号\t队名\n李明\t+86 139 1234 5678\t治安巡逻队\n".encode()
    await lee.send_document(tabs, "名单.txt", caption="/import")
    assert "共检查了 1 行：1 行没问题" in lee.last_message.text
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(PendingUpload)) == 2


def test_header_names_are_read_as_people_write_them() -> None:
    text = ("联系电话（手机）,姓 名,所在志愿服务队,职 务,网格,楼栋,Telegram,身份证号\n"
            "13812345678,王芳,治安巡逻队,队员,3网格,12栋,@wangfang,1\n")
    table = load_table(text.encode(), "名单.csv")
    assert table.rows[0].values == {
        "phone": "13812345678", "name": "王芳", "team": "治安巡逻队", "role": "队员",
        "area": "3网格/12栋", "telegram": "@wangfang", "身份证号": "1"}
    assert table.unknown == ["身份证号"]
