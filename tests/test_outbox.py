"""The outbox: enqueueing, cancelling, reports; splitting; retry decisions; limits."""

from __future__ import annotations

import bisect
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    Action,
    Broadcast,
    BroadcastStatus,
    ChatState,
    Delivery,
    DeliveryStatus,
    Limiter,
    Limits,
    Migrated,
    OutgoingMessage,
    PermanentError,
    Priority,
    RetryAfter,
    RetryPolicy,
    TransientError,
    Unreachable,
    broadcast_report,
    cancel_broadcast,
    decide,
    enqueue_broadcast,
    recent_broadcasts,
    split_caption,
    split_message,
    split_text,
)
from broadcasts.split import visible_length
from tests.test_outbox_support import outbox_database

Factory = async_sessionmaker[AsyncSession]
TIP = {"zh-CN": OutgoingMessage(text="关好门窗"), "en": OutgoingMessage(text="Lock up")}


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Factory]:
    async with outbox_database(tmp_path) as factory:
        yield factory


async def _deliveries(db: Factory, broadcast_id: int) -> list[Delivery]:
    async with db() as s:
        rows = await s.scalars(
            select(Delivery).where(Delivery.broadcast_id == broadcast_id).order_by(Delivery.id)
        )
        return list(rows)


# -- enqueue ---------------------------------------------------------------------------


async def test_enqueue_writes_one_row_per_chat_in_the_callers_transaction(db: Factory) -> None:
    async with db() as s, s.begin():
        b = await enqueue_broadcast(
            s,
            kind="tip",
            priority=Priority.NORMAL,
            content=TIP,
            recipients=[(1, "zh-CN"), (2, "en"), (1, "zh-CN")],
            audience={"teams": [3]},
        )
        assert b is not None
        await s.rollback()  # the caller decides: nothing was committed by the engine
    async with db() as s:
        assert await s.scalar(select(func.count()).select_from(Broadcast)) == 0

    async with db() as s, s.begin():
        b = await enqueue_broadcast(
            s, kind="tip", priority=50, content=TIP, recipients=[(1, "zh-CN"), (2, "en"), (1, "x")]
        )
    assert b is not None
    rows = await _deliveries(db, b.id)
    assert [(r.chat_id, r.language, r.status) for r in rows] == [
        (1, "zh-CN", DeliveryStatus.PENDING),
        (2, "en", DeliveryStatus.PENDING),
    ]
    assert all(r.priority == 50 for r in rows)


async def test_a_schedule_fire_creates_its_broadcast_once(db: Factory) -> None:
    fire = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    made = []
    for _ in range(2):
        async with db() as s, s.begin():
            made.append(
                await enqueue_broadcast(
                    s,
                    kind="tip",
                    priority=50,
                    content=TIP,
                    recipients=[(1, "en")],
                    schedule_key="tips:weekly",
                    fire_at=fire,
                )
            )
    assert made[0] is not None and made[1] is None
    async with db() as s, s.begin():
        later = await enqueue_broadcast(
            s,
            kind="tip",
            priority=50,
            content=TIP,
            recipients=[(1, "en")],
            schedule_key="tips:weekly",
            fire_at=fire + timedelta(days=7),
        )
    assert later is not None
    async with db() as s:
        assert await s.scalar(select(func.count()).select_from(Delivery)) == 2
        stored = await s.get_one(Broadcast, made[0].id)
        assert stored.fire_at == fire  # aware UTC back


async def test_recipients_stream_from_an_async_generator_in_batches(db: Factory) -> None:
    async def people() -> AsyncIterator[tuple[int, str]]:
        for i in range(1, 5001):
            yield i, "zh-CN"

    async with db() as s, s.begin():
        b = await enqueue_broadcast(
            s, kind="tip", priority=50, content=TIP, recipients=people(), batch_size=1000
        )
    assert b is not None
    async with db() as s:
        count = await s.scalar(
            select(func.count()).where(Delivery.broadcast_id == b.id)
        )
    assert count == 5000


async def test_known_unreachable_and_migrated_chats_are_handled_at_enqueue(db: Factory) -> None:
    now = datetime.now(UTC)
    async with db() as s, s.begin():
        s.add(ChatState(chat_id=7, unreachable_since=now, reason="bot was blocked by the user"))
        s.add(ChatState(chat_id=-5, migrated_to=-1005))
    async with db() as s, s.begin():
        b = await enqueue_broadcast(
            s, kind="notice", priority=50, content=TIP, recipients=[(7, "en"), (-5, "zh-CN")]
        )
    assert b is not None
    rows = await _deliveries(db, b.id)
    assert [(r.chat_id, r.status, r.error) for r in rows] == [
        (7, DeliveryStatus.UNREACHABLE, "bot was blocked by the user"),
        (-1005, DeliveryStatus.PENDING, None),
    ]


