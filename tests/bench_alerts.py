"""Benchmark: an emergency alert overtaking a tip broadcast (issue 6).

The real Application (polling, the /alert conversation, the outbox dispatcher it starts
in post_init, one shared rate limiter) against the in-process fake Bot API server, with
Telegram's limits ×``scale`` on both sides (30×scale messages/s overall).

- ``alert_50_groups_s``: a community with 50 linked group chats where the bot may pin.
  A 3,000-chat tip broadcast (Priority.NORMAL) is started and runs for about a second;
  then the staff member presses “Send now” on an alert already composed through /alert.
  Timed from the handler's ``dispatcher.wake()`` (the alert and its deliveries are
  committed) until the last of the 50 groups holds the alert at the fake.
  ``alert_50_groups_ratio`` is that time ÷ the floor the limits set (50 ÷ the overall
  rate; target ≤ 1.1); ``alert_50_groups_429`` counts 429s from the start of the tip
  broadcast to the end of the measurement (target 0); ``alert_50_groups_from_press_s``
  is the same end measured from the press (the update queued at the fake: polling, the
  handler, writing the alert).
- ``alert_3000_private_s``: another community's alert to its 3,000 residents, nothing
  else in flight, from the wake until the last resident holds it (close to 3,000 ÷ the
  rate); ``alert_3000_private_ratio`` is that ÷ (3,000 ÷ the rate); its 429s too.

Run alone: `.venv/bin/python -m tests.bench_alerts [--scale N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts import service as alert_service
from bot.db import create_engine, create_session_factory, transaction, upgrade_database_async
from bot.directory.models import Area, Chat, ChatStatus, Person, PersonStatus, Role
from bot.settings import load_settings
from broadcasts import Dispatcher, OutgoingMessage, Priority, cancel_broadcast, enqueue_broadcast
from tests.factories import make_person, make_tree
from tests.fake_telegram import FakeTelegram, FakeUser, Limits
from tests.support import BotRunner

GROUPS = 50
PEOPLE = 3000
TIP = "【平安社区】防诈骗提醒：公检法不会通过电话要求转账，接到可疑电话请拨打 110。"
ALERT = "3号楼发生火情，请立即从楼梯撤离，不要乘电梯"
# Long enough for the tip broadcast to spend the limiter's starting burst, so the
# alert meets the steady rate and its ratio cannot flatter itself below 1.
TIP_HEAD_START_S = 3.0


@dataclass
class Scene:
    staff_a: FakeUser  # community A: 50 linked groups, no residents
    community_a: Area
    groups: set[int]
    staff_b: FakeUser  # community B: 3,000 residents, no groups
    community_b: Area
    residents: set[int]


async def _scene(fake: FakeTelegram, factory: async_sessionmaker[AsyncSession]) -> Scene:
    staff_a = fake.user("Li", language_code="zh-hans")
    staff_b = fake.user("Wang", language_code="zh-hans")
    users = [fake.user(f"居民{i}", language_code="zh-hans") for i in range(PEOPLE)]
    for user in (staff_a, staff_b, *users):
        user.record.started = True
    groups = []
    for i in range(GROUPS):
        group = fake.group(f"{i + 1}号楼平安群", [staff_a])
        group.record.bot_status = "administrator"
        group.record.bot_rights = {"can_pin_messages": True}
        groups.append(group)
    async with transaction(factory) as session:
        a = await make_tree(session, community="龙江路社区")
        b = await make_tree(session, community="青石桥社区", parent=a.street_office)
        await make_person(session, name="李干部", role=Role.STAFF, area=a.community,
                          telegram_id=staff_a.id)
        await make_person(session, name="王干部", role=Role.STAFF, area=b.community,
                          telegram_id=staff_b.id)
        session.add_all(Chat(telegram_chat_id=g.id, type="group", title=g.record.title,
                             area_id=a.community.id, status=ChatStatus.ACTIVE, can_pin=True)
                        for g in groups)
        session.add_all(Person(name=f"居民{i}", role=Role.RESIDENT, telegram_id=u.id,
                               status=PersonStatus.ACTIVE, area_id=b.building.id)
                        for i, u in enumerate(users))
    return Scene(staff_a, a.community, {g.id for g in groups}, staff_b, b.community,
                 {u.id for u in users})


async def _compose(staff: FakeUser, community: Area) -> None:
    """/alert up to the confirm step: the community, the text, emergency, ask for 收到."""
    await staff.send("/alert")
    # The toggle by its data, wherever the picker shows it (pages, sections): the handler
    # checks it against the sender's own choices either way.
    await staff.press(data=f"al:a:{community.id}", forged=True)
    await staff.press(data="al:ok")
    await staff.send(ALERT)
    await staff.press(data="al:s:e")
    await staff.press(data="al:r:1")


class Stopwatch:
    """The alert's wake (via a wrapped ``create_alert`` and ``Dispatcher.wake``) and the
    moment each watched chat first holds an alert copy (via the fake's message record)."""

    def __init__(self, fake: FakeTelegram, dispatcher: Dispatcher) -> None:
        self.fake, self.dispatcher = fake, dispatcher
        self.watched: set[int] = set()
        self.created = False
        self.woken_at: float | None = None
        self.arrived: dict[int, float] = {}
        self.all_arrived = asyncio.Event()
        self._create = alert_service.create_alert
        self._wake = dispatcher.wake
        self._record = fake.record_bot_message

    def __enter__(self) -> Stopwatch:
        async def create_alert(*args: Any, **kwargs: Any) -> Any:
            created = await self._create(*args, **kwargs)
            self.created = True
            return created

        def wake() -> None:
            if self.created and self.woken_at is None:
                self.woken_at = time.perf_counter()
            self._wake()

        def record(chat: Any, **content: Any) -> Any:
            message = self._record(chat, **content)
            if (chat.id in self.watched and chat.id not in self.arrived
                    and "ak:" in str(content.get("reply_markup"))):
                self.arrived[chat.id] = time.perf_counter()
                if len(self.arrived) == len(self.watched):
                    self.all_arrived.set()
            return message

        alert_service.create_alert = create_alert  # type: ignore[assignment]
        self.dispatcher.wake = wake  # type: ignore[method-assign]
        self.fake.record_bot_message = record  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        alert_service.create_alert = self._create  # type: ignore[assignment]
        self.dispatcher.wake = self._wake  # type: ignore[method-assign]
        self.fake.record_bot_message = self._record  # type: ignore[method-assign]

    def watch(self, chats: Iterable[int]) -> None:
        self.watched = set(chats)
        self.created, self.woken_at = False, None
        self.arrived.clear()
        self.all_arrived.clear()

    async def press_send(self, staff: FakeUser, within: float) -> tuple[float, float]:
        """Press “Send now”; (seconds from the wake, from the press) to the last arrival."""
        pressed = time.perf_counter()
        press = asyncio.create_task(staff.press(data="al:go", timeout=within))
        async with asyncio.timeout(within):
            await self.all_arrived.wait()
        last = max(self.arrived.values())
        # The press "returns" once the fake is quiet, which a running broadcast never is.
        press.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await press
        assert self.woken_at is not None, "the alert never woke the dispatcher"
        return last - self.woken_at, last - pressed


async def _enqueue_tip(factory: async_sessionmaker[AsyncSession], chats: Iterable[int]) -> int:
    async with transaction(factory) as session:
        broadcast = await enqueue_broadcast(
            session, kind="tip", priority=Priority.NORMAL,
            content={"zh-CN": OutgoingMessage(text=TIP)},
            recipients=((c, "zh-CN") for c in chats))
    assert broadcast is not None
    return broadcast.id


async def _cancel(factory: async_sessionmaker[AsyncSession], broadcast_id: int) -> None:
    async with transaction(factory) as session:
        await cancel_broadcast(session, broadcast_id)


async def bench_alerts(scale: float = 5.0, *, strict: bool = True) -> list[tuple[str, float]]:
    fake_limits = Limits(strict=strict).scaled(scale)
    rate = fake_limits.overall_per_s
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'alerts.db'}"
        await upgrade_database_async(url)
        engine = create_engine(url)
        factory = create_session_factory(engine)
        fake = FakeTelegram(limits=fake_limits)
        await fake.start(port=0)
        settings = load_settings(
            bot_token=fake.token, database_url=url, telegram_api_url=fake.base_url,
            admin_ids=(1,), rate_overall_per_s=rate, rate_chat_per_s=fake_limits.chat_per_s,
            rate_chat_burst=int(fake_limits.chat_burst),
            rate_group_per_min=fake_limits.group_per_min, _env_file=None)
        runner = BotRunner(settings=settings, session_factory=factory, fake=fake)
        await runner.start()
        try:
            scene = await _scene(fake, factory)
            dispatcher = runner.application.bot_data["services"].dispatcher
            assert dispatcher is not None
            figures = await _measure(fake, factory, dispatcher, scene, rate)
        finally:
            await runner.stop()
            await fake.stop()
            await engine.dispose()
    return figures


