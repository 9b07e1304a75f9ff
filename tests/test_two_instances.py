"""Two `python -m bot run` processes in webhook mode on one PostgreSQL database, against
the fake Bot API (in a process of its own, enforcing Telegram's limits ×10 — the bots'
limits are set to match): what an operator running two instances must be able to rely on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.models import Alert, AlertRecipient
from bot.db import create_engine, create_session_factory, utcnow
from bot.directory.audience import AudienceSpec
from broadcasts import Delivery, OutgoingMessage, Priority, enqueue_broadcast
from broadcasts.models import DeliveryStatus
from tests.bench_fake import RemoteFake
from tests.databases import on_postgresql
from tests.fake_telegram import Limits
from tests.test_alerts_service import _create, _world
from tests.test_run_standalone import free_port

pytestmark = pytest.mark.skipif(not on_postgresql(),
                                reason="several instances need PostgreSQL (TEST_DATABASE_URL)")

ROOT = Path(__file__).resolve().parent.parent
SCALE = 10
WAIT_S = 300  # generous bounds for a loaded machine; nothing asserts on time
Factory = async_sessionmaker[AsyncSession]


@dataclass
class Instance:
    name: str
    process: asyncio.subprocess.Process
    health_url: str
    log: Path

    async def health(self) -> dict[str, Any] | None:
        """/healthz, or None while it does not answer (starting, or dead)."""
        try:
            async with aiohttp.ClientSession() as session, \
                    session.get(self.health_url, timeout=aiohttp.ClientTimeout(5)) as response:
                return dict(await response.json())
        except (aiohttp.ClientError, TimeoutError):
            return None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


async def start_instance(fake: RemoteFake, database_url: str, tmp_path: Path,
                         name: str, scale: float = SCALE) -> Instance:
    health_port = free_port()
    env = {**os.environ, "BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url,
           "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", "ADMIN_IDS": "1",
           "WEBHOOK_URL": "https://pingan.example.org/telegram",
           "WEBHOOK_SECRET": secrets.token_urlsafe(24),
           "WEBHOOK_LISTEN": f"127.0.0.1:{free_port()}",
           "HEALTH_LISTEN": f"127.0.0.1:{health_port}",
           "RATE_OVERALL_PER_S": str(30 * scale), "RATE_CHAT_PER_S": str(1 * scale),
           "RATE_GROUP_PER_MIN": str(20 * scale)}
    log = tmp_path / f"{name}.log"
    with log.open("w") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=ROOT, env=env, stdout=out,
            stderr=asyncio.subprocess.STDOUT)
    return Instance(name, process, f"http://127.0.0.1:{health_port}/healthz", log)


async def until(condition: Any, what: str, instances: list[Instance],
                interval: float = 0.2) -> None:
    deadline = time.monotonic() + WAIT_S
    while not await condition():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {i.name}\n{i.output()}" for i in instances)
            raise AssertionError(f"timed out waiting until {what}\n{logs}")
        await asyncio.sleep(interval)


@pytest.fixture
async def remote_fake() -> AsyncIterator[RemoteFake]:
    fake = await RemoteFake.start()
    await fake.reset(Limits().scaled(SCALE))
    yield fake
    await fake.close()


@pytest.fixture
async def two(remote_fake: RemoteFake, database_url: str,
              tmp_path: Path) -> AsyncIterator[list[Instance]]:
    """Both started at once on an empty database (they migrate it together)."""
    async with running_two(remote_fake, database_url, tmp_path) as instances:
        yield instances


@contextlib.asynccontextmanager
async def running_two(fake: RemoteFake, database_url: str, tmp_path: Path,
                      scale: float = SCALE) -> AsyncIterator[list[Instance]]:
    """Two instances, up and one of them sending; stopped at the end."""
    instances = [await start_instance(fake, database_url, tmp_path, name, scale)
                 for name in ("one", "two")]

    async def both_up() -> bool:
        states = [await i.health() for i in instances]
        return all(s is not None for s in states) and sum(
            bool(s and s["sends_here"]) for s in states) == 1

    try:
        await until(both_up, "both instances answer and one of them sends", instances)
        yield instances
    finally:
        for instance in instances:
            if instance.process.returncode is None:
                instance.process.terminate()
        for instance in instances:
            try:
                await asyncio.wait_for(instance.process.wait(), 60)
            except TimeoutError:
                instance.process.kill()
                await instance.process.wait()


@pytest.fixture
async def factory(two: list[Instance], database_url: str) -> AsyncIterator[Factory]:
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def broadcast(factory: Factory, chats: list[int]) -> None:
    async with factory() as session, session.begin():
        await enqueue_broadcast(session, kind="anti_fraud", priority=Priority.NORMAL,
                                content={"zh-CN": OutgoingMessage(text="防诈骗提醒")},
                                recipients=((c, "zh-CN") for c in chats))


async def unsettled(factory: Factory) -> int:
    async with factory() as session:
        return int(await session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT)))) or 0)


async def test_two_instances_send_a_broadcast_of_1000_once_without_a_429(
    two: list[Instance], factory: Factory, remote_fake: RemoteFake,
) -> None:
    for instance in two:
        assert "Traceback" not in instance.output(), instance.output()
    chats = await remote_fake.users(1000)
    await broadcast(factory, chats)

    async def settled() -> bool:
        return await unsettled(factory) == 0

    await until(settled, "the broadcast is settled", two)
    stats = await remote_fake.stats(chats)
    assert (stats["lost"], stats["answered_429"], stats["duplicate_chats"]) == (0, 0, [])


async def test_the_leader_killed_mid_broadcast_the_other_finishes_it(
    two: list[Instance], factory: Factory, remote_fake: RemoteFake,
) -> None:
    chats = await remote_fake.users(1000)
    await broadcast(factory, chats)

    async def under_way() -> bool:
        return (await remote_fake.stats())["delivered"] >= 150

    await until(under_way, "the broadcast is under way", two)
    [leader] = [i for i in two if (await i.health() or {}).get("sends_here")]
    [other] = [i for i in two if i is not leader]
    leader.process.kill()  # SIGKILL: no goodbye, rows stay in flight under lease
    await leader.process.wait()

    async def other_sends() -> bool:
        return bool((await other.health() or {}).get("sends_here"))

    async def settled() -> bool:
        return await unsettled(factory) == 0

    await until(other_sends, "the other instance sends", two)
    await until(settled, "the broadcast is settled", two)  # in-flight rows: after the lease
    stats = await remote_fake.stats(chats)
    async with factory() as session:
        flagged = set(await session.scalars(
            select(Delivery.chat_id).where(Delivery.possible_duplicate)))
    assert stats["lost"] == 0
    assert set(stats["duplicate_chats"]) <= flagged  # a copy twice only where flagged


async def test_forty_due_alerts_are_renotified_once_with_two_instances(
    two: list[Instance], factory: Factory,
) -> None:
    world = await _world(factory)
    spec = AudienceSpec(team_ids={world.patrol.id})
    created = utcnow() - timedelta(minutes=11)  # each reminder is due now
    for _ in range(40):
        await _create(factory, world, spec, now=created)

    async def all_renotified() -> bool:
        async with factory() as session:
            return set(await session.scalars(select(Alert.renotify_done))) == {1}

    await until(all_renotified, "every alert had its reminder", two)
    await asyncio.sleep(5)  # a few more scans of both instances
    async with factory() as session:
        assert set(await session.scalars(select(Alert.renotify_done))) == {1}
        assert set(await session.scalars(select(AlertRecipient.reminders))) == {1}