async def test_a_broadcast_with_nobody_to_send_to_is_done_at_once(db: Factory) -> None:
    async with db() as s, s.begin():
        b = await enqueue_broadcast(s, kind="tip", priority=50, content=TIP, recipients=[])
    assert b is not None and b.status is BroadcastStatus.DONE


async def test_not_before_delays_the_rows(db: Factory) -> None:
    later = datetime.now(UTC) + timedelta(hours=9)
    async with db() as s, s.begin():
        b = await enqueue_broadcast(
            s, kind="tip", priority=50, content=TIP, recipients=[(1, "en")], not_before=later
        )
    assert b is not None
    [row] = await _deliveries(db, b.id)
    assert abs((row.next_attempt_at - later).total_seconds()) < 0.01


async def test_cancel_and_report(db: Factory) -> None:
    async with db() as s, s.begin():
        b = await enqueue_broadcast(
            s, kind="notice", priority=50, content=TIP, recipients=[(i, "en") for i in range(1, 8)]
        )
    assert b is not None
    async with db() as s, s.begin():
        rows = list(await s.scalars(select(Delivery).order_by(Delivery.id)))
        rows[0].status = DeliveryStatus.SENT
        rows[1].status = DeliveryStatus.SENT
        rows[1].possible_duplicate = True
        rows[2].status = DeliveryStatus.FAILED
        rows[2].error = "Bad Request: can't parse entities"
        rows[3].status = DeliveryStatus.FAILED
        rows[3].error = "Bad Request: can't parse entities"
        rows[4].status = DeliveryStatus.UNREACHABLE
        rows[4].error = "Forbidden: bot was blocked by the user"
        rows[5].status = DeliveryStatus.IN_FLIGHT
    async with db() as s, s.begin():
        assert await cancel_broadcast(s, b.id) == 1  # only the pending one
    async with db() as s:
        report = await broadcast_report(s, b.id)
        [latest] = await recent_broadcasts(s, limit=1, kind="notice")
    assert latest.id == b.id
    assert (report.total, report.sent, report.failed, report.unreachable) == (7, 2, 2, 1)
    assert (report.pending, report.cancelled, report.possible_duplicates) == (1, 1, 1)
    assert report.failure_reasons == {
        "Bad Request: can't parse entities": 2,
        "Forbidden: bot was blocked by the user": 1,
    }
    assert report.status is BroadcastStatus.CANCELLED


def test_content_picks_the_language_with_a_fallback_and_fills_placeholders() -> None:
    from broadcasts import content_from_json, content_to_json, pick

    alert = OutgoingMessage(text="火警", buttons=[[("收到", "ack:{delivery_id}")]], pin=True)
    stored = content_to_json({"zh-CN": alert, "en": {"text": "Fire"}})
    content = content_from_json(stored)
    assert pick(content, "zh-TW") == alert
    assert pick(content, "en").text == "Fire"
    assert alert.fill(delivery_id=42).buttons == ((("收到", "ack:42"),),)
    with pytest.raises(ValueError):
        OutgoingMessage()


# -- splitting ---------------------------------------------------------------------------


def test_short_text_is_one_part() -> None:
    assert split_text("平安") == ["平安"]


def test_text_splits_on_paragraphs_then_lines() -> None:
    paragraph = "安" * 1500
    text = "\n\n".join([paragraph] * 4)
    parts = split_text(text)
    assert [len(p) for p in parts] == [3002, 3002]  # two paragraphs each, joined by \n\n
    assert "".join(p for p in parts).replace("\n", "") == "安" * 6000
    lines = "\n".join(["行" * 100] * 60)  # no paragraph break at all
    assert all(len(p) <= TEXT_LIMIT for p in split_text(lines))
    assert all(p.startswith("行") and p.endswith("行") for p in split_text(lines))


def test_a_run_without_breaks_is_cut_hard() -> None:
    parts = split_text("x" * 10_000)
    assert [len(p) for p in parts] == [4096, 4096, 1808]


def test_html_is_cut_outside_tags_and_tags_are_reopened() -> None:
    text = '<b>粗体</b> <a href="https://example.org/?a=1&amp;b=2">' + "链" * 5000 + "</a> end"
    parts = split_text(text, html=True)
    assert len(parts) == 2
    for part in parts:
        assert visible_length(part, html=True) <= TEXT_LIMIT
        assert part.count("<a ") == part.count("</a>")
    assert parts[0].startswith("<b>粗体</b> <a href=")
    assert parts[1].startswith('<a href="https://example.org/?a=1&amp;b=2">链')
    assert parts[1].endswith("</a> end")


def test_html_entities_count_as_one() -> None:
    text = "&lt;" * TEXT_LIMIT
    assert visible_length(text, html=True) == TEXT_LIMIT
    assert split_text(text, html=True) == [text]


