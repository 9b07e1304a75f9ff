"""Benchmark: patrol sign-in at 20:00 and the missed sign-in notice (issue 12).

The real Application (polling, the middleware, the `/start post_<token>` handler, the
patrol scan and the outbox dispatcher, one shared rate limiter) against the in-process
fake Bot API server, Telegram's limits ×``scale`` on both sides (30×scale messages/s
overall).

- ``checkin_burst_300_ratio``: 30 patrol teams of 10 members, each team with a post and a
  20:00–22:00 shift everyone is on. At 20:00 (the patrol clock) the 300 members scan their
  posts' QR codes within one second: 300 `/start post_<token>` updates queued at the fake,
  spread evenly over a second. Timed from the first update queued until the last
  "✅ signed in" reply reaches the fake, divided by the floor the overall limit sets
  (300 ÷ the overall rate; 10 s at scale 1). Target ≤ 1.15; ``checkin_burst_300_429``
  counts the 429s meanwhile (target 0).
- ``missed_signin_notice_s``: a 31st team whose member never signs in. The patrol clock
  runs in real time from shortly before the leader's notice falls due (the second grace
  time after the nudge runs out); timed from that moment until the leader's "⚠️ not
  signed in" message reaches the fake. Target < 5 (the scan runs every 2 s).

Run alone: `.venv/bin/python -m tests.bench_patrol [--scale N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import create_engine, create_session_factory, transaction, upgrade_database_async
from bot.directory.models import Membership, Person, PersonStatus, Role
from bot.patrol import service
from bot.patrol.common import CLOCK_KEY
from bot.patrol.handlers import SCAN_JOB
from bot.patrol.models import DutyStage, PatrolDuty, PatrolRotation
from bot.settings import load_settings
from tests.factories import make_team, make_tree
from tests.fake_telegram import FakeTelegram, FakeUser, Limits
from tests.support import BotRunner

TEAMS = 30
PER_TEAM = 10
MEMBERS = TEAMS * PER_TEAM
BURST_S = 1.0
#: How long the patrol clock runs before the leader's notice falls due (the scan that
#: plans the coming days after the clock's jump is over by then).
LEAD_S = 5.0
TZ = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 3, 2)


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(MONDAY, clock_time(hour, minute), tzinfo=TZ).astimezone(UTC)


class PatrolClock:
    """The patrol clock: standing at a moment, or running in real time from one."""

    def __init__(self, moment: datetime) -> None:
        self.moment, self.since = moment, None

    def __call__(self) -> datetime:
        if self.since is None:
            return self.moment
        return self.moment + timedelta(seconds=time.perf_counter() - self.since)

    def run_from(self, moment: datetime) -> float:
        """Run from `moment` on; returns the real time (perf_counter) it stands for."""
        self.moment, self.since = moment, time.perf_counter()
        return self.since


@dataclass
class Scene:
    members: list[tuple[FakeUser, str]]  # (the member, their post's token)
    leader: FakeUser  # leads the 31st team
    missing_person_id: int


async def _scene(fake: FakeTelegram, factory: async_sessionmaker[AsyncSession]) -> Scene:
    users = [fake.user(f"队员{i}", language_code="zh-hans") for i in range(MEMBERS + 2)]
    for user in users:
        user.record.started = True
    members: list[tuple[FakeUser, str]] = []
    async with transaction(factory) as session:
        tree = await make_tree(session)
        for t in range(TEAMS + 1):
            team = await make_team(session, area=tree.community, name=f"巡逻{t + 1}队")
            post = await service.create_post(session, team_id=team.id, name=f"{t + 1}号岗",
                                             now=_at(12))
            shift = await service.create_shift(session, post=post, name="晚班",
                                               starts=clock_time(20), ends=clock_time(22),
                                               sensitive_only=False, now=_at(12))
            crew = users[t * PER_TEAM:(t + 1) * PER_TEAM] if t < TEAMS else users[MEMBERS:]
            people = [Person(name=f"队员{u.id}", role=Role.MEMBER, telegram_id=u.id,
                             status=PersonStatus.ACTIVE, area_id=tree.community.id)
                      for u in crew]
            session.add_all(people)
            await session.flush()
            session.add_all(Membership(person_id=p.id, team_id=team.id, is_leader=i == 0)
                            for i, p in enumerate(people))
            # The 31st team: its leader is not on the shift, its member never comes.
            on_shift = people if t < TEAMS else people[1:]
            session.add_all(PatrolRotation(shift_id=shift.id, person_id=p.id,
                                           weekday=MONDAY.weekday()) for p in on_shift)
            if t < TEAMS:
                members += [(u, post.token) for u in crew]
            else:
                leader, missing_id = crew[0], people[1].id
        await service.plan_duties(session, now=_at(20), tz=TZ, config=service.PatrolConfig())
    return Scene(members, leader, missing_id)


class Arrivals:
    """When each watched chat first holds a bot message matching `wanted` at the fake."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.watched: set[int] = set()
        self.wanted: Callable[[str], bool] = lambda text: False
        self.arrived: dict[int, float] = {}
        self.all_arrived = asyncio.Event()
        self._record = fake.record_bot_message

    def __enter__(self) -> Arrivals:
        def record(chat: Any, **content: Any) -> Any:
            message = self._record(chat, **content)
            if (chat.id in self.watched and chat.id not in self.arrived
                    and self.wanted(str(content.get("text") or ""))):
                self.arrived[chat.id] = time.perf_counter()
                if len(self.arrived) == len(self.watched):
                    self.all_arrived.set()
            return message

        self.fake.record_bot_message = record  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.fake.record_bot_message = self._record  # type: ignore[method-assign]

    def watch(self, chats: set[int], wanted: Callable[[str], bool]) -> None:
        self.watched, self.wanted = chats, wanted
        self.arrived.clear()
        self.all_arrived.clear()


