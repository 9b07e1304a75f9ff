"""/team success paths over the fake: add, make leader, remove, rename, change zone, archive."""

from __future__ import annotations

from sqlalchemy import select

from bot.audit import AuditEntry
from bot.db import transaction
from bot.directory.models import Membership, Person, Team
from tests.factories import make_cast
from tests.fake_telegram import FakeTelegram


async def _cast(session_factory, **users):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        for field_name, user in users.items():
            getattr(cast, field_name).telegram_id = user.id
    return cast


async def _members(session_factory, team_id: int) -> dict[int, bool]:
    async with session_factory() as session:
        rows = (await session.execute(select(Membership.person_id, Membership.is_leader).where(
            Membership.team_id == team_id))).all()
    return dict(rows)


async def _actions(session_factory) -> list[str]:
    async with session_factory() as session:
        return list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


async def test_staff_adds_a_member_makes_a_leader_and_removes(
    bot, fake: FakeTelegram, session_factory
):
    lee = fake.user("Lee")
    cast = await _cast(session_factory, staff=lee)
    await lee.send("/team")
    await lee.press("治安巡逻队 (2)")
    assert "治安巡逻队：2 人" in lee.last_message.text
    await lee.press("➕ 加人")
    await lee.send("陈")
    await lee.press(text=next(b for row in lee.last_message.buttons for b in row
                              if b.startswith("陈阿姨")))
    assert "治安巡逻队：3 人" in lee.last_message.text
    assert (await _members(session_factory, cast.team.id))[cast.resident.id] is False

    await lee.press("⭐ 设为队长")
    await lee.press("陈阿姨")
    assert (await _members(session_factory, cast.team.id))[cast.resident.id] is True
    assert "⭐ 陈阿姨" in lee.last_message.text

    await lee.press("➖ 移出")
    await lee.press("张队员")
    members = await _members(session_factory, cast.team.id)
    assert cast.member.id not in members and len(members) == 2
    assert "张队员" not in lee.last_message.text
    assert [a for a in await _actions(session_factory) if a.startswith("team.")] == [
        "team.add_member", "team.set_leader", "team.remove_member"]


async def test_staff_renames_moves_and_archives_a_team(bot, fake: FakeTelegram, session_factory):
    lee = fake.user("Lee")
    cast = await _cast(session_factory, staff=lee)
    await lee.send("/team")
    await lee.press("治安巡逻队 (2)")
    await lee.press("✏️ 改名")
    await lee.send("夜间巡逻队")
    assert lee.last_message.text == "已保存。"

    await lee.send("/team")
    await lee.press("夜间巡逻队 (2)")
    assert "负责区域：龙江路社区" in lee.last_message.text
    await lee.press("📍 更改负责区域")
    await lee.press("龙江路社区 · 3网格")
    assert "负责区域：龙江路社区 · 3网格" in lee.last_message.text

    await lee.press("🗄 归档这个队伍")
    assert "归档" in lee.last_message.text
    await lee.press("确定归档")
    assert lee.last_message.text == "夜间巡逻队已归档。"
    async with session_factory() as session:
        team = await session.get(Team, cast.team.id)
    assert (team.name, team.area_id, team.archived) == ("夜间巡逻队", cast.tree.grid.id, True)
    assert [a for a in await _actions(session_factory) if a.startswith("team.")] == [
        "team.rename", "team.zone", "team.archive"]
    await lee.send("/team")
    assert "夜间巡逻队" not in str(lee.last_message.buttons)


async def test_a_zone_outside_the_community_is_refused(bot, fake: FakeTelegram, session_factory):
    lee = fake.user("Lee")
    cast = await _cast(session_factory, staff=lee)
    await lee.send("/team")
    await lee.press("治安巡逻队 (2)")
    await lee.press(data=f"dir:tzs:{cast.team.id}:{cast.other.grid.id}", forged=True)
    assert lee.last_callback_answer.text == "这个按钮已经失效了。"
    async with session_factory() as session:
        assert (await session.get(Team, cast.team.id)).area_id == cast.tree.community.id


