"""Directory stories end to end: the real bot against the fake Telegram server."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.db import transaction, utcnow
from bot.directory.invites import create_invite
from bot.directory.models import (
    InviteRole,
    Membership,
    PendingUpload,
    Person,
    PersonStatus,
    Role,
    Subscription,
    SubscriptionTopic,
)
from tests.factories import make_cast
from tests.fake_telegram import FakeTelegram, FakeUser


async def cast_with(session_factory, **users: FakeUser):
    """make_cast, with the named people bound to fake users' Telegram ids."""
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        for field_name, user in users.items():
            getattr(cast, field_name).telegram_id = user.id
    return cast


async def test_resident_registers_with_buttons(bot, fake: FakeTelegram, session_factory):
    await cast_with(session_factory)
    amy = fake.user("Amy", language_code="zh-hans")
    await amy.send("/start")
    await amy.press("简体中文")
    assert "您住在哪个社区" in amy.last_message.text
    await amy.press("龙江路社区")
    await amy.press("12栋 · 3网格")  # the building directly, its grid as a hint
    assert "龙江路社区 · 3网格 · 12栋" in amy.last_message.text
    assert amy.last_message.buttons[0] == ["✅ 安全提示"]
    await amy.press("✅ 防诈骗提醒")
    assert amy.last_message.buttons[1] == ["⬜ 防诈骗提醒"]
    await amy.press("完成")
    assert "安全提示" in amy.last_message.text
    async with session_factory() as session:
        person = await session.scalar(select(Person).where(Person.telegram_id == amy.id))
        topics = set(await session.scalars(select(Subscription.topic).where(
            Subscription.person_id == person.id)))
    assert person.role is Role.RESIDENT and person.area_id is not None
    assert topics == {SubscriptionTopic.SAFETY_TIPS, SubscriptionTopic.NOTICES}


async def test_volunteer_joins_by_invite_and_spent_links_are_refused(
    bot, fake: FakeTelegram, session_factory
):
    cast = await cast_with(session_factory)
    async with transaction(session_factory) as session:
        _, token = await create_invite(session, area=cast.tree.community, team=cast.team,
                                       role=InviteRole.MEMBER, now=utcnow(), actor_id=None,
                                       max_uses=1)
        _, old = await create_invite(session, area=cast.tree.community, team=cast.team,
                                     role=InviteRole.MEMBER, now=utcnow() - timedelta(days=30),
                                     actor_id=None)
    bob = fake.user("Bob")
    await bob.send(f"/start {token}")
    assert any("您已加入治安巡逻队" in (m.text or "") for m in bob.messages)
    carl = fake.user("Carl")
    await carl.send(f"/start {token}")
    assert "已经用完" in carl.last_message.text
    await carl.send(f"/start {old}")
    assert "已经过期" in carl.last_message.text
    await carl.send("/start nonsense")
    assert "无效" in carl.last_message.text
    async with session_factory() as session:
        members = await session.scalar(select(func.count()).select_from(Membership).where(
            Membership.team_id == cast.team.id))
        carl_row = await session.scalar(select(Person).where(Person.telegram_id == carl.id))
    assert members == 3 and carl_row is None


async def test_staff_creates_an_invite_with_a_qr_code(bot, fake: FakeTelegram, session_factory):
    lee = fake.user("Lee")
    await cast_with(session_factory, staff=lee)
    await lee.send("/invite")
    await lee.press("治安巡逻队 · 龙江路社区")
    await lee.press("队员")
    await lee.press("🔗 生成链接")
    assert "https://t.me/pingan_test_bot?start=" in lee.messages[-2].text
    assert lee.last_message.photo is not None


ROSTER = ("name,phone,team,role\n王芳,13812345678,治安巡逻队,队员\n"
          ",13700000000,治安巡逻队,\n赵敏,12345,治安巡逻队,\n孙丽,13612345678,不存在队,\n"
          "周杰,13812345678,治安巡逻队,\n")


