"""Success paths over the fake: /areas add, rename and archive; /importareas and /import
with XLSX files built here with openpyxl (dry run first, then Confirm)."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import select

from bot.audit import AuditEntry
from bot.db import transaction
from bot.directory.models import Area, AreaKind, Membership, Person, PersonStatus, Role
from tests.factories import make_cast
from tests.fake_telegram import FakeTelegram, FakeUser


async def _cast(session_factory, **users: FakeUser):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        for field_name, user in users.items():
            getattr(cast, field_name).telegram_id = user.id
    return cast


def _xlsx(header: list[str], rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _buttons(user: FakeUser) -> list[str]:
    return [b for row in user.last_message.buttons for b in row]


async def _area(session_factory, name: str) -> Area | None:
    async with session_factory() as session:
        return await session.scalar(select(Area).where(Area.name == name))


async def _actions(session_factory, prefix: str) -> list[tuple[str, int | None]]:
    async with session_factory() as session:
        rows = (await session.execute(select(AuditEntry.action, AuditEntry.actor_id).where(
            AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id))).all()
    return [tuple(r) for r in rows]


async def test_staff_adds_renames_and_archives_a_grid(bot, fake: FakeTelegram, session_factory):
    lee = fake.user("Lee")
    cast = await _cast(session_factory, staff=lee)
    await lee.send("/areas")
    assert "龙江路社区：下面有 1 个区域" in lee.last_message.text
    assert "3网格" in _buttons(lee)

    await lee.press("➕ 新增")
    assert "请输入新区域的名称" in lee.last_message.text
    await lee.send("5网格")
    assert "已保存。" in [m.text for m in lee.messages[-2:]]
    assert "龙江路社区：下面有 2 个区域" in lee.last_message.text
    grid = await _area(session_factory, "5网格")
    assert grid is not None and grid.kind is AreaKind.GRID
    assert grid.parent_id == cast.tree.community.id
    assert grid.path == f"{cast.tree.community.path}{grid.id}/"

    await lee.press("5网格")
    assert "5网格：下面有 0 个区域" in lee.last_message.text
    await lee.press("➕ 新增")
    await lee.send("1栋")
    building = await _area(session_factory, "1栋")
    assert building is not None and building.kind is AreaKind.BUILDING
    assert building.path.startswith(grid.path)

    await lee.press("✏️ 改名")
    assert "请输入新名称" in lee.last_message.text
    await lee.send("五网格")
    assert "五网格：下面有 1 个区域" in lee.last_message.text
    assert await _area(session_factory, "5网格") is None
    assert (await _area(session_factory, "五网格")).id == grid.id

    await lee.press("🗄 归档")
    assert "及其下面的所有区域归档吗" in lee.last_message.text
    await lee.press("确定归档")
    assert lee.last_message.text == "已归档 2 个区域。"
    async with session_factory() as session:
        archived = dict((await session.execute(select(Area.name, Area.archived))).all())
    assert archived["五网格"] and archived["1栋"]
    assert not archived["3网格"] and not archived["12栋"] and not archived["龙江路社区"]
    assert await _actions(session_factory, "area.") == [
        ("area.create", cast.staff.id), ("area.create", cast.staff.id),
        ("area.rename", cast.staff.id), ("area.archive", cast.staff.id)]

    # The archived grid is no longer offered under its community.
    await lee.send("/areas")
    assert "五网格" not in _buttons(lee) and "3网格" in _buttons(lee)


async def test_importareas_with_an_xlsx_file(bot, fake: FakeTelegram, session_factory):
    lee = fake.user("Lee")
    cast = await _cast(session_factory, staff=lee)
    data = _xlsx(["路径"], [
        ["平桥办事处/龙江路社区/3网格/14栋"],          # one new building under a known grid
        ["平桥办事处/龙江路社区/6网格/1栋"],           # a new grid and its building
        ["平桥办事处/青石桥社区/1网格/9栋"],           # the next community: not Lee's
        ["平桥办事处/龙江路社区/3网格/14栋"],          # the same again
        ["平桥办事处/龙江路社区/3网格/12栋/1单元"],     # deeper than a building
    ])
    await lee.send("/importareas")
    await lee.send_document(data, "区域.xlsx")
    preview = lee.last_message.text
    assert "共检查了 5 行：要新增 3 个区域，3 行需要修改" in preview
    for expected in ("第 4 行（平桥办事处/青石桥社区/1网格/9栋）：不在您负责的区域内",
                     "第 5 行（平桥办事处/龙江路社区/3网格/14栋）：与文件中的另一行重复",
                     "第 6 行", "层级太多"):
        assert expected in preview
    assert await _area(session_factory, "14栋") is None  # a dry run writes nothing

    await lee.press("新增 3 个区域")
    assert lee.last_message.text == "完成：已新增 3 个区域。"
    async with session_factory() as session:
        new = {a.name: a for a in await session.scalars(select(Area).where(
            Area.name.in_(["14栋", "6网格", "1栋", "9栋"])))}
    assert set(new) == {"14栋", "6网格", "1栋"}
    assert new["14栋"].parent_id == cast.tree.grid.id
    assert new["6网格"].parent_id == cast.tree.community.id
    assert new["1栋"].parent_id == new["6网格"].id and new["1栋"].kind is AreaKind.BUILDING


async def test_roster_import_with_an_xlsx_file(bot, fake: FakeTelegram, session_factory):
    lee = fake.user("Lee")
    cast = await _cast(session_factory, staff=lee)
    # Chinese headers as committees type them; Excel keeps phone numbers as numbers.
    data = _xlsx(["姓名", "手机号", "队伍", "角色", "网格"], [
        ["王芳", 13812345678, "治安巡逻队", "队员", "3网格"],
        ["刘强", 13912345678.0, "治安巡逻队", "组长", ""],
        [None, 13700000000, "治安巡逻队", "队员", ""],
        ["赵敏", 12345, "治安巡逻队", "队员", ""],
        ["孙丽", 13612345678, "治安巡逻队", "队员", "9网格"],
        ["周杰", 13812345678, "治安巡逻队", "队员", ""],
        ["张队员", 13512345678, "治安巡逻队", "队员", ""],
    ])
    async with transaction(session_factory) as session:
        (await session.get(Person, cast.member.id)).phone = "+8613512345678"
    await lee.send("/import")
    await lee.send_document(data, "名单.xlsx")
    # An area the bot does not know is asked about once, before the check.
    assert "区域“9网格”— 1 行" in lee.last_message.text
    await lee.press("跳过这些行")
    preview = lee.last_message.text
    assert "共检查了 7 行：新增 2 人，更新 1 人（电话相同），4 行不能导入" in preview
    for expected in ("第 4 行（-）：缺少姓名", "第 5 行（赵敏）：电话号码不对",
                     "第 6 行（孙丽）：已按您的选择跳过", "第 7 行（周杰）：与第 2 行的电话重复"):
        assert expected in preview
    assert "王芳" not in preview and "刘强" not in preview
    async with session_factory() as session:
        assert await session.scalar(select(Person).where(Person.name == "王芳")) is None

    await lee.press("导入 3 人")
    assert "已导入 2 人" in lee.last_message.text
    async with session_factory() as session:
        people = {p.name: p for p in await session.scalars(select(Person).where(
            Person.name.in_(["王芳", "刘强", "赵敏", "孙丽", "周杰"])))}
        memberships = dict((await session.execute(
            select(Membership.person_id, Membership.is_leader).where(
                Membership.team_id == cast.team.id))).all())
    assert set(people) == {"王芳", "刘强"}
    wang, liu = people["王芳"], people["刘强"]
    assert wang.phone == "+8613812345678" and liu.phone == "+8613912345678"
    assert wang.status is PersonStatus.PENDING and wang.role is Role.MEMBER
    assert wang.area_id == cast.tree.grid.id
    assert memberships[wang.id] is False and memberships[liu.id] is True
