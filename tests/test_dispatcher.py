"""The dispatcher against a real SQLite file and an in-process test sender."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts import (
    Broadcast,
    BroadcastStatus,
    ChatState,
    Delivery,
    DeliveryStatus,
    Dispatcher,
    Limiter,
    Limits,
    Migrated,
    OutgoingMessage,
    PermanentError,
    Priority,
    RetryAfter,
    RetryPolicy,
    SentEvent,
    TransientError,
    Unreachable,
    broadcast_report,
    enqueue_broadcast,
    store,
)
from tests.test_outbox_support import Delivered, RecordingSender, outbox_database

Factory = async_sessionmaker[AsyncSession]
TIP = {"zh-CN": OutgoingMessage(text="关好门窗"), "en": OutgoingMessage(text="Lock up")}
FAST = Limits(overall_per_s=2000, chat_per_s=200, chat_burst=5, group_per_min=60_000, headroom=0)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Factory]:
    async with outbox_database(tmp_path) as factory:
        yield factory


async def enqueue(
    db: Factory,
    chats: Iterable[int],
    *,
    priority: int = Priority.NORMAL,
    content: Any = None,
    language: str = "zh-CN",
) -> int:
    async with db() as s, s.begin():
        b = await enqueue_broadcast(
            s,
            kind="tip" if priority == Priority.NORMAL else "alert",
            priority=priority,
            content=content or TIP,
            recipients=[(c, language) for c in chats],
        )
    assert b is not None
    return b.id


def dispatcher(
    db: Factory, sender: RecordingSender, limits: Limits = FAST, **kwargs: Any
) -> Dispatcher:
    kwargs.setdefault("retry_policy", RetryPolicy(base_delay=0.05, jitter=0, max_attempts=4))
    kwargs.setdefault("poll_interval", 0.5)
    return Dispatcher(db, sender, Limiter(limits), **kwargs)


async def until(sender: RecordingSender, condition: Callable[[], bool]) -> None:
    """Until ``condition()`` holds, looking again after each send (the caller bounds the
    wait with a timeout)."""
    while not condition():
        await sender.attempted.wait()
        sender.attempted.clear()


async def run(d: Dispatcher, within: float = 10.0) -> None:
    await d.start()
    try:
        async with asyncio.timeout(within):
            await d.wait_idle()
    finally:
        await d.stop()


async def rows(db: Factory, **where: Any) -> list[Delivery]:
    async with db() as s:
        stmt = select(Delivery).filter_by(**where).order_by(Delivery.id)
        return list(await s.scalars(stmt))


async def test_sends_each_chat_its_language_and_finishes_the_broadcast(db: Factory) -> None:
    bid = await enqueue(db, range(1, 11))
    bid_en = await enqueue(db, range(11, 21), language="en")
    sender = RecordingSender()
    await run(dispatcher(db, sender))
    assert sorted(sender.chats) == list(range(1, 21))
    assert {m.text for m in sender.to(3)} == {"关好门窗"}
    assert {m.text for m in sender.to(13)} == {"Lock up"}
    async with db() as s:
        report = await broadcast_report(s, bid)
        assert (report.sent, report.pending, report.failed) == (10, 0, 0)
        assert (await s.get_one(Broadcast, bid_en)).status is BroadcastStatus.DONE
    [row] = await rows(db, chat_id=3)
    assert row.message_ids and row.sent_at is not None and row.attempts == 1


async def test_alert_rows_go_before_older_normal_rows(db: Factory) -> None:
    await enqueue(db, range(1, 41))
    await enqueue(db, [-1, -2, -3], priority=Priority.ALERT)
    await enqueue(db, [100], priority=Priority.TIPOFF)
    sender = RecordingSender()
    await run(dispatcher(db, sender, concurrency=1))
    assert sender.chats[:4] == [-1, -2, -3, 100]
    assert sender.chats[4:] == list(range(1, 41))


async def test_an_alert_overtakes_a_running_broadcast(db: Factory) -> None:
    await enqueue(db, range(1, 301))
    sender = RecordingSender()
    d = dispatcher(db, sender, Limits(overall_per_s=100, headroom=0))
    await d.start()
    try:
        async with asyncio.timeout(30):
            await until(sender, lambda: len(sender.sent) >= 10)  # the broadcast is under way
            await enqueue(db, [-7, -8], priority=Priority.ALERT)
            woken = len(sender.sent)
            d.wake()
            await until(sender, lambda: sum(s.chat_id < 0 for s in sender.sent) == 2)
    finally:
        await d.stop()
    # After the wake the alert is claimed before anything else is launched: only sends
    # already on the wire (at most `concurrency`, 16) may land before it.
    after = [s.chat_id for s in sender.sent[woken:]]
    assert max(after.index(-7), after.index(-8)) < 16 + 2, after
    # Stopping early loses nothing: what was not sent is pending again.
    pending = await rows(db, status=DeliveryStatus.PENDING)
    assert len(pending) + len(sender.sent) == 302
    assert not await rows(db, status=DeliveryStatus.IN_FLIGHT)


async def test_a_chat_told_to_wait_gets_its_copy_after_the_pause(db: Factory) -> None:
    bid = await enqueue(db, range(1, 21))
    sender = RecordingSender()
    sender.fail(1, RetryAfter(1))
    start = time.monotonic()
    await run(dispatcher(db, sender))
    at = {s.chat_id: s.at - start for s in sender.sent}
    assert at[1] >= 1.0
    [row] = await rows(db, chat_id=1)
    assert row.status is DeliveryStatus.SENT and row.attempts == 1  # a 429 is no attempt
    async with db() as s:
        assert (await broadcast_report(s, bid)).sent == 20


async def test_the_others_go_while_one_chat_waits_out_a_429(db: Factory) -> None:
    await enqueue(db, range(1, 21))
    sender = RecordingSender()
    sender.fail(1, RetryAfter(60))  # far longer than any machine takes for the others
    d = dispatcher(db, sender)
    await d.start()
    try:
        async with asyncio.timeout(30):
            await until(sender, lambda: len(sender.sent) == 19)
    finally:
        await d.stop()
    assert sorted(sender.chats) == list(range(2, 21))
    [row] = await rows(db, chat_id=1)
    assert row.status is DeliveryStatus.PENDING and row.attempts == 0  # a 429 is no attempt


async def test_server_errors_are_retried_with_backoff_then_given_up(db: Factory) -> None:
    await enqueue(db, [1, 2, 3])
    sender = RecordingSender()
    sender.fail(2, TransientError("502 Bad Gateway"), TransientError("502 Bad Gateway"))
    sender.fail(3, *[TransientError("500 Internal Server Error")] * 10)
    await run(dispatcher(db, sender))
    two, three = (await rows(db, chat_id=2))[0], (await rows(db, chat_id=3))[0]
    assert two.status is DeliveryStatus.SENT and two.attempts == 3
    assert three.status is DeliveryStatus.FAILED and three.attempts == 4
    assert three.error == "gave up after 4 attempts: 500 Internal Server Error"
    assert sender.attempts[3] == 4


async def test_a_timeout_is_retried_and_counted_as_possible_duplicate(db: Factory) -> None:
    bid = await enqueue(db, [1, 2])
    sender = RecordingSender()
    sender.fail(1, Delivered(TransientError("Timed out", maybe_delivered=True)))
    await run(dispatcher(db, sender))
    assert sender.chats.count(1) == 2  # it did arrive twice: that is what we report
    [row] = await rows(db, chat_id=1)
    assert row.status is DeliveryStatus.SENT and row.possible_duplicate
    async with db() as s:
        assert (await broadcast_report(s, bid)).possible_duplicates == 1


async def test_a_blocked_chat_is_marked_unreachable_and_skipped(db: Factory) -> None:
    await enqueue(db, [1, 5])
    await enqueue(db, [5, 6])
    sender = RecordingSender()
    sender.fail(5, Unreachable("Forbidden: bot was blocked by the user"))
    told: list[tuple[int, str]] = []
    d = dispatcher(db, sender, concurrency=1, on_unreachable=lambda c, r: told.append((c, r)))
    await run(d)
    assert sender.attempts[5] == 1 and 5 not in sender.chats
    assert [r.status for r in await rows(db, chat_id=5)] == [DeliveryStatus.UNREACHABLE] * 2
    assert told == [(5, "Forbidden: bot was blocked by the user")]
    async with db() as s:
        state = await s.get_one(ChatState, 5)
        assert state.unreachable_since is not None
    bid = await enqueue(db, [5])
    assert [r.status for r in await rows(db, broadcast_id=bid)] == [DeliveryStatus.UNREACHABLE]


async def test_a_migrated_group_is_followed(db: Factory) -> None:
    first = await enqueue(db, [-10, 1])
    second = await enqueue(db, [-10])
    both = await enqueue(db, [-10, -10010])  # the new id is already an addressee
    sender = RecordingSender()
    sender.fail(-10, Migrated(-10010))
    moved: list[tuple[int, int]] = []
    await run(dispatcher(db, sender, concurrency=1, on_migrated=lambda a, b: moved.append((a, b))))
    assert -10 not in sender.chats and sender.chats.count(-10010) == 3
    assert moved == [(-10, -10010)]
    for bid in (first, second):
        [row] = [r for r in await rows(db, broadcast_id=bid) if r.chat_id < 0]
        assert (row.chat_id, row.status) == (-10010, DeliveryStatus.SENT)
    statuses = {r.chat_id: r.status for r in await rows(db, broadcast_id=both)}
    assert statuses == {-10: DeliveryStatus.CANCELLED, -10010: DeliveryStatus.SENT}
    async with db() as s:
        assert (await s.get_one(ChatState, -10)).migrated_to == -10010


async def test_permanent_errors_fail_at_once_with_their_reason(db: Factory) -> None:
    bid = await enqueue(db, [1, 2])
    sender = RecordingSender()
    sender.fail(1, PermanentError("Bad Request: can't parse entities"))
    await run(dispatcher(db, sender))
    assert sender.attempts[1] == 1
    async with db() as s:
        report = await broadcast_report(s, bid)
    assert (report.sent, report.failed) == (1, 1)
    assert report.failure_reasons == {"Bad Request: can't parse entities": 1}
    assert report.status is BroadcastStatus.DONE


async def test_rows_in_flight_at_a_crash_are_sent_after_their_lease(db: Factory) -> None:
    await enqueue(db, range(1, 6))
    stuck = RecordingSender(hang=True)
    first = dispatcher(db, stuck, lease=1.0)
    await first.start()
    async with asyncio.timeout(5):
        while sum(stuck.attempts.values()) < 5:
            await stuck.attempted.wait()
            stuck.attempted.clear()
    crashed = time.monotonic()
    await first.kill()
    assert len(await rows(db, status=DeliveryStatus.IN_FLIGHT)) == 5

    sender = RecordingSender()
    await run(dispatcher(db, sender))
    assert sorted(sender.chats) == [1, 2, 3, 4, 5]
    assert min(s.at for s in sender.sent) - crashed >= 0.9  # not before the lease ran out
    assert all(r.status is DeliveryStatus.SENT and r.possible_duplicate for r in await rows(db))


async def test_the_sole_sender_takes_back_rows_in_flight_at_once_flagging_only_those_on_the_wire(
    db: Factory,
) -> None:
    await enqueue(db, range(1, 7))
    stuck = RecordingSender(hang=True)
    first = dispatcher(db, stuck, concurrency=2)  # the default lease: 60 s
    await first.start()
    async with asyncio.timeout(5):
        await until(stuck, lambda: sum(stuck.attempts.values()) == 2)
    await first.kill()
    assert len(await rows(db, status=DeliveryStatus.IN_FLIGHT)) == 6  # 2 on the wire

    sender = RecordingSender()
    await run(dispatcher(db, sender, sole_sender=True), within=10)
    assert sorted(sender.chats) == [1, 2, 3, 4, 5, 6]  # none waited for its lease
    done = await rows(db)
    assert all(r.status is DeliveryStatus.SENT for r in done)
    assert sorted(r.chat_id for r in done if r.possible_duplicate) == sorted(stuck.attempts)


async def test_a_sender_killed_mid_broadcast_flags_at_most_its_concurrency_and_each_resent_chat(
    db: Factory,
) -> None:
    """Marks ride on the flusher's writes, ahead of the sends: wherever the kill falls,
    the rows flagged are within the concurrency, and every chat that gets a copy twice is
    among them."""
    await enqueue(db, range(1, 201))
    first_sender = RecordingSender(delay=0.002)
    paced = Limits(overall_per_s=300, chat_per_s=200, chat_burst=5, group_per_min=60_000)
    first = dispatcher(db, first_sender, paced, concurrency=4)  # claims 32 at a time
    await first.start()
    async with asyncio.timeout(10):
        await until(first_sender, lambda: len(first_sender.sent) >= 40)
    await first.kill()
    assert len(await rows(db, status=DeliveryStatus.IN_FLIGHT)) > 4

    sender = RecordingSender()
    await run(dispatcher(db, sender, sole_sender=True))
    assert set(first_sender.chats) | set(sender.chats) == set(range(1, 201))
    flagged = {r.chat_id for r in await rows(db) if r.possible_duplicate}
    assert set(first_sender.chats) & set(sender.chats) <= flagged
    assert len(flagged) <= 4


async def test_a_retry_held_in_memory_at_a_crash_comes_back_unflagged(db: Factory) -> None:
    await enqueue(db, [1])
    waiting = RecordingSender()
    waiting.fail(1, RetryAfter(5))  # refused, so not delivered: held for 5 s
    first = dispatcher(db, waiting)
    await first.start()
    async with asyncio.timeout(5):
        await until(waiting, lambda: waiting.attempts[1] == 1)  # marked on the wire by now
        # The clearing is a database write with no event to wait on: poll the row.
        while (await rows(db))[0].possible_duplicate:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await first.kill()

    sender = RecordingSender()
    await run(dispatcher(db, sender, sole_sender=True))
    [row] = await rows(db)
    assert sender.chats == [1] and row.status is DeliveryStatus.SENT
    assert not row.possible_duplicate


async def test_alert_buttons_carry_the_delivery_and_the_message_is_pinned(db: Factory) -> None:
    alert = OutgoingMessage(text="火警!", buttons=[[("收到", "ack:{delivery_id}")]], pin=True)
    bid = await enqueue(db, [-1, -2], priority=Priority.ALERT, content={"zh-CN": alert})
    sender = RecordingSender()
    events: list[SentEvent] = []

    async def on_sent(event: SentEvent) -> None:
        events.append(event)

    await run(dispatcher(db, sender, on_sent=on_sent))
    by_chat = {r.chat_id: r for r in await rows(db, broadcast_id=bid)}
    for chat in (-1, -2):
        [message] = sender.to(chat)
        assert message.buttons == ((("收到", f"ack:{by_chat[chat].id}"),),)
    assert sorted(sender.pins) == sorted((c, by_chat[c].message_ids[0]) for c in (-1, -2))
    assert sorted(e.chat_id for e in events) == [-2, -1]


async def test_long_text_goes_in_parts_and_a_retry_resumes_after_the_sent_ones(
    db: Factory,
) -> None:
    long = OutgoingMessage(text="\n\n".join(["通知" * 1000] * 3))  # 6,004: two parts
    await enqueue(db, [1], content={"zh-CN": long})
    sender = RecordingSender()
    sender.fail(1, None, TransientError("502 Bad Gateway"))  # part 1 arrives, part 2 fails
    await run(dispatcher(db, sender))
    [row] = await rows(db)
    texts = [m.text or "" for m in sender.to(1)]
    assert len(texts) == 2 and texts[0] != texts[1]  # part 1 was not sent again
    assert sender.attempts[1] == 3 and row.attempts == 2
    assert row.parts_sent == 2 and len(row.message_ids or []) == 2


async def test_one_chat_is_sent_in_order_within_its_own_limit(db: Factory) -> None:
    for _ in range(4):
        await enqueue(db, [9])
    sender = RecordingSender()
    limits = Limits(overall_per_s=1000, chat_per_s=10, chat_burst=1, headroom=0)
    await run(dispatcher(db, sender, limits))
    times = [s.at for s in sender.sent]
    assert len(times) == 4
    assert all(b - a >= 0.09 for a, b in itertools.pairwise(times))
    delivered = await rows(db)
    assert [r.sent_at for r in delivered] == sorted(r.sent_at for r in delivered if r.sent_at)


class GatedSender(RecordingSender):
    """Records the order sends start in; every send waits while the gate is shut."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[int] = []
        self.gate = asyncio.Event()
        self.on_wire = asyncio.Event()

    async def send(self, chat_id: int, message: OutgoingMessage) -> list[int]:
        self.started.append(chat_id)
        self.on_wire.set()
        await self.gate.wait()
        return await super().send(chat_id, message)