@pytest.mark.parametrize("html", [False, True])
def test_long_caption_becomes_photo_plus_text(html: bool) -> None:
    caption = "\n".join(["说明" * 50] * 30)  # about 3,000
    head, rest = split_caption(caption, html=html)
    assert visible_length(head, html=html) <= CAPTION_LIMIT
    assert rest and all(visible_length(r, html=html) <= TEXT_LIMIT for r in rest)
    message = OutgoingMessage(
        text=caption,
        photo="FILE",
        parse_mode="HTML" if html else None,
        buttons=[[("收到", "ack")]],
        pin=True,
    )
    parts = split_message(message)
    assert [p.kind for p in parts] == ["photo", "text"]
    assert parts[0].pin and not parts[1].pin
    assert parts[-1].buttons and not parts[0].buttons


def test_albums_are_chunked_by_ten_and_buttons_move_to_a_text_part() -> None:
    message = OutgoingMessage(
        text="现场照片", album=tuple(f"p{i}" for i in range(12)), buttons=[[("认领", "c")]]
    )
    parts = split_message(message)
    assert [(p.kind, len(p.album), p.text) for p in parts] == [
        ("album", 10, None),
        ("album", 2, None),
        ("text", 0, "现场照片"),
    ]
    assert parts[-1].buttons
    plain = split_message(OutgoingMessage(text="照片", album=("a", "b")))
    assert [(p.kind, p.text) for p in plain] == [("album", "照片")]


# -- retry decisions ---------------------------------------------------------------------

NOW = datetime(2025, 1, 1, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=4, base_delay=2.0, max_delay=10.0, jitter=0.25)


@pytest.mark.parametrize(
    ("error", "attempts", "action", "delay", "counts", "duplicate"),
    [
        (RetryAfter(7), 1, Action.RETRY, 7.0, False, False),
        (RetryAfter(7), 99, Action.RETRY, 7.0, False, False),  # a 429 never gives up
        (TransientError("502 Bad Gateway"), 1, Action.RETRY, 2.0, True, False),
        (TransientError("502 Bad Gateway"), 3, Action.RETRY, 8.0, True, False),
        (TransientError("timed out", maybe_delivered=True), 2, Action.RETRY, 4.0, True, True),
        (TransientError("502 Bad Gateway"), 4, Action.FAIL, None, True, False),
        (Unreachable("Forbidden: bot was blocked by the user"), 1, Action.UNREACHABLE, None,
         True, False),
        (PermanentError("Bad Request: can't parse entities"), 1, Action.FAIL, None, True, False),
        (Migrated(-100123), 1, Action.MIGRATE, None, False, False),
        (RuntimeError("bug in a sender"), 1, Action.RETRY, 2.0, True, False),
    ],
)
def test_decide(
    error: BaseException,
    attempts: int,
    action: Action,
    delay: float | None,
    counts: bool,
    duplicate: bool,
) -> None:
    decision = decide(error, attempts=attempts, now=NOW, policy=POLICY, rand=lambda: 0.5)
    assert decision.action is action
    assert decision.counts_as_attempt is counts
    assert decision.possible_duplicate is duplicate
    if delay is None:
        assert decision.at is None
    else:
        assert decision.at == NOW + timedelta(seconds=delay)
    if action is Action.MIGRATE:
        assert decision.new_chat_id == -100123


def test_backoff_is_capped_and_jittered() -> None:
    assert POLICY.backoff(10, 0.5) == 10.0
    assert POLICY.backoff(1, 0.0) == 1.5 and POLICY.backoff(1, 0.999) < 2.5


# -- limits ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _slots(limiter: Limiter, chat: int, n: int) -> list[float]:
    return [round(limiter.reserve(chat), 6) for _ in range(n)]


def test_private_chat_bursts_then_one_per_second() -> None:
    limiter = Limiter(Limits(overall_per_s=math.inf, chat_per_s=1, chat_burst=3, headroom=0),
                      Clock())
    assert _slots(limiter, 5, 5) == [0, 0, 0, 1.0, 2.0]


def _busiest_second(slots: list[float]) -> int:
    """The most slots in any sliding window [t, t + 1 s)."""
    return max(bisect.bisect_left(slots, t + 1.0) - i for i, t in enumerate(slots))


def test_no_sliding_second_holds_more_than_the_limit_after_idle() -> None:
    clock = Clock()
    limiter = Limiter(Limits(overall_per_s=30), clock)
    slots: list[float] = []
    private: list[float] = []
    for chat in range(1, 301):
        if chat in (101, 201):
            clock.now += 5  # idle: a bucket would have refilled its burst
        # A sender that takes every slot as soon as it is free, and a direct reply to a
        # chat with its own limit in between, reserved for later.
        delay = limiter.reserve(chat)
        clock.now += delay
        private.append(clock.now)
        if chat % 10 == 0:
            slots.append(clock.now + limiter.reserve(-chat))
    slots = sorted(slots + private)
    assert _busiest_second(slots) <= 29  # 0.97 × 30: a margin for jitter
    assert len(private) == 300
    first_run = [t for t in slots if t <= private[99]]  # the replies took slots too
    assert len(first_run) - 1 >= 0.95 * 30 * (first_run[-1] - first_run[0])


