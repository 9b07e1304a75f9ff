"""Two instances scanning the same PostgreSQL database at the same moment (two leaders
after a network split): each due thing is claimed by one of them only.

The second scan runs while the first's transaction is still open; the test waits until
the second either finishes or waits on a row lock, then commits the first. A scan that
read due rows without claiming them would then do the same round again.
"""

from __future__ import annotations

import asyncio
from datetime import time, timedelta
from typing import TypeVar

import pytest
from sqlalchemy import func, select, text

from bot.alerts import service as alerts
from bot.alerts.models import AlertRecipient
from bot.db import transaction
from bot.directory.audience import AudienceSpec
from bot.schedules.models import Schedule
from bot.schedules.runner import ScheduleRunner
from bot.schedules.triggers import TriggerKind, TriggerSpec
from tests.databases import on_postgresql
from tests.factories import Cast, make_cast
from tests.test_alerts_service import NOW, _create, _world
from tests.test_schedules_service import local, new_schedule

pytestmark = pytest.mark.skipif(not on_postgresql(),
                                reason="several instances need PostgreSQL (TEST_DATABASE_URL)")

T = TypeVar("T")


async def finished_or_waiting(session_factory, task: asyncio.Task[T]) -> None:
    """Until `task` is done or blocked on a lock another transaction holds."""
    for _ in range(300):
        if task.done():
            return
        async with session_factory() as session:
            if await session.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the second scan neither finished nor waited")


async def test_forty_due_alerts_are_renotified_once_by_two_scanning_instances(
    session_factory,
) -> None:
    world = await _world(session_factory)
    spec = AudienceSpec(team_ids={world.patrol.id})
    for _ in range(40):
        await _create(session_factory, world, spec)
    due = NOW + timedelta(minutes=10)

    async def second_instance() -> alerts.ScanResult:
        async with transaction(session_factory) as session:
            return await alerts.run_scan(session, now=due, default_language="zh-CN")

    async with transaction(session_factory) as first_session:
        first = await alerts.run_scan(first_session, now=due, default_language="zh-CN")
        second_task = asyncio.create_task(second_instance())
        await finished_or_waiting(session_factory, second_task)
    second = await second_task
    assert len(first.renotified) == 40 and second.renotified == []
    async with session_factory() as session:
        reminders = set(await session.scalars(select(AlertRecipient.reminders)))
        recipients = await session.scalar(select(func.count()).select_from(AlertRecipient))
    assert recipients == 40 * 3 and reminders == {1}


async def test_a_schedule_fired_by_one_instance_is_not_marked_already_sent_by_the_other(
    session_factory,
) -> None:
    async with transaction(session_factory) as session:
        cast: Cast = await make_cast(session)
    sid = await new_schedule(session_factory, cast, now=local(2025, 3, 1, 7, 0),
                             trigger=TriggerSpec(TriggerKind.DAILY, at=time(9, 0)))
    now = local(2025, 3, 1, 9, 0, 5)
    inside, release = asyncio.Event(), asyncio.Event()
    first_runner = ScheduleRunner(session_factory, default_language="zh-CN")

    async def slow_send(session, schedule, fire_at, at):  # the first is mid-fire
        broadcast_id = await first_runner.send_fire(session, schedule, fire_at, at)
        inside.set()
        await release.wait()
        return broadcast_id

    first_runner._send = slow_send
    first_task = asyncio.create_task(first_runner.tick(now=now))
    await inside.wait()
    second_task = asyncio.create_task(
        ScheduleRunner(session_factory, default_language="zh-CN").tick(now=now))
    await finished_or_waiting(session_factory, second_task)
    release.set()
    first, second = await first_task, await second_task
    assert [o.broadcast_id is not None for o in first] == [True] and second == []
    async with session_factory() as session:
        schedule = await session.get_one(Schedule, sid)
    assert schedule.last_outcome == "sent"
