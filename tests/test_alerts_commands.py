"""/allclear typed by hand: a wrong number is named, a stranger learns nothing."""

from __future__ import annotations

from bot.db import transaction
from bot.directory.models import Role
from tests.factories import make_person, make_tree
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner


async def test_allclear_with_a_wrong_number(
    bot: BotRunner, fake: FakeTelegram, session_factory
) -> None:
    staff = fake.user("李干部", language_code="zh-hans")
    stranger = fake.user("路人", language_code="zh-hans")
    async with transaction(session_factory) as session:
        tree = await make_tree(session)
        await make_person(session, name="李干部", role=Role.STAFF, area=tree.community,
                          telegram_id=staff.id)

    await staff.send("/allclear 999")
    assert staff.last_message.text == ("没有编号为 999 的紧急通知。"
                                       "请看一下紧急通知状态消息里的编号。")

    await stranger.send("/allclear 999")
    assert "没有编号" not in stranger.last_message.text

    await staff.send("/allclear")
    assert "/allclear" in staff.last_message.text
