"""/broadcast, /broadcasts and /quiethours end to end, over the fake Bot API server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.broadcasting.models import QuietHoursSetting, TipSent
from bot.broadcasting.service import default_tip_library
from bot.db import transaction
from bot.directory.models import Chat, Person, Role, SubscriptionTopic
from broadcasts import Broadcast, BroadcastStatus, Delivery, DeliveryStatus
from tests.factories import Cast, add_to_team, make_cast, make_person, make_tree
from tests.fake_telegram import FakeGroup, FakeTelegram, FakeUser
from tests.support import BotRunner

Factory = async_sessionmaker[AsyncSession]
SHANGHAI = ZoneInfo("Asia/Shanghai")
REFUSALS = {
    "抱歉，只有社区干部可以给居民和队伍发消息。",
    "抱歉，只有社區幹部可以給居民和隊伍發訊息。",
    "Sorry, only community staff can send messages to residents and teams.",
}


def started(fake: FakeTelegram, name: str, language: str = "zh-hans") -> FakeUser:
    user = fake.user(name, language_code=language)
    user.record.started = True
    return user


async def forge(user: FakeUser, data: str) -> None:
    """A modified client sends `data` (from whatever keyboard it has; /language gives one)."""
    if not any(m.reply_markup for m in user.messages):
        await user.send("/language")
    await user.press(data=data, forged=True)


@dataclass
class World:
    cast: Cast
    staff: FakeUser
    other_staff: FakeUser
    member: FakeUser  # zh-TW, in the team
    resident: FakeUser  # English, lives in the grid
    leader: FakeUser
    outsider: FakeUser  # lives in the other community
    group: FakeGroup  # the team's linked group chat


async def make_world(fake: FakeTelegram, bot: BotRunner, factory: Factory) -> World:
    staff = started(fake, "李干部")
    other_staff = started(fake, "赵干部")
    member = started(fake, "陳隊員", "zh-hant")
    resident = started(fake, "Anne", "en")
    leader = started(fake, "王队长")
    outsider = started(fake, "孙阿姨")
    group = fake.group("巡逻队群", [leader, member])
    await fake.add_bot(group, by=leader)
    for _ in range(200):  # until the bot has registered the group
        async with factory() as session:
            if await session.scalar(select(Chat.id).where(Chat.telegram_chat_id == group.id)):
                break
        await asyncio.sleep(0.02)
    async with transaction(factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = staff.id
        cast.other_staff.telegram_id = other_staff.id
        cast.leader.telegram_id = leader.id
        cast.member.telegram_id = None
        cast.resident.telegram_id = None
        tw = await make_person(session, name="陳隊員", role=Role.MEMBER, area=cast.tree.community,
                               telegram_id=member.id, language="zh-TW")
        await add_to_team(session, person=tw, team=cast.team)
        await make_person(session, name="Anne", role=Role.RESIDENT, area=cast.tree.grid,
                          telegram_id=resident.id, language="en",
                          topics=tuple(SubscriptionTopic))
        await make_person(session, name="孙阿姨", role=Role.RESIDENT, area=cast.other.grid,
                          telegram_id=outsider.id)
        linked = await session.execute(update(Chat).where(Chat.telegram_chat_id == group.id)
                                       .values(team_id=cast.team.id, language="zh-CN"))
        assert linked.rowcount == 1
    return World(cast, staff, other_staff, member, resident, leader, outsider, group)


def set_clock(bot: BotRunner, at: datetime) -> None:
    assert bot.application is not None
    bot.application.bot_data["services"].extras["clock"] = lambda: at


def noon() -> datetime:
    return datetime.combine(datetime.now(SHANGHAI).date(), time(12, 0), tzinfo=SHANGHAI)


def tonight() -> datetime:
    return datetime.combine(datetime.now(SHANGHAI).date(), time(23, 0), tzinfo=SHANGHAI)


async def compose_tip(world: World, *, category_label: str = "防盗窃") -> None:
    """The staff member picks a tip for the team and the grid, up to the preview."""
    staff = world.staff
    await staff.send("/broadcast")
    assert staff.last_message is not None and "发什么" in staff.last_message.text
    await staff.press("💡 温馨提示")
    await staff.press("▫️ 治安巡逻队 · 龙江路社区")
    assert "目前：" in staff.last_message.text
    await staff.press("区域")
    await staff.press("▫️ 3网格")
    await staff.press("下一步 ▶")
    await staff.press("📚 从提示库取下一条")
    await staff.press(category_label)


def first_anti_theft() -> tuple[str, dict[str, str]]:
    tip = next(t for t in default_tip_library() if t.category == "anti_theft")
    return tip.id, dict(tip.texts)


async def test_staff_sends_a_tip_to_a_team_and_an_area_each_in_their_language(
    fake: FakeTelegram, bot: BotRunner, session_factory: Factory,
) -> None:
    world = await make_world(fake, bot, session_factory)
    set_clock(bot, noon())
    await compose_tip(world)
    tip_id, texts = first_anti_theft()
    staff = world.staff
    preview = [m.content for m in staff.messages[-3:]]
    assert preview[0].startswith("预览")
    assert preview[1] == f"💡 温馨提示\n\n{texts['zh-CN']}"
    await staff.press("✅ 现在发送")
    # Leader and zh-TW member (team), the resident (grid), the leader's group (team link).
    assert "正在发送给 3 人和 1 个群" in staff.last_message.text

    def arrived(user: FakeUser | FakeGroup, text: str) -> bool:
        return any(m.content == text for m in user.messages)

    await fake.wait_for(lambda: arrived(world.member, f"💡 溫馨提示\n\n{texts['zh-TW']}")
                        and arrived(world.resident, f"💡 Safety tip\n\n{texts['en']}")
                        and arrived(world.leader, f"💡 温馨提示\n\n{texts['zh-CN']}")
                        and arrived(world.group, f"💡 温馨提示\n\n{texts['zh-CN']}"))
    await asyncio.sleep(0.3)
    assert not world.outsider.messages  # the other community gets nothing
    assert not [m for m in world.other_staff.messages]
    async with session_factory() as session:
        sent = list(await session.scalars(select(TipSent.tip_id)))
        b = (await session.scalars(select(Broadcast))).one()
    assert sent == [tip_id]
    assert b.kind == "safety_tip" and b.not_before is None


async def test_tip_in_quiet_hours_waits_and_urgent_notice_does_not(
    fake: FakeTelegram, bot: BotRunner, session_factory: Factory,
) -> None:
    world = await make_world(fake, bot, session_factory)
    set_clock(bot, tonight())
    await compose_tip(world)
    staff = world.staff
    assert "休息时段" in staff.last_message.text and "07:30" in staff.last_message.text
    assert staff.last_message.button("⚡ 紧急：夜间也立即发送") is None  # not for tips
    await staff.press("✅ 现在发送")
    assert "07:30" in staff.last_message.text
    async with session_factory() as session:
        tip = (await session.scalars(select(Broadcast))).one()
        due = set(await session.scalars(select(Delivery.next_attempt_at)
                                        .where(Delivery.broadcast_id == tip.id)))
    morning = datetime.combine(tonight().date() + timedelta(days=1), time(7, 30),
                               tzinfo=SHANGHAI)
    assert tip.not_before == morning and due == {morning}

    # An urgent notice in the same night goes at once.
    await staff.send("/broadcast")
    await staff.press("📢 社区通知")
    await staff.press("▫️ 治安巡逻队 · 龙江路社区")
    await staff.press("下一步 ▶")
    await staff.send("今晚有暴雨，请巡逻队检查地下车库排水。")
    await staff.press("⚡ 紧急：夜间也立即发送")
    notice = "📢 社区通知\n\n今晚有暴雨，请巡逻队检查地下车库排水。"
    await fake.wait_for(lambda: any(m.content == notice for m in world.leader.messages))
    await asyncio.sleep(0.3)
    assert not any(m.content and m.content.startswith("💡") for m in world.leader.messages)
    assert not world.resident.messages  # the tip waits for the morning


async def test_next_tip_does_not_repeat(
    fake: FakeTelegram, bot: BotRunner, session_factory: Factory,
) -> None:
    world = await make_world(fake, bot, session_factory)
    set_clock(bot, noon())
    school = [t for t in default_tip_library() if t.category == "school_safety"]
    got: list[str] = []
    for _ in range(len(school) + 1):
        await compose_tip(world, category_label="护校安全")
        await world.staff.press("✅ 现在发送")
        async with session_factory() as session:
            b = (await session.scalars(select(Broadcast).order_by(Broadcast.id.desc()))).first()
        assert b is not None
        got.append(b.audience["tip_id"])
    assert sorted(got[:-1]) == sorted(t.id for t in school)  # every one once
    assert got[-1] in got[:-1]  # then a new round


async def test_outsiders_cannot_use_broadcast_or_its_buttons(
    fake: FakeTelegram, bot: BotRunner, session_factory: Factory,
) -> None:
    world = await make_world(fake, bot, session_factory)
    set_clock(bot, noon())
    # The staff member starts a draft; others try its buttons and the command.
    await world.staff.send("/broadcast")
    data = world.staff.last_message.button_data[0][0]
    tag = data.split(":")[1]
    for person in (world.resident, world.member, world.leader):
        await person.send("/broadcast")
        assert person.last_message.content in REFUSALS
        await forge(person, data)
        assert person.last_callback_answer is not None
        assert person.last_callback_answer.text in REFUSALS
        await forge(person, "bcl:x:1")
    # Staff of the other community: their own draft cannot pick this community's team.
    await world.other_staff.send("/broadcast")
    other_tag = world.other_staff.last_message.button_data[0][0].split(":")[1]
    await world.other_staff.press("💡 温馨提示")
    assert world.other_staff.last_message.button("▫️ 治安巡逻队 · 龙江路社区") is None
    await forge(world.other_staff, f"bc:{other_tag}:t:{world.cast.team.id}")
    assert world.other_staff.last_callback_answer.text == "抱歉，这个不能选。"
    await forge(world.other_staff, f"bc:{other_tag}:a:{world.cast.tree.grid.id}")
    assert world.other_staff.last_callback_answer.text == "抱歉，这个不能选。"
    # …nor act on someone else's draft.
    await forge(world.other_staff, f"bc:{tag}:k:notice")
    assert world.other_staff.last_callback_answer.text.startswith("这个按钮已经失效")
    # Garbage is refused politely too.
    await forge(world.other_staff, "bc:zz")
    assert world.other_staff.last_callback_answer.text.startswith("这个按钮已经失效")
    async with session_factory() as session:
        assert (await session.scalars(select(Broadcast))).first() is None


async def test_broadcasts_report_and_cancel(
    fake: FakeTelegram, bot: BotRunner, session_factory: Factory,
) -> None:
    world = await make_world(fake, bot, session_factory)
    set_clock(bot, tonight())  # deferred, so it is still pending when we look
    await compose_tip(world)
    await world.staff.press("✅ 现在发送")
    await world.staff.send("/broadcasts")
    listing = world.staff.last_message
    assert "#1 💡 温馨提示" in listing.text
    assert "已送达 0 · 失败 0 · 联系不上 0 · 等待中 4" in listing.text
    assert listing.button("停止 #1（未发出的不再发）") is not None
    # Someone else cannot stop it, even with a forged press.
    await forge(world.other_staff, "bcl:x:1")
    assert world.other_staff.last_callback_answer.text == "抱歉，只有发送人或管理员可以停止。"
    await forge(world.resident, "bcl:x:1")
    async with session_factory() as session:
        assert (await session.get_one(Broadcast, 1)).status == BroadcastStatus.PENDING
    await world.staff.press("停止 #1（未发出的不再发）")
    assert world.staff.last_callback_answer.text == "已停止，还有 4 条不会再发出。"
    assert "已停止、未发出：4" in world.staff.last_message.text
    assert world.staff.last_message.button("停止 #1（未发出的不再发）") is None
    async with session_factory() as session:
        statuses = set(await session.scalars(select(Delivery.status)))
    assert statuses == {DeliveryStatus.CANCELLED}


async def test_quiet_hours_command(
    fake: FakeTelegram, bot: BotRunner, session_factory: Factory,
) -> None:
    world = await make_world(fake, bot, session_factory)
    await world.staff.send("/quiethours")
    assert "21:30–07:30" in world.staff.last_message.text
    await world.staff.send("/quiethours 22:00-06:30")
    assert "22:00–06:30" in world.staff.last_message.text
    await world.resident.send("/quiethours 01:00-02:00")
    assert "Sorry" in world.resident.last_message.text
    async with session_factory() as session:
        rows = list(await session.scalars(select(QuietHoursSetting)))
    assert [(r.area_id, r.start_minute, r.end_minute) for r in rows] == [
        (world.cast.tree.community.id, 22 * 60, 6 * 60 + 30)]
    # A tip at 22:15 now waits until 06:30.
    set_clock(bot, datetime.combine(noon().date(), time(22, 15), tzinfo=SHANGHAI))
    await compose_tip(world)
    assert "06:30" in world.staff.last_message.text
    await world.staff.send("/quiethours default")
    assert "21:30–07:30" in world.staff.last_message.text


async def test_admin_names_the_community_for_quiet_hours(
    fake: FakeTelegram, bot: BotRunner, session_factory: Factory,
) -> None:
    world = await make_world(fake, bot, session_factory)
    admin = started(fake, "管理员")
    async with transaction(session_factory) as session:
        world.cast.admin.telegram_id = admin.id  # an administrator has no community of their own
        session.add(world.cast.admin)
        # A second 龙江路社区, under another street office.
        twin = await make_tree(session, street_office="东湖办事处")
    other = world.cast.other.community

    async def rows() -> list[tuple[int, int, int]]:
        async with session_factory() as session:
            return sorted((r.area_id, r.start_minute, r.end_minute)
                          for r in await session.scalars(select(QuietHoursSetting)))

    await admin.send("/quiethours")
    text = admin.last_message.text
    assert "要设哪个社区的休息时段" in text and "/quiethours 龙江路社区 22:00-07:00" in text
    assert "· 青石桥社区" in text and "· 龙江路社区" in text

    await admin.send("/quiethours 青石桥社区 22:00-06:00")
    assert admin.last_message.text.startswith("青石桥社区的休息时段：22:00–06:00。")
    assert await rows() == [(other.id, 22 * 60, 6 * 60)]
    await admin.send("/quiethours 青石桥社区")
    assert "22:00–06:00" in admin.last_message.text
    assert "/quiethours 青石桥社区 22:00-07:00" in admin.last_message.text

    await admin.send("/quiethours 青石桥小区 23:00-06:00")
    assert admin.last_message.text.startswith("没有找到叫“青石桥小区”的社区。")
    assert "· 青石桥社区" in admin.last_message.text
    await admin.send("/quiethours 龙江路社区 23:00-06:00")
    assert "有好几个社区都叫“龙江路社区”" in admin.last_message.text
    assert "· 东湖办事处/龙江路社区" in admin.last_message.text
    assert "· 平桥办事处/龙江路社区" in admin.last_message.text
    assert await rows() == [(other.id, 22 * 60, 6 * 60)]  # neither changed anything

    await admin.send("/quiethours 东湖办事处/龙江路社区 off")
    assert admin.last_message.text.startswith("龙江路社区没有设休息时段")
    assert await rows() == sorted([(other.id, 22 * 60, 6 * 60), (twin.community.id, 0, 0)])
    await admin.send("/quiethours 青石桥社区 默认")
    assert await rows() == [(twin.community.id, 0, 0)]


async def test_staff_quiet_hours_stay_in_their_community(
    fake: FakeTelegram, bot: BotRunner, session_factory: Factory,
) -> None:
    world = await make_world(fake, bot, session_factory)
    staff = world.staff
    await staff.send("/quiethours 青石桥社区 23:00-05:00")
    assert staff.last_message.text == "抱歉，您只能管理自己社区的休息时段。"
    await staff.send("/quiethours 22点到")  # hours cut short: how to write them, as before
    assert staff.last_message.text.startswith("请这样写：/quiethours 21:30-07:30")
    await staff.send("/quiethours 龙江路社区 23:00-05:00")  # their own, by name
    assert "23:00–05:00" in staff.last_message.text
    await staff.send("/quiethours 25:00-05:00")
    assert staff.last_message.text.startswith("请这样写：/quiethours 21:30-07:30")
    async with session_factory() as session:
        rows = list(await session.scalars(select(QuietHoursSetting)))
    assert [(r.area_id, r.start_minute, r.end_minute) for r in rows] == [
        (world.cast.tree.community.id, 23 * 60, 5 * 60)]


@pytest.mark.parametrize("sender", ["admin", "street_staff"])
async def test_residents_get_only_the_kinds_they_subscribed_to(
    fake: FakeTelegram, bot: BotRunner, session_factory: Factory, sender: str,
) -> None:
    """An area reaches its team members, and its residents only for the kinds they chose;
    "all residents of" is offered to an admin and to staff of a street office too."""
    world = await make_world(fake, bot, session_factory)
    set_clock(bot, noon())
    composer = started(fake, "街道干部")
    everything = started(fake, "周阿姨")
    no_notices = started(fake, "吴大爷")
    no_tips = started(fake, "郑阿姨")
    helper = started(fake, "钱队员")
    topics = SubscriptionTopic
    async with transaction(session_factory) as session:
        tree = world.cast.tree
        if sender == "admin":
            await session.execute(update(Person).where(Person.id == world.cast.admin.id)
                                  .values(telegram_id=composer.id))
        else:
            await make_person(session, name="街道干部", role=Role.STAFF,
                              area=tree.street_office, telegram_id=composer.id)
        await make_person(session, name="周阿姨", area=tree.building, telegram_id=everything.id,
                          topics=tuple(topics))
        await make_person(session, name="吴大爷", area=tree.grid, telegram_id=no_notices.id,
                          topics=(topics.SAFETY_TIPS, topics.ANTI_FRAUD))
        await make_person(session, name="郑阿姨", area=tree.grid, telegram_id=no_tips.id,
                          topics=(topics.NOTICES, topics.ANTI_FRAUD))
        await make_person(session, name="钱队员", role=Role.MEMBER, area=tree.grid,
                          telegram_id=helper.id)
    notice = "📢 社区通知\n\n周六上午九点在3网格开楼道安全会。"

    # A notice to the grid: its team member, and the residents who want notices.
    await composer.send("/broadcast")
    await composer.press("📢 社区通知")
    await composer.press("区域")
    await composer.press("▫️ 3网格")
    assert "目前：4 人" in composer.last_message.text
    await composer.press("下一步 ▶")
    await composer.send("周六上午九点在3网格开楼道安全会。")
    assert "发给 4 人" in composer.last_message.text
    await composer.press("✅ 现在发送")
    got_notice = [everything, no_tips, helper, world.resident]
    await fake.wait_for(lambda: all(any(m.content == notice for m in u.messages)
                                    for u in got_notice[:3]))

    # A tip to all residents of the street office: only those who want tips.
    await composer.send("/broadcast")
    await composer.press("💡 温馨提示")
    await composer.press("▫️ 平桥办事处全体居民")
    assert "目前：3 人" in composer.last_message.text
    await composer.press("下一步 ▶")
    await composer.send("出门记得锁好门窗。")
    await composer.press("✅ 现在发送")
    tip = "💡 温馨提示\n\n出门记得锁好门窗。"
    await fake.wait_for(lambda: all(any(m.content == tip for m in u.messages)
                                    for u in (everything, no_notices)))
    await asyncio.sleep(0.3)
    assert not any(m.content == notice for m in no_notices.messages)
    assert not any(m.content == tip for m in no_tips.messages + helper.messages)
    async with session_factory() as session:
        sent = dict((await session.execute(
            select(Broadcast.kind, func.count(Delivery.id)).join(Delivery)
            .group_by(Broadcast.kind))).all())
    assert sent == {"notice": len(got_notice), "safety_tip": 3}