async def test_roster_is_previewed_then_imported_and_matched_by_phone(
    bot, fake: FakeTelegram, session_factory
):
    lee = fake.user("Lee")
    await cast_with(session_factory, staff=lee)
    await lee.send("/import")
    await lee.send_document(ROSTER.encode(), "名单.csv")
    assert "队伍“不存在队”— 1 行" in lee.last_message.text
    await lee.press("跳过这些行")
    preview = lee.last_message.text
    for expected in ("第 3 行", "姓名", "第 4 行", "电话号码", "第 5 行", "跳过",
                     "第 6 行", "与第 2 行的电话重复"):
        assert expected in preview
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Person).where(
            Person.name == "王芳")) == 0
    await lee.press("导入 1 人")
    assert "已导入 1 人" in lee.last_message.text
    async with session_factory() as session:
        wang = await session.scalar(select(Person).where(Person.name == "王芳"))
    assert wang.status is PersonStatus.PENDING

    # 王芳 joins: someone else's card is refused, her own phone matches her.
    wang_user = fake.user("芳")
    await wang_user.send("/start")
    await wang_user.send_contact("+8613812345678", own=False)
    assert "您自己的" in wang_user.last_message.text
    await wang_user.send_contact("+86 138 1234 5678")
    assert "找到您了" in wang_user.last_message.text
    async with session_factory() as session:
        rows = list(await session.scalars(select(Person).where(Person.telegram_id == wang_user.id)))
    assert len(rows) == 1 and rows[0].phone == "+8613812345678"
    assert rows[0].status is PersonStatus.ACTIVE and rows[0].role is Role.MEMBER


async def test_roster_confirm_by_someone_else_changes_nothing(
    bot, fake: FakeTelegram, session_factory
):
    lee, zhao = fake.user("Lee"), fake.user("Zhao")
    await cast_with(session_factory, staff=lee, other_staff=zhao)
    await lee.send_document(ROSTER.encode(), "r.csv", caption="/import")
    async with session_factory() as session:
        upload_id = await session.scalar(select(PendingUpload.id))
    await zhao.send("/me")
    await fake.press_button(zhao.record, data=f"dir:rok:{upload_id}",
                            message=zhao.last_message, forged=True)
    assert zhao.last_callback_answer.text == "这个按钮已经失效了。"
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Person).where(
            Person.name == "王芳")) == 0


STAFF_COMMANDS = ["/areas", "/import", "/importareas", "/export", "/people 王", "/team"]


@pytest.mark.parametrize("who", ["resident", "other_staff"])
@pytest.mark.parametrize("command", STAFF_COMMANDS)
async def test_staff_actions_are_refused(bot, fake, session_factory, who: str, command: str):
    user = fake.user("Someone")
    await cast_with(session_factory, **{who: user})
    await user.send(command)
    await fake.wait_for(lambda: user.last_message is not None)
    reply = user.last_message
    if who == "resident":
        assert reply.text == "抱歉，您没有权限这样做。"
        return
    # Staff of the next community may use the command, but see only their own community.
    if command == "/export":
        from openpyxl import load_workbook

        data = fake.files[reply.document["file_id"]].data
        names = {row[0] for row in load_workbook(io.BytesIO(data)).active.iter_rows(
            min_row=2, values_only=True)}
        assert names == {"赵干部"}
    elif command in {"/import", "/importareas"}:
        assert "/cancel" in reply.text  # asks for the file; the scope is applied to its rows
    else:
        assert "没有权限" not in reply.text
        assert "龙江路" not in reply.text and "王队长" not in reply.text


@pytest.mark.parametrize("data", ["dir:ax:{community}", "dir:axy:{community}",
                                  "dir:tv:{team}", "dir:trm:{team}:{member}",
                                  "dir:tld:{team}:{member}", "dir:it:{team}",
                                  "dir:ab:{community}:0"])
@pytest.mark.parametrize("who", ["resident", "other_staff", "member"])
async def test_forged_staff_buttons_are_refused(bot, fake, session_factory, who, data):
    user = fake.user("Someone")
    cast = await cast_with(session_factory, **{who: user})
    await user.send("/leave")  # any message with an inline keyboard to forge a press on
    await fake.press_button(user.record, data=data.format(
        community=cast.tree.community.id, team=cast.team.id, member=cast.member.id),
        message=user.last_message, forged=True)
    await fake.wait_for(lambda: user.last_callback_answer is not None)
    assert user.last_callback_answer.text == "抱歉，您没有权限这样做。"
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Membership).where(
            Membership.team_id == cast.team.id)) == 2


