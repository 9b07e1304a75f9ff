"""Rosters shaped like the ones committees keep, sent with /import over the fake: a merged
title over the header, a totals row and notes under the table, several sheets, a GBK CSV
from Excel, tab-separated text, and the header names people really write."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import func, select

from bot.db import transaction
from bot.directory.models import Membership, PendingUpload, Person, Role, Team, TeamKind
from bot.directory.tables import load_table
from tests.factories import Cast, make_cast, make_person, make_team
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
    assert "共检查了 2 行：新增 2 人" in preview
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
    assert "共检查了 1 行：新增 1 人" in lee.last_message.text
    assert "备注" in lee.last_message.text
    await lee.press("取消")
    tabs = "\ufeff名字\t手机号\t队名\n李明\t+86 139 1234 5678\t治安巡逻队\n".encode()
    await lee.send_document(tabs, "名单.txt", caption="/import")
    assert "共检查了 1 行：新增 1 人" in lee.last_message.text
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(PendingUpload)) == 2


async def test_the_import_prompt_and_a_missing_column_speak_the_sheets_language(
    bot, fake: FakeTelegram, session_factory,
):
    lee = fake.user("Lee")
    await staff_user(session_factory, lee)
    await lee.send("/import")
    prompt = lee.last_message.text
    assert "姓名、联系电话、所属队伍、职务、网格/楼栋" in prompt and "name" not in prompt
    only_names = committee_xlsx(["序号", "姓名", "备注"], [[1, "王芳", None]], cover_sheet=False)
    await lee.send_document(only_names, "名单.xlsx")
    assert lee.last_message.text.startswith("文件缺少这些列：电话、队伍。")
    assert await count_people(session_factory, "王芳") == 0


def test_header_names_are_read_as_people_write_them() -> None:
    text = ("联系电话（手机）,姓 名,所在志愿服务队,职 务,网格,楼栋,Telegram,身份证号\n"
            "13812345678,王芳,治安巡逻队,队员,3网格,12栋,@wangfang,1\n")
    table = load_table(text.encode(), "名单.csv")
    assert table.rows[0].values == {
        "phone": "13812345678", "name": "王芳", "team": "治安巡逻队", "role": "队员",
        "area": "3网格/12栋", "telegram": "@wangfang", "身份证号": "1"}
    assert table.unknown == ["身份证号"]


# -- names that match nothing: asked once with buttons, remembered for the next file ------

COMMITTEE_HEADER = ["序号", "姓名", "性别", "联系电话", "所属队伍", "职务", "网格/楼栋", "备注"]
COMMITTEE_ROWS = [  # sheet rows 4 to 12, under the title, a blank row and the header
    [1, "王芳", "女", 13812345678, "法制宣传志愿服务队", "队员", "第三网格", None],
    [2, "李明", "男", "139-1234-5678", "法制宣传志愿服务队", "副队长", "三网格/12栋", None],
    [3, "赵强", "男", "+86 137 1234 5678", None, "楼栋长", "第3网格/12栋", None],
    [4, "孙丽", "女", "１３６１２３４５６７８", "文明劝导志愿队", "队员", "3网格", None],
    [5, None, "男", 13512345678, "治安巡逻队", "队员", None, None],
    [6, "周杰", "男", "12345", "治安巡逻队", "队员", None, None],
    [7, "吴军", "男", "138 1234 5678", "治安巡逻队", "队员", None, "与王芳同一号码"],
    [8, "陈阿姨", "女", 13312345678, "治安巡逻队", "队员", "3网格/12栋", None],
    [9, "郑好", "男", 13212345678, "治安巡逻队", "队员", "五网格", None],
]


async def committee_cast(session_factory, lee: FakeUser) -> Cast:
    """The cast, with the community's 法制宣传队 and 楼长 teams, and 陈阿姨's phone known."""
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = lee.id
        await make_team(session, area=cast.tree.community, name="法制宣传队",
                        kind=TeamKind.LEGAL_PUBLICITY)
        await make_team(session, area=cast.tree.community, name="楼长",
                        kind=TeamKind.BUILDING_HEADS)
        resident = await session.get(Person, cast.resident.id)
        resident.phone = "+8613312345678"
    return cast


async def teams_of(session_factory, name: str) -> dict[str, bool]:
    async with session_factory() as session:
        return dict((await session.execute(
            select(Team.name, Membership.is_leader).join(Membership, Membership.team_id == Team.id)
            .join(Person, Person.id == Membership.person_id).where(Person.name == name))).all())


async def test_a_committee_roster_is_mapped_once_then_imported_and_the_next_file_needs_no_mapping(
    bot, fake: FakeTelegram, session_factory,
):
    lee = fake.user("Lee")
    cast = await committee_cast(session_factory, lee)
    data = committee_xlsx(COMMITTEE_HEADER, COMMITTEE_ROWS)
    await lee.send_document(data, "2026年11月花名册.xlsx", caption="/import")
    assert "队伍“法制宣传志愿服务队”— 2 行" in lee.last_message.text
    assert "（后面还有 3 个问题。）" in lee.last_message.text
    await lee.press("就是法制宣传队")
    assert "队伍“文明劝导志愿队”— 1 行" in lee.last_message.text
    await lee.press("新建这支队伍")
    assert "职务“副队长”— 1 行" in lee.last_message.text
    await lee.press("队长")
    text = lee.last_message.text
    assert "区域“五网格”— 1 行" in text and "就是平桥办事处/龙江路社区/3网格" in str(
        lee.last_message.buttons)
    await lee.press("跳过这些行")
    summary = lee.last_message.text
    assert "共检查了 9 行：新增 4 人，更新 1 人（电话相同），4 行不能导入" in summary
    for expected in ("第 8 行（-）：缺少姓名", "第 9 行（周杰）：电话号码",
                     "第 10 行（吴军）：与第 4 行的电话重复", "第 12 行（郑好）：已按您的选择跳过"):
        assert expected in summary
    assert await count_people(session_factory, "王芳", "李明", "赵强", "孙丽") == 0
    await lee.press("导入 5 人")
    assert "已导入 4 人" in lee.last_message.text
    assert "1 位按电话找到的已有人员已更新" in lee.last_message.text
    assert await teams_of(session_factory, "王芳") == {"法制宣传队": False}
    assert await teams_of(session_factory, "李明") == {"法制宣传队": True}
    assert await teams_of(session_factory, "赵强") == {"楼长": False}
    assert await teams_of(session_factory, "孙丽") == {"文明劝导志愿队": False}
    assert await teams_of(session_factory, "陈阿姨") == {"治安巡逻队": False}
    async with session_factory() as session:
        zhao = await session.scalar(select(Person).where(Person.name == "赵强"))
        chen = await session.get(Person, cast.resident.id)
        created = await session.scalar(select(Team).where(Team.name == "文明劝导志愿队"))
        sun = await session.scalar(select(Person).where(Person.name == "孙丽"))
    assert zhao.area_id == cast.tree.building.id and zhao.phone == "+8613712345678"
    assert chen.role is Role.MEMBER and chen.telegram_id is not None
    assert created.area_id == cast.tree.community.id and sun.phone == "+8613612345678"

    # Next month's file, a GBK CSV, uses the same names: no question, straight to Confirm.
    second = ("姓名,手机号,所属队伍,职务,网格\n"
              "钱七,13112345678,法制宣传志愿服务队,副队长,第三网格\n"
              "冯八,13012345678,文明劝导志愿队,队员,三网格\n").encode("gbk")
    await lee.send_document(second, "12月名单.csv", caption="/import")
    assert "共检查了 2 行：新增 2 人，更新 0 人（电话相同），0 行不能导入" in lee.last_message.text
    # Meanwhile 钱七's phone turns up in the community next door: Confirm writes nothing.
    async with transaction(session_factory) as session:
        await make_person(session, name="钱七", phone="+8613112345678", area=cast.other.community)
    await lee.press("导入 2 人")
    assert "检查之后名录有了变化" in lee.last_message.text
    assert "第 2 行（钱七）：这个电话属于您辖区以外的人" in lee.last_message.text
    assert await count_people(session_factory, "冯八") == 0
    await lee.press("导入 1 人")
    assert "已导入 1 人" in lee.last_message.text
    assert await teams_of(session_factory, "冯八") == {"文明劝导志愿队": False}


async def test_answers_to_a_roster_question_are_checked_on_every_press(
    bot, fake: FakeTelegram, session_factory,
):
    lee, zhao = fake.user("Lee"), fake.user("Zhao")
    cast = await committee_cast(session_factory, lee)
    async with transaction(session_factory) as session:
        (await session.get(Person, cast.other_staff.id)).telegram_id = zhao.id
    await lee.send_document("姓名,电话,队伍\n王芳,13812345678,法制宣传志愿服务队\n".encode(),
                            "r.csv", caption="/import")
    question = lee.last_message
    offered = question.button_data[question.buttons.index(["就是法制宣传队"])][0]
    upload_id, packed = map(int, offered.split(":")[2:])
    tag = packed % 1000
    # Another community's staff, and a team that was not offered, are both turned away.
    await zhao.send("/me")
    await fake.press_button(zhao.record, data=offered, message=zhao.last_message, forged=True)
    assert zhao.last_callback_answer.text == "这个按钮已经失效了。"
    not_offered = f"dir:rmt:{upload_id}:{cast.other_team.id * 1000 + tag}"
    await fake.press_button(lee.record, data=not_offered, message=question, forged=True)
    assert lee.last_callback_answer.text == "这个按钮已经失效了。"
    async with session_factory() as session:
        assert (await session.get(PendingUpload, upload_id)).choices == {
            "plan": (await session.get(PendingUpload, upload_id)).choices["plan"]}
    await lee.press("就是法制宣传队")
    assert "新增 1 人" in lee.last_message.text
