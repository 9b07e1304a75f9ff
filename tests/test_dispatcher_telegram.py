"""The dispatcher with the real ``TelegramSender`` over PTB, against the fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.sending import AiohttpRequest, SharedRateLimiter, TelegramSender
from broadcasts import (
    Delivery,
    DeliveryStatus,
    Dispatcher,
    Limiter,
    Limits,
    OutgoingMessage,
    Priority,
    RetryPolicy,
    broadcast_report,
    enqueue_broadcast,
)
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.fake_telegram import Limits as FakeLimits
from tests.test_outbox_support import outbox_database

Factory = async_sessionmaker[AsyncSession]
CONTENT = {
    "zh-CN": OutgoingMessage(text="<b>防诈骗</b>提醒：不要转账给陌生人", parse_mode="HTML"),
    "zh-TW": OutgoingMessage(text="<b>防詐騙</b>提醒", parse_mode="HTML"),
    "en": OutgoingMessage(text="<b>Anti-fraud</b> reminder", parse_mode="HTML"),
}
#: Telegram's limits ×10, on both sides (our limiter and the fake's buckets).
FAST_FAKE = FakeLimits().scaled(10)
FAST = Limits(
    overall_per_s=FAST_FAKE.overall_per_s,
    chat_per_s=FAST_FAKE.chat_per_s,
    chat_burst=int(FAST_FAKE.chat_burst),
    group_per_min=FAST_FAKE.group_per_min,
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Factory]:
    async with outbox_database(tmp_path) as factory:
        yield factory


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    fake.reset(FAST_FAKE)
    request = AiohttpRequest(connection_pool_size=32, read_timeout=2.0)
    async with Bot(
        fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url, request=request
    ) as bot:
        yield bot


def started(fake: FakeTelegram, name: str, language: str = "zh-hans") -> FakeUser:
    """A person who has pressed Start, so the bot may write to them."""
    user = fake.user(name, language_code=language)
    user.record.started = True
    return user


async def broadcast(db: Factory, recipients: list[tuple[int, str]], **kwargs: Any) -> int:
    kwargs.setdefault("content", CONTENT)
    kwargs.setdefault("priority", Priority.NORMAL)
    async with db() as s, s.begin():
        b = await enqueue_broadcast(s, kind="anti_fraud", recipients=recipients, **kwargs)
    assert b is not None
    return b.id


async def deliver(db: Factory, bot: Bot, limiter: Limiter | None = None, **kwargs: Any) -> None:
    kwargs.setdefault("retry_policy", RetryPolicy(base_delay=0.1, jitter=0))
    d = Dispatcher(db, TelegramSender(bot), limiter or Limiter(FAST), **kwargs)
    await d.start()
    try:
        async with asyncio.timeout(20):
            await d.wait_idle()
    finally:
        await d.stop()


async def test_a_broadcast_reaches_everyone_reachable_in_their_language(
    fake: FakeTelegram, bot: Bot, db: Factory
) -> None:
    people = [started(fake, f"居民{i}") for i in range(20)]
    taiwanese = started(fake, "阿明", "zh-hant")
    never_started = fake.user("新人")
    blocked = started(fake, "不理")
    await fake.block_bot(blocked.record)
    recipients = [(p.chat_id, "zh-CN") for p in people]
    recipients += [(taiwanese.chat_id, "zh-TW"), (never_started.chat_id, "zh-CN")]
    recipients += [(blocked.chat_id, "en")]
    bid = await broadcast(db, recipients)

    await deliver(db, bot)

    assert all(len(fake.messages_to(p.chat_id)) == 1 for p in people)
    assert fake.messages_to(people[0].chat_id)[0].text == "防诈骗提醒：不要转账给陌生人"
    assert fake.messages_to(taiwanese.chat_id)[0].text == "防詐騙提醒"
    assert fake.stats.answered_429 == 0 and fake.duplicates() == 0
    async with db() as s:
        report = await broadcast_report(s, bid)
    assert (report.sent, report.unreachable, report.pending) == (21, 2, 0)
    assert set(report.failure_reasons) == {
        "Forbidden: bot can't initiate conversation with a user",
        "Forbidden: bot was blocked by the user",
    }


async def test_flood_waits_and_server_errors_lose_nothing(
    fake: FakeTelegram, bot: Bot, db: Factory
) -> None:
    people = [started(fake, f"居民{i}") for i in range(10)]
    fake.faults.flood(times=1, retry_after=1, chat_id=people[0].chat_id)
    fake.faults.server_error(times=2, status=502, chat_id=people[1].chat_id)
    fake.faults.server_error(times=1, status=500, chat_id=people[2].chat_id)
    bid = await broadcast(db, [(p.chat_id, "zh-CN") for p in people])

    await deliver(db, bot)

    assert [len(fake.messages_to(p.chat_id)) for p in people] == [1] * 10
    async with db() as s:
        report = await broadcast_report(s, bid)
        rows = {r.chat_id: r for r in await s.scalars(select(Delivery))}
    assert report.sent == 10 and report.possible_duplicates == 0
    assert rows[people[0].chat_id].attempts == 1  # the 429 was not an attempt
    assert rows[people[1].chat_id].attempts == 3


@pytest.mark.parametrize("transport", [AiohttpRequest, HTTPXRequest])
async def test_a_lost_answer_is_retried_and_reported_as_a_possible_duplicate(
    fake: FakeTelegram, db: Factory, transport: type[AiohttpRequest] | type[HTTPXRequest]
) -> None:
    fake.reset(FAST_FAKE)
    alice = started(fake, "Alice")
    fake.faults.lose_answer(chat_id=alice.chat_id, delay=4.0)  # beyond the read timeout
    bid = await broadcast(db, [(alice.chat_id, "en")])
    # The retry must come back within the timeout: a second on a busy machine, not 0.3 s.
    request = transport(connection_pool_size=4, read_timeout=1.0)
    async with Bot(fake.token, base_url=fake.base_url, request=request) as bot:
        await deliver(db, bot)
    assert len(fake.messages_to(alice.chat_id)) == 2 and fake.duplicates() == 1
    async with db() as s:
        report = await broadcast_report(s, bid)
    assert report.sent == 1 and report.possible_duplicates == 1
    await fake.wait_for(lambda: not fake.in_flight, timeout=30)  # the stalled first answer


async def test_a_migrated_group_gets_the_alert_at_its_new_id_pinned(
    fake: FakeTelegram, bot: Bot, db: Factory
) -> None:
    leader = started(fake, "组长")
    group = fake.group("巡逻队", [leader])
    await fake.add_bot(group, leader, admin=True, can_pin=True)
    supergroup = await fake.migrate(group, leader)
    await fake.promote_bot(supergroup, leader, can_pin=True)
    alert = OutgoingMessage(text="紧急：3号楼火警", buttons=[[("收到", "ack:{delivery_id}")]],
                            pin=True)
    moved: list[tuple[int, int]] = []
    await broadcast(db, [(group.id, "zh-CN")], content={"zh-CN": alert}, priority=Priority.ALERT)

    await deliver(db, bot, on_migrated=lambda old, new: moved.append((old, new)))

    assert moved == [(group.id, supergroup.id)]
    [message] = fake.messages_to(supergroup.id)
    async with db() as s:
        [row] = await s.scalars(select(Delivery))
    assert message.text == "紧急：3号楼火警"
    assert message.button_data == [[f"ack:{row.id}"]]
    assert [m.message_id for m in supergroup.pinned] == [message.message_id]
    assert row.status is DeliveryStatus.SENT and row.chat_id == supergroup.id


async def test_photos_albums_and_long_text_are_sent_in_parts(
    fake: FakeTelegram, bot: Bot, db: Factory
) -> None:
    alice = started(fake, "Alice")
    uploaded = await bot.send_photo(alice.chat_id, photo=_png())  # a file id to reuse
    file_id = uploaded.photo[-1].file_id
    long_caption = "\n".join(["注意防范电信诈骗。"] * 200)  # about 2,000: caption + text
    await broadcast(db, [(alice.chat_id, "zh-CN")], content={
        "zh-CN": OutgoingMessage(text=long_caption, photo=file_id)})
    await broadcast(db, [(alice.chat_id, "zh-CN")], content={
        "zh-CN": OutgoingMessage(text="现场", album=(file_id, file_id, file_id))})

    await deliver(db, bot)

    messages = fake.messages_to(alice.chat_id)[1:]
    assert [bool(m.photo) for m in messages] == [True, False, True, True, True]
    assert len(messages[0].caption or "") <= 1024
    assert (messages[0].caption or "") + "\n" + (messages[1].text or "") == long_caption
    assert messages[2].media_group_id and messages[2].caption == "现场"


async def test_direct_replies_and_the_dispatcher_share_one_budget(
    fake: FakeTelegram, db: Factory
) -> None:
    fake.reset(FAST_FAKE)

    class CountingLimiter(Limiter):
        """Counts the slots taken: one per message means nothing is limited twice."""

        slots = 0

        def reserve_slot(self, chat_id: int | None, is_group: bool | None = None) -> float:
            self.slots += 1
            return super().reserve_slot(chat_id, is_group)

    limiter = CountingLimiter(FAST)
    people = [started(fake, f"居民{i}") for i in range(400)]
    talkers = [started(fake, f"提问{i}") for i in range(40)]
    await broadcast(db, [(p.chat_id, "zh-CN") for p in people])
    ext = ExtBot(
        fake.token,
        base_url=fake.base_url,
        request=AiohttpRequest(connection_pool_size=64),
        rate_limiter=SharedRateLimiter(limiter),
    )
    async with ext:

        async def replies() -> None:
            for t in talkers:  # each person asks twice in quick succession
                await asyncio.gather(
                    ext.send_message(t.chat_id, "收到，谢谢"),
                    ext.send_message(t.chat_id, "请稍候"),
                )

        await asyncio.gather(deliver(db, ext, limiter), replies())

    assert fake.stats.answered_429 == 0
    assert fake.stats.delivered == 480
    assert limiter.slots == 480


def _png() -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def test_a_restarted_sender_takes_back_rows_in_flight_at_once_and_flags_only_the_sent_one(
    fake: FakeTelegram, bot: Bot, db: Factory
) -> None:
    alice, bob, carol = (started(fake, name) for name in ("Alice", "Bob", "Carol"))
    fake.faults.lose_answer(chat_id=alice.chat_id, delay=3.0)  # delivered, answer stalled
    bid = await broadcast(db, [(p.chat_id, "en") for p in (alice, bob, carol)])
    dead = Dispatcher(db, TelegramSender(bot), Limiter(FAST), concurrency=1)  # lease: 60 s
    await dead.start()
    await fake.wait_for(lambda: bool(fake.messages_to(alice.chat_id)), timeout=10)
    await dead.kill()  # as SIGKILL would: Alice's request on the wire, Bob's and Carol's held

    await deliver(db, bot, sole_sender=True)  # within deliver's timeout, far below the lease
    assert [len(fake.messages_to(p.chat_id)) for p in (alice, bob, carol)] == [2, 1, 1]
    async with db() as s:
        report = await broadcast_report(s, bid)
        flagged = set(await s.scalars(select(Delivery.chat_id).where(Delivery.possible_duplicate)))
    assert report.sent == 3 and flagged == {alice.chat_id} and fake.duplicates() == 1
    await fake.wait_for(lambda: not fake.in_flight, timeout=30)  # the stalled first answer