def _punctual_then_late(limiter: Limiter, clock: Clock, n: int, late: float) -> list[float]:
    """A sender taking each slot as soon as it is free, waking ``late`` after each wait."""
    slots: list[float] = []
    for chat in range(1, n + 1):
        delay = limiter.reserve(chat)
        clock.now += delay + (late if delay > 0 else 0.0)
        slots.append(clock.now)
    return slots


def test_a_send_and_the_one_a_limit_later_leave_room_for_jitter() -> None:
    """Against a strict window, the 31st send must not arrive within a second of the 1st.
    Bunching a second's 29 sends and then pausing left the pair (i, i + 30) only three
    quarters of an interval apart beyond the second (25 ms); now a whole one (34 ms)."""
    clock = Clock()
    slots = _punctual_then_late(Limiter(Limits(overall_per_s=30), clock), clock, 600, 0.0)
    room = min(b - a for a, b in zip(slots[100:], slots[130:], strict=False)) - 1.0
    assert room >= 0.9 / 29
    assert _busiest_second(slots) <= 29


def test_a_sender_that_wakes_late_catches_up() -> None:
    clock = Clock()
    slots = _punctual_then_late(Limiter(Limits(overall_per_s=30), clock), clock, 600, 0.004)
    assert (len(slots) - 1) / (slots[-1] - slots[0]) >= 0.95 * 30
    assert _busiest_second(slots) <= 29


def test_a_send_started_late_is_counted_from_when_it_went() -> None:
    """A busy loop got to the first send 0.2 s after its slot; the others went on time.
    Counted from the slot, the 30th would go 0.8 s after the first really did."""
    clock = Clock()
    limiter = Limiter(Limits(overall_per_s=30), clock)
    first = limiter.reserve_slot(1)
    clock.now += 0.2
    limiter.started(first)
    went = [clock.now]
    for chat in range(2, 61):
        slot = limiter.reserve_slot(chat)
        clock.now = max(clock.now, slot)
        limiter.started(slot)
        went.append(clock.now)
    assert _busiest_second(went) <= 29


def test_group_twenty_per_minute() -> None:
    limiter = Limiter(Limits(overall_per_s=math.inf, headroom=0), Clock())
    delays = _slots(limiter, -100, 21)
    # Any 60 s hold at most 0.97 × 20: the 20th waits for the first to leave the minute.
    assert delays[:19] == [0] * 19 and delays[19] == 60.0


def test_a_429_pauses_only_that_chat() -> None:
    clock = Clock()
    limiter = Limiter(Limits(overall_per_s=30, headroom=0), clock)
    limiter.retry_after(1, 5)
    assert limiter.delays(1)[1] == 5.0
    assert limiter.delays(2) == (0.0, 0.0)
    assert limiter.overall_rate == 30


def test_429s_from_many_chats_slow_everything_down_and_it_recovers() -> None:
    clock = Clock()
    limiter = Limiter(Limits(overall_per_s=30, headroom=0), clock)
    for chat in range(1, 41):
        limiter.reserve(chat)
    for chat in range(1, 12):
        limiter.retry_after(chat, 1)
    assert limiter.overall_rate == 30  # 11 of 40: could still be the chats' own limits
    limiter.retry_after(12, 1)
    assert limiter.overall_rate == 15  # 12 of 40 (30 %) from 12 chats: a global limit
    clock.now += 1
    assert limiter.overall_rate == pytest.approx(18)
    clock.now += 10
    assert limiter.overall_rate == 30


def test_a_few_429s_in_a_busy_second_do_not_slow_down() -> None:
    clock = Clock()
    limiter = Limiter(Limits(overall_per_s=300, headroom=0), clock)
    for chat in range(1, 101):
        limiter.reserve(chat)
    for chat in (1, 2, 3):
        limiter.retry_after(chat, 2)
    assert limiter.overall_rate == 300


async def test_acquire_waits_for_its_slot() -> None:
    import time

    clock = Clock()  # stands still: the slots are at +0, +0.05 and +0.1 s
    limiter = Limiter(Limits(overall_per_s=1000, chat_per_s=20, chat_burst=1, headroom=0), clock)
    start = time.monotonic()
    for _ in range(3):
        await limiter.acquire(9)
    # It slept 0.05 + 0.1 s for them (how much longer is up to the machine).
    assert time.monotonic() - start >= 0.14
    assert limiter.delays(9)[1] == pytest.approx(0.15)
