"""The scam check's early warning over the fake server: the third resident of a community
asking about the same kind of scam within a day gives its staff one suggestion, which a
staff member sends to the residents as an anti-fraud alert in two presses (issue 16,
items 4 and 5)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.db import transaction
from bot.directory.models import Role, SubscriptionTopic
from bot.scamcheck.models import ScamCheck, ScamWarning
from broadcasts import Broadcast
from tests.factories import make_person, make_tree
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.support import BotRunner
from tests.test_scamcheck_e2e import forward

BRUSHING = ("兼职刷单，一单佣金30元，日结，加我微信",
            "在家动动手指点赞就能赚钱，刷单返利，先垫付后返现，日赚300",
            "宝妈兼职，刷单做任务，佣金当天结算，联系QQ 88886666")
MEDICAL = "您的医保卡异常已被冻结，请点击 http://nhsa-gov.top/x 处理"
WARNING = "⚠️ 这两天有居民收到“刷单返利”类诈骗信息"
REFUSED = "抱歉，只有龙江路社区的社区干部可以发这条提醒。"
#: 12:00 in Shanghai: outside quiet hours, whenever the test runs.
NOON = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


def warnings_to(fake: FakeTelegram, user: FakeUser) -> list:
    return [m for m in fake.messages_to(user.id) if (m.text or "").startswith("⚠️ 这两天")]


async def count(session_factory, model: type) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def alerts_sent(session_factory) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count(Broadcast.id)).where(
            Broadcast.kind == "anti_fraud")) or 0


async def test_the_third_resident_asking_gives_staff_one_warning_sent_in_two_presses(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    bot.application.bot_data["services"].extras["clock"] = lambda: NOON
    lee, zhao = fake.user("Lee", language_code="zh-hans"), fake.user("Zhao",
                                                                     language_code="zh-hans")
    amy, ben, cai, dora, ed = (fake.user(name, language_code="zh-hans")
                               for name in ("Amy", "Ben", "Cai", "Dora", "Ed"))
    for user in (lee, zhao, amy, ben, cai, dora, ed):
        user.record.started = True
    async with transaction(session_factory) as session:
        tree = await make_tree(session)
        other = await make_tree(session, community="青石桥社区", parent=tree.street_office)
        await make_person(session, name="李干部", role=Role.STAFF, area=tree.community,
                          telegram_id=lee.id)
        await make_person(session, name="赵干部", role=Role.STAFF, area=other.community,
                          telegram_id=zhao.id)
        for user in (amy, ben, cai, dora):
            await make_person(session, name=f"{user.first_name}居民", area=tree.building,
                              telegram_id=user.id, topics=(SubscriptionTopic.ANTI_FRAUD,))
        await make_person(session, name="Ed居民", area=other.building, telegram_id=ed.id,
                          topics=(SubscriptionTopic.ANTI_FRAUD,))

    # One resident asking three times is one asker; a neighbour community's resident and
    # another kind of scam do not count either.
    for text in BRUSHING:
        assert (await forward(fake, amy, text))[0].text.startswith("🔴 高风险")
    await forward(fake, ed, BRUSHING[0])
    await forward(fake, ben, BRUSHING[1])
    await forward(fake, cai, MEDICAL)
    await fake.settle()
    assert await count(session_factory, ScamWarning) == 0 and warnings_to(fake, lee) == []

    # The third resident: the community's staff get the suggestion, once.
    await forward(fake, cai, BRUSHING[2])
    await fake.wait_for(lambda: warnings_to(fake, lee))
    await forward(fake, dora, BRUSHING[0])
    await fake.settle()
    [suggestion] = warnings_to(fake, lee)
    assert suggestion.text.startswith(WARNING)
    assert "龙江路社区已有 3 位居民" in suggestion.text
    assert "所有刷单都是诈骗" in suggestion.text  # the library's tip on this kind
    for name in ("Amy", "Ben", "Cai", "兼职刷单"):
        assert name not in suggestion.text
    assert suggestion.buttons == [["📢 发给居民"]]
    assert warnings_to(fake, zhao) == []

    # Only the kind, verdict, community and time are kept; who asked is not.
    assert {c.name for c in ScamCheck.__table__.columns} == {
        "id", "kind", "verdict", "community_id", "repeat", "checked_at"}
    async with session_factory() as session:
        kept = list(await session.scalars(select(ScamCheck)))
        warning = await session.scalar(select(ScamWarning))
    assert len(kept) == 8 and [c.repeat for c in kept].count(True) == 2
    assert warning is not None and warning.round == 1

    # Another community's staff, or a resident, cannot send it (a forged press).
    await zhao.send("/me")  # a keyboard to forge from
    for intruder in (zhao, amy):
        await intruder.press(data=f"scw:go:{warning.id}:1", forged=True)
        assert intruder.last_callback_answer.text == REFUSED
    await zhao.press(data=f"scw:ask:{warning.id}:1", forged=True)
    assert zhao.last_callback_answer.text == REFUSED
    assert await alerts_sent(session_factory) == 0

    # Two presses: the count, then send.
    await lee.press(text="📢 发给居民", message=suggestion)
    suggestion = fake.message(lee.id, suggestion.message_id)
    assert suggestion.buttons == [["✅ 发给 4 位居民"], ["↩️ 先不发"]]
    await lee.press(text="✅ 发给 4 位居民", message=suggestion)
    suggestion = fake.message(lee.id, suggestion.message_id)
    assert "✅ 已发给龙江路社区的 4 位居民。" in suggestion.text and suggestion.buttons == []
    for resident in (amy, ben, cai, dora):
        await fake.wait_for(lambda r=resident: any(
            (m.text or "").startswith("⚠️ 防诈骗提醒") and "所有刷单都是诈骗" in m.text
            for m in fake.messages_to(r.id)))
    assert not any("防诈骗提醒" in (m.text or "") for m in fake.messages_to(ed.id))

    # Sent once: a second press of the same round changes nothing.
    await lee.send("/me")
    await lee.press(data=f"scw:go:{warning.id}:1", forged=True)
    assert lee.last_callback_answer.text == "这条提醒已经发过了。"
    await lee.press(data=f"scw:go:{warning.id}:2", forged=True)
    assert lee.last_callback_answer.text == "这个按钮已经失效了。"
    assert await alerts_sent(session_factory) == 1
