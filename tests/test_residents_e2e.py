"""Residents change what they chose from /me, pick their building directly, and get
useful choices for a message sent outside any flow (issue 13, items 1–3 and 5)."""

from __future__ import annotations

from sqlalchemy import select

from bot.broadcasting.service import BroadcastKind, FixedContent, send_broadcast
from bot.db import transaction, utcnow
from bot.directory.audience import AudienceSpec
from bot.directory.models import Area, Person, Subscription, SubscriptionTopic
from bot.i18n import translator
from bot.tipoffs.models import TipOff, TipOffDraft
from broadcasts import Delivery
from tests.factories import Cast, make_area, make_cast
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.support import BotRunner
from tests.tipoff_support import patrol_scene


async def cast_with(session_factory, **users: FakeUser) -> Cast:
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        for field_name, user in users.items():
            getattr(cast, field_name).telegram_id = user.id
    return cast


async def notice_to(bot: BotRunner, session_factory, area: Area, text: str,
                    topic: SubscriptionTopic = SubscriptionTopic.NOTICES) -> int:
    """A staff notice to the subscribers living in `area`; returns the broadcast id."""
    settings = bot.settings
    async with transaction(session_factory) as session:
        sent = await send_broadcast(
            session, kind=BroadcastKind.NOTICE, content=FixedContent(text=text),
            audience=AudienceSpec(area_ids=frozenset({area.id}), residents_topic=topic),
            author_id=None, now=utcnow(), default_language=settings.default_language,
            tz=settings.tz, urgent=True)
        assert sent is not None
    assert bot.application is not None
    bot.application.bot_data["services"].dispatcher.wake()
    return sent.id