async def test_leader_invites_members_but_names_no_leaders(
    bot, fake: FakeTelegram, session_factory
):
    wang = fake.user("Wang")
    cast = await _cast(session_factory, leader=wang)
    await wang.send("/team")
    await wang.press("治安巡逻队 (2)")
    labels = [b for row in wang.last_message.buttons for b in row]
    assert "⭐ 设为队长" not in labels and "🗄 归档这个队伍" not in labels
    await wang.press("🔗 邀请链接")
    assert [b for row in wang.last_message.buttons for b in row] == ["队员", "📋 有效的邀请链接"]
    await wang.press("队员")
    await wang.press("🔗 生成链接")
    assert any("https://t.me/pingan_test_bot?start=" in (m.text or "") for m in wang.messages)
    await wang.send("/team")  # a message with buttons to forge presses on
    for data in (f"dir:tax:{cast.team.id}", f"dir:taxy:{cast.team.id}",
                 f"dir:tzs:{cast.team.id}:{cast.tree.grid.id}"):
        await wang.press(data=data, forged=True)
        assert wang.last_callback_answer.text == "抱歉，您没有权限这样做。"
    async with session_factory() as session:
        team = await session.get(Team, cast.team.id)
    assert not team.archived and team.area_id == cast.tree.community.id


async def test_a_leader_cannot_rename_the_team_or_name_leaders_with_forged_presses(
    bot, fake: FakeTelegram, session_factory
):
    """Every team press asks the permission its button is shown for: renaming and naming
    leaders are staff's, even when a leader forges the press (and then types a name)."""
    wang = fake.user("Wang")
    cast = await _cast(session_factory, leader=wang)
    await wang.send("/team")
    await wang.press("治安巡逻队 (2)")
    labels = [b for row in wang.last_message.buttons for b in row]
    assert "✏️ 改名" not in labels and "负责区域" not in wang.last_message.text
    for data in (f"dir:tar:{cast.team.id}", f"dir:tld:{cast.team.id}:0",
                 f"dir:tun:{cast.team.id}:0", f"dir:tz:{cast.team.id}:0"):
        await wang.press(data=data, forged=True)
        assert wang.last_callback_answer.text == "抱歉，您没有权限这样做。", data
    await wang.send("随便改的名字")
    assert wang.last_message.text != "已保存。"
    async with session_factory() as session:
        team = await session.get(Team, cast.team.id)
    assert team.name == "治安巡逻队"
    assert [a for a in await _actions(session_factory) if a.startswith("team.")] == []
    # What a leader may do still works: the member list and removing a member.
    await wang.send("/team")
    await wang.press("治安巡逻队 (2)")
    await wang.press("➖ 移出")
    await wang.press("张队员")
    assert cast.member.id not in await _members(session_factory, cast.team.id)


async def test_a_leader_adding_a_member_sees_no_residents_phone(
    bot, fake: FakeTelegram, session_factory
):
    """A team leader is a volunteer: adding someone by name shows the community's people
    with their phone masked, and a few digits typed do not look phones up."""
    wang = fake.user("Wang")
    cast = await _cast(session_factory, leader=wang)
    async with transaction(session_factory) as session:
        (await session.get(Person, cast.resident.id)).phone = "+8613987654321"
    await wang.send("/team")
    await wang.press("治安巡逻队 (2)")
    await wang.press("➕ 加人")
    await wang.send("陈")
    labels = [b for row in wang.last_message.buttons for b in row]
    assert labels == ["陈阿姨 +86139****4321"]
    for typed, found in (("13987", []), ("13987654321", ["陈阿姨 +86139****4321"])):
        await wang.send("/team")  # a few digits; then the whole number, known already
        await wang.press("治安巡逻队 (2)")
        await wang.press("➕ 加人")
        await wang.send(typed)
        assert [b for row in wang.last_message.buttons for b in row] == found, typed
    assert not any("13987654321" in (m.text or "") + " ".join(b for row in m.buttons for b in row)
                   for m in wang.messages)