async def _measure(fake: FakeTelegram, factory: async_sessionmaker[AsyncSession],
                   dispatcher: Dispatcher, scene: Scene, rate: float) -> list[tuple[str, float]]:
    with Stopwatch(fake, dispatcher) as watch:
        # 1. 50 groups, behind a 3,000-chat tip broadcast already under way.
        await _compose(scene.staff_a, scene.community_a)
        before = fake.stats.answered_429
        tip = await _enqueue_tip(factory, sorted(scene.residents))
        dispatcher.wake()
        await asyncio.sleep(TIP_HEAD_START_S)
        tips_sent = sum(1 for c in scene.residents if fake.delivery_counts.get(c))
        assert 0 < tips_sent < len(scene.residents) // 2, f"tip broadcast not running: {tips_sent}"
        watch.watch(scene.groups)
        groups_s, groups_from_press_s = await watch.press_send(scene.staff_a, within=60)
        groups_429 = fake.stats.answered_429 - before

        # Settle: the rest of the tip broadcast is cancelled (what is claimed still goes).
        await _cancel(factory, tip)
        async with asyncio.timeout(60):
            await dispatcher.wait_idle()
        pinned = sum(1 for g in scene.groups if any(m.pinned for m in fake.messages_to(g)))

        # 2. 3,000 private chats, nothing else in flight.
        await _compose(scene.staff_b, scene.community_b)
        before = fake.stats.answered_429
        watch.watch(scene.residents)
        private_s, _ = await watch.press_send(scene.staff_b, within=PEOPLE / rate * 5 + 30)
        private_429 = fake.stats.answered_429 - before
    assert pinned == len(scene.groups), f"only {pinned} of {len(scene.groups)} groups pinned"
    return [
        ("alert_50_groups_s", groups_s),
        ("alert_50_groups_ratio", groups_s / (GROUPS / rate)),
        ("alert_50_groups_429", groups_429),
        ("alert_50_groups_from_press_s", groups_from_press_s),
        ("alert_3000_private_s", private_s),
        ("alert_3000_private_ratio", private_s / (PEOPLE / rate)),
        ("alert_3000_private_429", private_429),
    ]


def _format(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> None:
    logging.basicConfig(level=logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=5.0)
    args = parser.parse_args(argv)
    out(f"scale: {args.scale:g}")
    for name, value in asyncio.run(bench_alerts(args.scale)):
        out(f"{name}: {_format(value)}")


if __name__ == "__main__":
    main()
