"""The outbox as the Application runs it: what the dispatcher learns reaches the directory."""

from __future__ import annotations

import contextlib
from dataclasses import replace

from sqlalchemy import select

from bot.db import transaction
from bot.directory.models import Chat, ChatStatus
from broadcasts import (
    DeliveryStatus,
    Limiter,
    OutgoingMessage,
    Priority,
    broadcast_report,
    enqueue_broadcast,
)
from broadcasts import Limits as BroadcastLimits
from broadcasts.models import Delivery
from tests.fake_telegram import FakeTelegram, Limits
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


async def test_stopping_the_bot_mid_broadcast_loses_nothing(
    settings, session_factory, fake: FakeTelegram
) -> None:
    fake.reset(limits=Limits())  # Telegram's real limits, so the broadcast takes seconds
    real = settings.model_copy(update={"rate_overall_per_s": 30.0, "rate_chat_per_s": 1.0,
                                       "rate_group_per_min": 20.0})
    runner = BotRunner(settings=real, session_factory=session_factory, fake=fake)
    people = [fake.user(f"居民{i}") for i in range(90)]
    for person in people:
        person.record.started = True  # as if each had pressed Start
    await runner.start()
    try:
        async with transaction(session_factory) as session:
            broadcast = await enqueue_broadcast(
                session, kind="safety_tip", priority=Priority.NORMAL,
                content={"zh-CN": OutgoingMessage(text="电动车请到楼下集中充电。")},
                recipients=[(p.id, "zh-CN") for p in people],
            )
        assert broadcast is not None
        services = runner.application.bot_data["services"]
        services.dispatcher.wake()
        await fake.wait_for(lambda: fake.stats.delivered >= 20)
        await runner.restart()  # stop the Application, start a new one on the same database
        assert fake.stats.delivered < 90, "the restart came before the end"
        services = runner.application.bot_data["services"]
        await services.dispatcher.wait_idle()
    finally:
        await runner.stop()

    assert all(len(fake.messages_to(p.id)) == 1 for p in people)
    assert fake.duplicates() == 0 and fake.stats.answered_429 == 0
    async with session_factory() as session:
        report = await broadcast_report(session, broadcast.id)
    assert (report.sent, report.pending, report.failed) == (90, 0, 0)


def test_a_restarted_bot_starts_at_the_steady_rate() -> None:
    now = [100.0]
    fresh = Limiter(BroadcastLimits(overall_per_s=10), clock=lambda: now[0])
    restarted = Limiter(BroadcastLimits(overall_per_s=10), clock=lambda: now[0],
                        start_spent=True)
    assert [round(fresh.reserve(i), 3) for i in range(1, 4)] == [0.0, 0.075, 0.15]
    # The last second counts as spent at the steady rate (0.97 × 10 → 9 a second).
    assert [round(restarted.reserve(i), 3) for i in range(1, 4)] == [0.111, 0.222, 0.333]


async def test_the_sender_keeps_to_its_configured_concurrency(
    settings, session_factory, fake: FakeTelegram
) -> None:
    # A fake that refuses a third request in flight: SENDER_CONCURRENCY=2 must never
    # put more on the wire, where the default would send to all six at once.
    fake.set_limits(replace(fake.limits, max_in_flight=2))
    runner = BotRunner(settings=settings.model_copy(update={"sender_concurrency": 2}),
                       session_factory=session_factory, fake=fake)
    people = [fake.user(f"居民{i}") for i in range(6)]
    for person in people:
        person.record.started = True
    await runner.start()
    try:
        fake.hold()
        async with transaction(session_factory) as session:
            await enqueue_broadcast(
                session, kind="safety_tip", priority=Priority.NORMAL,
                content={"zh-CN": OutgoingMessage(text="楼道里请不要堆放杂物。")},
                recipients=[(p.id, "zh-CN") for p in people],
            )
        services = runner.application.bot_data["services"]
        services.dispatcher.wake()
        await fake.wait_for(lambda: fake.in_flight == 2)
        # Time for any further request to arrive and be refused (none may).
        with contextlib.suppress(TimeoutError):
            await fake.wait_for(lambda: fake.stats.answered_429 > 0, timeout=1)
        fake.release()
        await services.dispatcher.wait_idle()
    finally:
        fake.release()
        await runner.stop()
    assert fake.stats.answered_429 == 0
    assert all(len(fake.messages_to(p.id)) == 1 for p in people)