async def test_resident_registers_in_five_taps_picking_the_building_directly(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    """/start, language, community, building (the grid is only a hint), Done: 5 taps; the
    report button comes after that, not together with the community question."""
    await cast_with(session_factory)
    amy = fake.user("Amy", language_code="zh-hans")
    await amy.send("/start")                       # 1
    await amy.press("简体中文")                      # 2
    language_done = amy.messages[-2]
    assert language_done.buttons == []  # one call to action at a time
    assert "您住在哪个社区" in amy.last_message.text
    assert amy.last_message.buttons[-1] == ["↩️ 返回"]
    await amy.press("龙江路社区")                     # 3
    assert "您住在龙江路社区的哪一栋" in amy.last_message.text
    assert ["12栋 · 3网格"] in amy.last_message.buttons
    await amy.press("12栋 · 3网格")                  # 4
    assert "龙江路社区 · 3网格 · 12栋" in amy.last_message.text
    await amy.press("完成")                          # 5
    assert "安全提示" in amy.last_message.text
    assert amy.last_message.button(text="📷 反映问题") is not None  # now, the second one
    async with session_factory() as session:
        person = await session.scalar(select(Person).where(Person.telegram_id == amy.id))
        home = await session.get(Area, person.area_id)
    assert home.name == "12栋"


async def test_resident_changes_building_and_subscriptions_from_me(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    amy = fake.user("Amy", language_code="zh-hans")
    amy.record.started = True
    cast = await cast_with(session_factory, resident=amy)
    async with transaction(session_factory) as session:
        grid = await session.get(Area, cast.tree.grid.id)
        new_home = await make_area(session, name="14栋", parent=grid)
    await amy.send("/me")
    assert "12栋" in amy.last_message.text
    await amy.press("🏠 我住在哪里")
    assert "您住在哪个社区" in amy.last_message.text
    await amy.press("↩️ 返回")  # every picker goes back
    assert "陈阿姨" in amy.last_message.text
    await amy.press("🏠 我住在哪里")
    await amy.press("龙江路社区")
    await amy.press("↩️ 返回")
    assert "您住在哪个社区" in amy.last_message.text
    await amy.press("龙江路社区")
    await amy.press("14栋 · 3网格")
    assert "已保存。您现在住在：龙江路社区 · 3网格 · 14栋" in amy.last_message.text
    await amy.press("🔔 接收哪些消息")
    await amy.press("✅ 社区通知")
    await amy.press("完成")
    async with session_factory() as session:
        person = await session.get(Person, cast.resident.id)
        topics = set(await session.scalars(select(Subscription.topic).where(
            Subscription.person_id == person.id)))
    assert person.area_id == new_home.id
    assert topics == {SubscriptionTopic.SAFETY_TIPS, SubscriptionTopic.ANTI_FRAUD}

    old = await notice_to(bot, session_factory, cast.tree.building, "12栋今晚停水",
                          topic=SubscriptionTopic.SAFETY_TIPS)
    unsubscribed = await notice_to(bot, session_factory, new_home, "14栋通知")
    reached = await notice_to(bot, session_factory, new_home, "14栋安全提示",
                              topic=SubscriptionTopic.SAFETY_TIPS)
    await fake.wait_for(lambda: any("14栋安全提示" in (m.text or "") for m in amy.messages))
    async with session_factory() as session:
        to_amy = set(await session.scalars(select(Delivery.broadcast_id).where(
            Delivery.chat_id == amy.id)))
    assert to_amy == {reached} and old not in to_amy and unsubscribed not in to_amy
    assert not any("停水" in (m.text or "") or "14栋通知" in (m.text or "")
                   for m in amy.messages)


async def open_a_long_building_list(user: FakeUser, session_factory, grid_id: int) -> None:
    """Give the grid buildings 20栋–31栋, a list long enough to be searched by typing, and
    open it from /me: the person's next text searches it."""
    async with transaction(session_factory) as session:
        grid = await session.get(Area, grid_id)
        for number in range(20, 32):
            await make_area(session, name=f"{number}栋", parent=grid)
    await user.send("/me")
    await user.press("🏠 我住在哪里")
    await user.press("龙江路社区")
    assert "打出名称中的几个字" in user.last_message.text


async def test_a_long_list_of_buildings_is_searched_by_typing(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    amy = fake.user("Amy", language_code="zh-hans")
    cast = await cast_with(session_factory, resident=amy)
    await open_a_long_building_list(amy, session_factory, cast.tree.grid.id)
    await amy.send("27")
    assert "找到与“27”相符的" in amy.last_message.text
    assert amy.last_message.buttons[0] == ["27栋 · 3网格"]
    await amy.press("27栋 · 3网格")
    assert "您现在住在：龙江路社区 · 3网格 · 27栋" in amy.last_message.text
    await amy.send("99")  # the search is over: typed text is a message again
    assert "找到" not in amy.last_message.text


async def test_forged_me_and_area_presses_change_nothing(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    lee = fake.user("Lee", language_code="zh-hans")
    cast = await cast_with(session_factory, staff=lee)
    stranger = fake.user("Nobody", language_code="zh-hans")
    stale = translator("zh-CN")("This button is no longer valid.")
    await stranger.send("/language")  # a keyboard to forge from; not registered
    await stranger.press(data="me:topics", forged=True)
    assert stranger.last_callback_answer.text == stale
    await lee.send("/me")
    await lee.press(data="me:area", forged=True)  # staff's area is their scope
    assert lee.last_callback_answer.text == stale
    await lee.press(data=f"reg:a:{cast.other.building.id}", forged=True)
    async with session_factory() as session:
        staff = await session.get(Person, cast.staff.id)
    assert staff.area_id == cast.tree.community.id


async def test_free_text_becomes_a_report_in_two_taps(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    """A message outside any flow gets choices; “report it” keeps the text as the
    description, so two taps (report it, the category) bring it to the report's next step."""
    scene = await patrol_scene(fake, session_factory)
    alice = fake.user("Alice", language_code="zh-hans")
    said = "楼下有人一直在撬电动车的锁"
    await alice.send(said)
    choices = alice.last_message
    assert choices.reply_to is not None and choices.reply_to.text == said
    assert choices.buttons == [["📷 作为问题反映给社区"], ["💬 向社区干部咨询"],
                               ["❓ 你还能做什么？"]]
    await alice.press("📷 作为问题反映给社区")           # 1
    await alice.press("👀 可疑人员或行为")               # 2
    assert "照片" in alice.last_message.text  # the description is not asked again
    await alice.press("⏭ 没有照片")
    await alice.send_location(31.2304, 121.4737)
    await alice.press("🙈 匿名")
    assert said in alice.last_message.text  # the summary shows the message as the description
    await alice.press("✅ 发送")
    await fake.wait_for(lambda: any("🔔" in (m.text or "") for m in scene.group.messages))
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff))
    assert tipoff.description == said and tipoff.team_id == scene.town.patrol.id


async def test_free_text_help_and_a_forged_choice(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    erin = fake.user("Erin", language_code="en")
    await erin.send("hello?")
    await erin.press("❓ What else can you do?")
    assert "Here is what I can do for you" in erin.last_message.text
    mallory = fake.user("Mallory", language_code="en")
    await mallory.send("/language")  # no quoted message under this keyboard
    await mallory.press(data="ft:report", forged=True)
    assert mallory.last_callback_answer.text == "This button is no longer valid."
    async with session_factory() as session:
        assert await session.scalar(select(TipOffDraft)) is None
