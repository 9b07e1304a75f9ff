"""/invite over the fake: choose how long and how often a link works, list a team's links,
revoke one; every press is checked again (forged presses included)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.audit import AuditEntry
from bot.db import transaction, utcnow
from bot.directory.invites import create_invite
from bot.directory.models import Invite, InviteRole, Membership, Person
from tests.factories import make_cast
from tests.fake_telegram import FakeTelegram, FakeUser

NO_RIGHT = "抱歉，您没有权限这样做。"


async def _cast(session_factory, **users: FakeUser):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        for field_name, user in users.items():
            getattr(cast, field_name).telegram_id = user.id
    return cast


def _token(text: str) -> str:
    match = re.search(r"\?start=([A-Za-z0-9_-]+)", text)
    assert match is not None, text
    return match.group(1)


async def _invites(session_factory) -> list[Invite]:
    async with session_factory() as session:
        return list(await session.scalars(select(Invite).order_by(Invite.id)))


async def _audit(session_factory, action: str) -> list[AuditEntry]:
    async with session_factory() as session:
        return list(await session.scalars(select(AuditEntry).where(
            AuditEntry.action == action).order_by(AuditEntry.id)))


async def test_one_day_one_use_link_works_once(bot, fake: FakeTelegram, session_factory):
    lee = fake.user("Lee")
    cast = await _cast(session_factory, staff=lee)
    await lee.send("/invite")
    await lee.press("治安巡逻队 · 龙江路社区")
    await lee.press("队员")
    options = lee.last_message
    assert "治安巡逻队" in options.text and "队员" in options.text
    flat = [b for row in options.buttons for b in row]
    assert "✅ 7 天" in flat and "✅ 50 人" in flat  # the defaults for a member link
    await lee.press("1 天")
    assert "✅ 1 天" in [b for row in lee.last_message.buttons for b in row]
    await lee.press("1 人")
    flat = [b for row in lee.last_message.buttons for b in row]
    assert {"✅ 1 天", "✅ 1 人", "7 天", "50 人"} <= set(flat)
    await lee.press("🔗 生成链接")
    text = lee.messages[-2].text
    assert "可以用 1 次" in text and "https://t.me/pingan_test_bot?start=" in text
    assert lee.last_message.photo is not None
    token = _token(text)

    [invite] = await _invites(session_factory)
    assert invite.max_uses == 1 and invite.role is InviteRole.MEMBER
    assert invite.team_id == cast.team.id and invite.created_by_id == cast.staff.id
    lifetime = invite.expires_at - utcnow()
    assert timedelta(hours=23) < lifetime <= timedelta(days=1)
    [created] = await _audit(session_factory, "invite.create")
    assert created.actor_id == cast.staff.id and created.after["max_uses"] == 1

    bob, carl = fake.user("Bob"), fake.user("Carl")
    await bob.send(f"/start {token}")
    assert any("您已加入治安巡逻队" in (m.text or "") for m in bob.messages)
    await carl.send(f"/start {token}")
    assert "已经用完" in carl.last_message.text
    async with session_factory() as session:
        carl_row = await session.scalar(select(Person).where(Person.telegram_id == carl.id))
        members = await session.scalar(select(func.count()).select_from(Membership).where(
            Membership.team_id == cast.team.id))
    assert carl_row is None and members == 3


async def test_unlimited_link_says_so(bot, fake: FakeTelegram, session_factory):
    lee = fake.user("Lee")
    await _cast(session_factory, staff=lee)
    await lee.send("/invite")
    await lee.press("治安巡逻队 · 龙江路社区")
    await lee.press("队员")
    await lee.press("不限人数")
    await lee.press("30 天")
    await lee.press("🔗 生成链接")
    assert "拿到链接的人都可以加入" in lee.messages[-2].text
    [invite] = await _invites(session_factory)
    assert invite.max_uses >= 1_000_000
    assert invite.expires_at - utcnow() > timedelta(days=29)


async def test_a_revoked_invite_is_refused(bot, fake: FakeTelegram, session_factory, settings):
    lee = fake.user("Lee")
    cast = await _cast(session_factory, staff=lee)
    await lee.send("/invite")
    await lee.press("治安巡逻队 · 龙江路社区")
    await lee.press("队员")
    await lee.press("🔗 生成链接")
    token = _token(lee.messages[-2].text)
    [invite] = await _invites(session_factory)

    await lee.send("/team")
    await lee.press("治安巡逻队 (2)")
    await lee.press("🔗 邀请链接")
    await lee.press("📋 有效的邀请链接")
    listing = lee.last_message.text
    assert "有效邀请链接：1 个" in listing
    assert f"#{invite.id} 队员 · 李干部 发出 · 还能用 50 次 · 到 " in listing
    assert f"{invite.expires_at.astimezone(settings.tz):%Y-%m-%d %H:%M}" in listing
    await lee.press(f"🗑 作废 #{invite.id}")
    assert "作废后链接和二维码都不能再用" in lee.last_message.text
    await lee.press("确定作废")
    assert lee.last_callback_answer.text == "已作废。"
    assert "目前没有有效的邀请链接" in lee.last_message.text
    [invite] = await _invites(session_factory)
    assert invite.revoked
    [revoked] = await _audit(session_factory, "invite.revoke")
    assert revoked.actor_id == cast.staff.id and revoked.object_id == invite.id

    bob = fake.user("Bob")
    await bob.send(f"/start {token}")
    assert "无效" in bob.last_message.text
    async with session_factory() as session:
        assert await session.scalar(select(Person).where(Person.telegram_id == bob.id)) is None


async def test_leader_invites_members_only_and_revokes_own_member_links(
    bot, fake: FakeTelegram, session_factory
):
    wang = fake.user("Wang")
    cast = await _cast(session_factory, leader=wang)
    async with transaction(session_factory) as session:
        staff_link, _ = await create_invite(session, area=cast.tree.community, team=cast.team,
                                            role=InviteRole.LEADER, now=utcnow(),
                                            actor_id=cast.staff.id)
    await wang.send("/invite")
    await wang.press("治安巡逻队 · 龙江路社区")
    roles = [b for row in wang.last_message.buttons for b in row]
    assert "队员" in roles and "队长" not in roles
    await wang.press("队员")
    await wang.press("10 人")
    await wang.press("🔗 生成链接")
    assert "可以用 10 次" in wang.messages[-2].text
    mine = (await _invites(session_factory))[-1]
    assert mine.created_by_id == cast.leader.id and mine.max_uses == 10

    await wang.send("/invite")
    await wang.press("治安巡逻队 · 龙江路社区")
    await wang.press("📋 有效的邀请链接")
    listing = wang.last_message
    assert "有效邀请链接：2 个" in listing.text
    flat = [b for row in listing.buttons for b in row]
    # The leader link (made by staff) is listed, but only staff may revoke it.
    assert f"🗑 作废 #{mine.id}" in flat and f"🗑 作废 #{staff_link.id}" not in flat
    await wang.press(data=f"dir:ixy:{staff_link.id}", forged=True)
    assert wang.last_callback_answer.text == NO_RIGHT
    await wang.press(f"🗑 作废 #{mine.id}")
    await wang.press("确定作废")
    revoked = {i.id: i.revoked for i in await _invites(session_factory)}
    assert revoked == {staff_link.id: False, mine.id: True}


@pytest.mark.parametrize("data", ["dir:ix:{other}", "dir:ixy:{other}", "dir:il:{other_team}:0",
                                  "dir:io:{other_team}:10", "dir:ig:{other_team}:10",
                                  "dir:ig:{team}:110", "dir:ir:{team}:1"])
async def test_leader_cannot_touch_another_teams_invites(
    bot, fake: FakeTelegram, session_factory, data: str
):
    wang = fake.user("Wang")
    cast = await _cast(session_factory, leader=wang)
    async with transaction(session_factory) as session:
        other, _ = await create_invite(session, area=cast.other.community, team=cast.other_team,
                                       role=InviteRole.MEMBER, now=utcnow(),
                                       actor_id=cast.other_staff.id)
    await wang.send("/leave")  # any message with an inline keyboard to forge a press on
    await wang.press(data=data.format(other=other.id, other_team=cast.other_team.id,
                                      team=cast.team.id), forged=True)
    assert wang.last_callback_answer.text == NO_RIGHT
    invites = await _invites(session_factory)
    assert [(i.id, i.revoked) for i in invites] == [(other.id, False)]
    assert await _audit(session_factory, "invite.revoke") == []


@pytest.mark.parametrize("data", ["dir:io:{team}:999", "dir:ig:{team}:940", "dir:ig:{team}:5000",
                                  "dir:ix:999999", "dir:ig:999999:200"])
async def test_forged_or_stale_invite_options_are_refused_politely(
    bot, fake: FakeTelegram, session_factory, data: str
):
    lee = fake.user("Lee")
    cast = await _cast(session_factory, staff=lee)
    await lee.send("/leave")
    await lee.press(data=data.format(team=cast.team.id), forged=True)
    assert lee.last_callback_answer.text == "这个按钮已经失效了。"
    assert await _invites(session_factory) == []


async def test_a_spent_link_cannot_be_revoked_again(bot, fake: FakeTelegram, session_factory):
    lee = fake.user("Lee")
    cast = await _cast(session_factory, staff=lee)
    async with transaction(session_factory) as session:
        old, _ = await create_invite(session, area=cast.tree.community, team=cast.team,
                                     role=InviteRole.MEMBER, now=utcnow() - timedelta(days=30),
                                     actor_id=cast.staff.id)
    await lee.send("/leave")
    await lee.press(data=f"dir:ixy:{old.id}", forged=True)
    assert lee.last_callback_answer.text == "这个按钮已经失效了。"
    assert await _audit(session_factory, "invite.revoke") == []


async def test_admin_makes_lists_and_revokes_staff_links_for_a_community(
    bot, fake: FakeTelegram, session_factory
):
    boss = fake.user("Boss")
    cast = await _cast(session_factory, admin=boss)

    async def staff_links_of_qingshiqiao() -> None:
        await boss.send("/invite")
        await boss.press("邀请社区干部")
        assert boss.last_message.text == "要邀请哪个社区的干部？请选择："
        await boss.press("青石桥社区")

    await staff_links_of_qingshiqiao()
    assert "青石桥社区" in boss.last_message.text and "社区干部" in boss.last_message.text
    await boss.press("🔗 生成链接")
    first = _token(boss.messages[-2].text)
    await staff_links_of_qingshiqiao()
    await boss.press("🔗 生成链接")
    second = _token(boss.messages[-2].text)
    first_invite, second_invite = await _invites(session_factory)
    assert (first_invite.team_id, first_invite.area_id, first_invite.role) == (
        None, cast.other.community.id, InviteRole.STAFF)

    bob = fake.user("Bob")
    await bob.send(f"/start {first}")
    async with session_factory() as session:
        bob_row = await session.scalar(select(Person).where(Person.telegram_id == bob.id))
    assert bob_row is not None and bob_row.role.value == "staff"
    assert bob_row.area_id == cast.other.community.id

    await staff_links_of_qingshiqiao()
    await boss.press("📋 有效的邀请链接")
    listing = boss.last_message
    assert "青石桥社区的有效邀请链接：1 个" in listing.text  # the first is used up
    assert f"#{second_invite.id} 社区干部 · 管理员 发出 · 还能用 1 次" in listing.text
    await boss.press(f"🗑 作废 #{second_invite.id}")
    await boss.press("确定作废")
    assert boss.last_callback_answer.text == "已作废。"
    assert "青石桥社区目前没有有效的邀请链接" in boss.last_message.text
    carl = fake.user("Carl")
    await carl.send(f"/start {second}")
    assert "无效" in carl.last_message.text
    [revoked] = await _audit(session_factory, "invite.revoke")
    assert revoked.actor_id == cast.admin.id and revoked.object_id == second_invite.id


@pytest.mark.parametrize("who,data", [
    ("staff", "dir:is:{other_community}"), ("staff", "dir:ig:{other_community}:210"),
    ("staff", "dir:isl:{other_community}:0"), ("staff", "dir:ix:{link}"),
    ("staff", "dir:ixy:{link}"), ("leader", "dir:isp:0:0"), ("leader", "dir:is:{community}"),
    ("leader", "dir:isl:{community}:0"), ("leader", "dir:ig:{community}:210"),
])
async def test_staff_links_elsewhere_are_refused_on_forged_presses(
    bot, fake: FakeTelegram, session_factory, who: str, data: str
):
    user = fake.user("Forger")
    cast = await _cast(session_factory, **{who: user})
    async with transaction(session_factory) as session:
        link, _ = await create_invite(session, area=cast.other.community, team=None,
                                      role=InviteRole.STAFF, now=utcnow(),
                                      actor_id=cast.admin.id)
    await user.send("/leave")
    await user.press(data=data.format(other_community=cast.other.community.id, link=link.id,
                                      community=cast.tree.community.id), forged=True)
    assert user.last_callback_answer.text == NO_RIGHT
    assert [(i.id, i.revoked) for i in await _invites(session_factory)] == [(link.id, False)]


async def test_community_staff_invite_staff_to_their_own_community_only(
    bot, fake: FakeTelegram, session_factory
):
    lee = fake.user("Lee")
    cast = await _cast(session_factory, staff=lee)
    await lee.send("/invite")
    await lee.press("邀请社区干部")  # no community to pick: straight to the link's options
    assert "龙江路社区" in lee.last_message.text
    await lee.press("🔗 生成链接")
    [invite] = await _invites(session_factory)
    assert (invite.area_id, invite.role) == (cast.tree.community.id, InviteRole.STAFF)
