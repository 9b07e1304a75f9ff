"""Pins and the send budget: a pin is not a message, so it takes no slot (issue 6)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts import (
    Dispatcher,
    Limiter,
    Limits,
    OutgoingMessage,
    Priority,
    RetryAfter,
    SendError,
    enqueue_broadcast,
)
from tests.test_outbox_support import RecordingSender, outbox_database

Factory = async_sessionmaker[AsyncSession]
#: 10 messages a second and no burst at all: n sends take (n - 1) / 10 s.
PACED = Limits(overall_per_s=10, chat_per_s=100, chat_burst=1, group_per_min=60_000,
               headroom=0.9)
ALERT = {"zh-CN": OutgoingMessage(text="火警!", pin=True)}


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Factory]:
    async with outbox_database(tmp_path) as factory:
        yield factory


@dataclass
class PinSender(RecordingSender):
    """Records when each pin happened; answers the scripted errors to pins."""

    pin_at: dict[int, float] = field(default_factory=dict)
    pin_script: dict[int, list[SendError]] = field(default_factory=dict)

    async def pin(self, chat_id: int, message_id: int) -> None:
        if self.pin_script.get(chat_id):
            raise self.pin_script[chat_id].pop(0)
        self.pin_at[chat_id] = time.monotonic()
        await super().pin(chat_id, message_id)


async def _run(db: Factory, sender: PinSender, groups: list[int], limiter: Limiter) -> float:
    async with db() as s, s.begin():
        await enqueue_broadcast(s, kind="alert", priority=Priority.ALERT, content=ALERT,
                                recipients=[(g, "zh-CN") for g in groups])
    dispatcher = Dispatcher(db, sender, limiter, poll_interval=0.5)
    started = time.monotonic()
    await dispatcher.start()
    try:
        async with asyncio.timeout(10):
            await dispatcher.wait_idle()
    finally:
        await dispatcher.stop()
    return time.monotonic() - started


class CountingLimiter(Limiter):
    """Notes every send slot taken, by chat."""

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits)
        self.slots: list[int | None] = []

    def reserve_slot(self, chat_id: int | None, is_group: bool | None = None) -> float:
        self.slots.append(chat_id)
        return super().reserve_slot(chat_id, is_group)


async def test_pinning_takes_no_send_slot(db: Factory) -> None:
    groups = [-i for i in range(1, 11)]
    sender = PinSender()
    limiter = CountingLimiter(PACED)
    await _run(db, sender, groups, limiter)
    assert sorted(c for c, _ in sender.pins) == sorted(groups)
    assert sorted(limiter.slots) == sorted(groups)  # one slot per message, none per pin


async def test_a_pin_told_to_wait_pauses_its_chat_and_is_tried_again(db: Factory) -> None:
    sender = PinSender(pin_script={-1: [RetryAfter(0.5)]})
    limiter = Limiter(PACED)
    await _run(db, sender, [-1], limiter)
    [sent] = sender.sent
    assert [c for c, _ in sender.pins] == [-1]
    assert sender.pin_at[-1] - sent.at >= 0.45  # waited out the chat's pause


async def test_a_refused_pin_keeps_the_delivery(db: Factory) -> None:
    sender = PinSender(pin_script={-1: [SendError("not enough rights to pin")]})
    await _run(db, sender, [-1, -2], Limiter(PACED))
    assert sorted(sender.chats) == [-2, -1]
    assert [c for c, _ in sender.pins] == [-2]