async def test_help_differs_for_admin_and_stranger(bot, fake, session_factory):
    boss, nobody = fake.user("Boss"), fake.user("Nobody")
    await cast_with(session_factory, admin=boss)
    await boss.send("/help")
    await nobody.send("/help")
    assert "/import" in boss.last_message.text and "/areas" in boss.last_message.text
    assert "/import" not in nobody.last_message.text and "/me" not in nobody.last_message.text


async def test_me_and_leave(bot, fake, session_factory):
    amy = fake.user("Amy")
    cast = await cast_with(session_factory, resident=amy)
    await amy.send("/me")
    assert "陈阿姨" in amy.last_message.text and "12栋" in amy.last_message.text
    await amy.send("/leave")
    await amy.press("确定退出")
    async with session_factory() as session:
        person = await session.get(Person, cast.resident.id)
        subs = await session.scalar(select(func.count()).select_from(Subscription).where(
            Subscription.person_id == person.id))
    assert person.status is PersonStatus.LEFT and subs == 0


PRIVACY_NOTE = "为了保护大家的隐私，这些内容只在私聊里显示。请直接私聊我发送。"


async def test_staff_tools_show_no_personal_data_in_a_group(bot, fake, session_factory):
    """A roster, phones or member lists are never posted into a group: the staff member gets
    a short note there to use a private chat, and presses on directory buttons are refused."""
    lee, amy = fake.user("Lee"), fake.user("Amy")
    cast = await cast_with(session_factory, staff=lee, resident=amy)
    async with transaction(session_factory) as session:
        for person, phone in ((cast.member, "+8613812345678"), (cast.resident, "+8613987654321")):
            (await session.get(Person, person.id)).phone = phone
    group = fake.group("龙江路居民群", [lee, amy])
    await fake.add_bot(group, by=lee)
    for command in ("/export", "/people 张", "/people 陈", "/team", "/areas", "/invite",
                    "/import"):
        replies = await lee.send(command, chat=group)
        assert [r.text for r in replies] == [PRIVACY_NOTE], command
    await lee.send("/language", chat=group)  # a message with buttons to forge presses on
    for data in (f"dir:tv:{cast.team.id}", f"dir:trm:{cast.team.id}:0",
                 f"dir:tad:{cast.team.id}", f"dir:it:{cast.team.id}",
                 f"dir:ab:{cast.tree.community.id}:0", "dir:tl:1:0"):
        await lee.press(data=data, chat=group, forged=True)
        answer = lee.last_callback_answer
        assert answer is not None and answer.show_alert and answer.text == PRIVACY_NOTE, data
    await lee.send("陈", chat=group)  # no member search was started in the group
    assert not any(m.document for m in group.messages)
    posted = "\n".join(m.text or m.caption or "" for m in group.messages)
    assert "138" not in posted and "139" not in posted and "张队员" not in posted
    # In a private chat the same commands work as before.
    await lee.send("/people 张")
    assert "+8613812345678" in lee.last_message.text
    await lee.send("/export")
    assert lee.last_message.document is not None


async def test_me_and_leave_are_private_in_a_group(bot, fake, session_factory):
    """/me shows where a person lives: in a group it is a note to write privately. And a
    /leave button in a group, pressed by whoever sees it, never makes anyone leave."""
    amy, bob, lee = fake.user("Amy"), fake.user("Bob"), fake.user("Lee")
    cast = await cast_with(session_factory, resident=amy, member=bob, staff=lee)
    group = fake.group("龙江路居民群", [amy, bob, lee])
    await fake.add_bot(group, by=amy)
    for command in ("/me", "/leave"):
        replies = await amy.send(command, chat=group)
        assert [r.text for r in replies] == [PRIVACY_NOTE], command
    await lee.send("/language", chat=group)  # a message with buttons to forge a press on
    await bob.press(data="dir:lvy", chat=group, forged=True)
    answer = bob.last_callback_answer
    assert answer is not None and answer.text == PRIVACY_NOTE
    async with session_factory() as session:
        for person in (cast.resident, cast.member):
            assert (await session.get(Person, person.id)).status is not PersonStatus.LEFT
    assert not any("12栋" in (m.text or "") for m in group.messages)
