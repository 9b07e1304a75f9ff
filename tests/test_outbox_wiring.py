"""The outbox as the Application runs it: what the dispatcher learns reaches the directory."""

from __future__ import annotations

from sqlalchemy import select

from bot.db import transaction
from bot.directory.models import Chat, ChatStatus
from broadcasts import DeliveryStatus, OutgoingMessage, Priority, enqueue_broadcast
from broadcasts.models import Delivery
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner


async def test_a_person_who_never_started_the_bot_is_marked_unreachable(
    bot: BotRunner, fake: FakeTelegram, session_factory
) -> None:
    reachable = fake.user("Reachable", language_code="zh-hans")
    await reachable.send("/start")
    never_started = fake.user("Imported", language_code="zh-hans")
    message = OutgoingMessage(text="今晚有雨，出门请带伞。")
    async with transaction(session_factory) as session:
        await enqueue_broadcast(
            session, kind="notice", priority=Priority.NORMAL,
            content={"zh-CN": message},
            recipients=[(reachable.id, "zh-CN"), (never_started.id, "zh-CN")],
        )
    assert bot.application is not None
    dispatcher = bot.application.bot_data["services"].dispatcher
    dispatcher.wake()
    await dispatcher.wait_idle()

    assert reachable.last_message.text == "今晚有雨，出门请带伞。"
    async with session_factory() as session:
        statuses = dict((await session.execute(
            select(Delivery.chat_id, Delivery.status))).all())
        chat = await session.scalar(
            select(Chat).where(Chat.telegram_chat_id == never_started.id))
    assert statuses == {reachable.id: DeliveryStatus.SENT,
                        never_started.id: DeliveryStatus.UNREACHABLE}
    assert chat is not None and chat.status is ChatStatus.LEFT