async def test_an_alert_to_50_groups_goes_before_tips_already_held(db: Factory) -> None:
    await enqueue(db, range(1, 201))
    sender = GatedSender()
    d = dispatcher(db, sender, concurrency=1, batch_size=32)
    await d.start()
    try:
        async with asyncio.timeout(5):
            await sender.on_wire.wait()  # one tip on the wire, 31 more claimed and held
        groups = range(-1, -51, -1)
        await enqueue(db, groups, priority=Priority.ALERT)
        woken = len(sender.started)
        d.wake()
        sender.gate.set()
        async with asyncio.timeout(10):
            while sum(1 for c in sender.chats if c < 0) < 50:
                await sender.attempted.wait()
                sender.attempted.clear()
    finally:
        await d.stop()
    after = sender.started[woken:]
    last_group = max(i for i, c in enumerate(after) if c < 0)
    assert sorted(c for c in after if c < 0) == sorted(groups)
    assert len([c for c in after[: last_group + 1] if c > 0]) <= 3


async def test_a_wake_during_a_claim_of_tips_is_not_lost(
    db: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alert commits and wakes while a claim of tips is under way (in production
    that claim waited for the alert's own write): its groups still go first."""
    await enqueue(db, range(1, 201))
    async with db() as s, s.begin():
        alert = await enqueue_broadcast(
            s, kind="alert", priority=Priority.ALERT, content=TIP,
            recipients=[(c, "zh-CN") for c in range(-1, -51, -1)],
            not_before=datetime.now(UTC) + timedelta(hours=1),
        )
    assert alert is not None
    sender = GatedSender()
    d = dispatcher(db, sender, concurrency=1, batch_size=32)
    woken: list[int] = []
    claim = store.claim

    async def claim_then_alert_arrives(session: AsyncSession, **kwargs: Any) -> list[Any]:
        rows = await claim(session, **kwargs)
        if sender.gate.is_set() and not woken:
            await session.execute(
                update(Delivery)
                .where(Delivery.broadcast_id == alert.id)
                .values(next_attempt_at=kwargs["now"])
            )
            woken.append(len(sender.started))
            d.wake()
        return rows

    monkeypatch.setattr(store, "claim", claim_then_alert_arrives)
    await d.start()
    try:
        async with asyncio.timeout(5):
            await sender.on_wire.wait()  # one tip on the wire, 31 more claimed and held
        sender.gate.set()  # tips flow; the next claim (a top-up of tips) brings the wake
        async with asyncio.timeout(10):
            while sum(1 for c in sender.chats if c < 0) < 50:
                await sender.attempted.wait()
                sender.attempted.clear()
    finally:
        await d.stop()
    after = sender.started[woken[0] :]
    last_group = max(i for i, c in enumerate(after) if c < 0)
    assert len([c for c in after[: last_group + 1] if c > 0]) <= 3
