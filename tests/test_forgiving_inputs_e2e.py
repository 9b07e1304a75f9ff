"""Staff inputs are forgiving (issue 13, item 9): quiet hours as people write them, and
what cannot be read gets an example, never a guess that it was a community's name."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.broadcasting.models import QuietHoursSetting
from bot.db import transaction
from tests.factories import make_cast
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_quiet_hours_as_people_write_them(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    lee = fake.user("Lee", language_code="zh-hans")
    lee.record.started = True
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = lee.id
    for written, shown in (("晚上十点到早上七点", "22:00–07:00"), ("22点到6点半", "22:00–06:30"),
                           ("21:30-07:30", "21:30–07:30"),
                           ("龙江路社区 晚上九点半至早上6点", "21:30–06:00")):
        await lee.send(f"/quiethours {written}")
        assert shown in lee.last_message.text, written

    async def stored() -> list[tuple[int, int]]:
        async with session_factory() as session:
            return [(r.start_minute, r.end_minute)
                    for r in await session.scalars(select(QuietHoursSetting))]

    before = await stored()
    for unreadable in ("晚上十点到", "22点到早上"):
        await lee.send(f"/quiethours {unreadable}")
        reply = lee.last_message.text
        assert "/quiethours 21:30-07:30" in reply and "没有找到" not in reply, unreadable
    assert await stored() == before == [(21 * 60 + 30, 6 * 60)]


async def test_a_one_off_schedules_example_date_is_tomorrow(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    lee = fake.user("Lee", language_code="zh-hans")
    lee.record.started = True
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = lee.id
    tomorrow = f"{datetime.now(SHANGHAI).date() + timedelta(days=1):%Y-%m-%d} 08:30"
    await lee.send("/schedule")
    await lee.press("只发一次")
    assert f"例如 {tomorrow}" in lee.last_message.text
    await lee.send("明天早上")
    assert lee.last_message.text == f"请按这样的格式发日期和时间：{tomorrow}。"