async def _burst(fake: FakeTelegram, members: list[tuple[FakeUser, str]]) -> float:
    """Queue every member's `/start post_<token>`, evenly over BURST_S; returns the start."""
    started = time.perf_counter()
    for i, (user, token) in enumerate(members):
        delay = started + i * BURST_S / len(members) - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        chat = fake.chats[user.id]
        message = fake.record_user_message(user.record, chat,
                                           **fake.text_content(f"/start post_{token}", chat))
        fake.enqueue("message", message.to_json())
    return started


async def _duty(factory: async_sessionmaker[AsyncSession], person_id: int) -> PatrolDuty:
    async with factory() as session:
        duty = await session.scalar(select(PatrolDuty).where(PatrolDuty.person_id == person_id,
                                                             PatrolDuty.on_date == MONDAY))
    assert duty is not None
    return duty


async def _measure(runner: BotRunner, fake: FakeTelegram,
                   factory: async_sessionmaker[AsyncSession], scene: Scene, clock: PatrolClock,
                   rate: float) -> list[tuple[str, float]]:
    assert runner.application is not None and runner.application.job_queue is not None
    (scan,) = runner.application.job_queue.get_jobs_by_name(SCAN_JOB)
    await scan.run(runner.application)  # the scan's own planning is done before the burst
    with Arrivals(fake) as arrivals:
        # 1. 300 sign-ins within a second.
        arrivals.watch({u.id for u, _token in scene.members}, lambda text: "✅" in text)
        before = fake.stats.answered_429
        started = await _burst(fake, scene.members)
        async with asyncio.timeout(MEMBERS / rate * 10 + 30):
            await arrivals.all_arrived.wait()
        burst_s = max(arrivals.arrived.values()) - started
        burst_429 = fake.stats.answered_429 - before
        async with factory() as session:
            signed = len(list(await session.scalars(select(PatrolDuty.id).where(
                PatrolDuty.signed_in_at.is_not(None)))))
        assert signed == MEMBERS, f"only {signed} of {MEMBERS} signed in"

        # 2. The missing member: nudged at 20:15, then the leader is told.
        clock.run_from(_at(20, 15))
        for _ in range(300):  # the scan runs every 2 s: look every 0.1 s, for 30 s at most
            duty = await _duty(factory, scene.missing_person_id)
            if duty.stage is DutyStage.TELL_LEADER:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the missing member was never nudged")
        assert duty.next_due_at is not None
        arrivals.watch({scene.leader.id}, lambda text: text.startswith("⚠️"))
        due_real = clock.run_from(duty.next_due_at - timedelta(seconds=LEAD_S)) + LEAD_S
        async with asyncio.timeout(LEAD_S + 60):
            await arrivals.all_arrived.wait()
        notice_s = arrivals.arrived[scene.leader.id] - due_real
    return [
        ("checkin_burst_300_ratio", burst_s / (MEMBERS / rate)),
        ("checkin_burst_300_429", burst_429),
        ("checkin_burst_300_s", burst_s),
        ("missed_signin_notice_s", notice_s),
    ]


async def bench_patrol(scale: float = 5.0) -> list[tuple[str, float]]:
    fake_limits = Limits().scaled(scale)
    rate = fake_limits.overall_per_s
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'patrol.db'}"
        await upgrade_database_async(url)
        engine = create_engine(url)
        factory = create_session_factory(engine)
        fake = FakeTelegram(limits=fake_limits)
        await fake.start(port=0)
        settings = load_settings(
            bot_token=fake.token, database_url=url, telegram_api_url=fake.base_url,
            admin_ids=(1,), rate_overall_per_s=rate,
            rate_chat_per_s=fake_limits.chat_per_s, rate_chat_burst=int(fake_limits.chat_burst),
            rate_group_per_min=fake_limits.group_per_min, _env_file=None)
        runner = BotRunner(settings=settings, session_factory=factory, fake=fake)
        await runner.start()
        assert runner.application is not None
        clock = PatrolClock(_at(20))  # before the scan's first run (a second after the start)
        runner.application.bot_data["services"].extras[CLOCK_KEY] = clock
        try:
            scene = await _scene(fake, factory)
            figures = await _measure(runner, fake, factory, scene, clock, rate)
        finally:
            await runner.stop()
            await fake.stop()
            await engine.dispose()
    return figures


def _format(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> None:
    logging.basicConfig(level=logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=5.0)
    args = parser.parse_args(argv)
    out(f"scale: {args.scale:g}")
    for name, value in asyncio.run(bench_patrol(args.scale)):
        out(f"{name}: {_format(value)}")


if __name__ == "__main__":
    main()
