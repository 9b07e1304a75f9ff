"""Fixtures: one fake Bot API server per session, and per test a fresh database and a
real `telegram.ext.Application` polling that server over HTTP."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import create_engine, create_session_factory, upgrade_database_async
from bot.settings import Settings, load_settings
from tests.databases import drop_database, fresh_database_url
from tests.fake_telegram import FakeTelegram, Limits
from tests.support import BotRunner


@pytest.fixture(scope="session", autouse=True)
def offline_guard() -> Iterator[None]:
    """No test may reach the real Telegram (or anything but this machine)."""
    original = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise ConnectionRefusedError(f"tests are offline: refused {host}")
        return original(self, address)

    socket.socket.connect = guarded  # type: ignore[method-assign]
    yield
    socket.socket.connect = original  # type: ignore[method-assign]


#: Telegram's flood limits sped up ten times on both sides (the fake and the bot), so
#: stories run fast while a bot that ignored the limits would still see 429s.
SPEED = 10


@pytest.fixture(scope="session")
async def fake_server() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(limits=Limits().scaled(SPEED), bot_username="pingan_test_bot")
    await server.start(port=0)
    yield server
    await server.stop()


@pytest.fixture
async def fake(fake_server: FakeTelegram) -> AsyncIterator[FakeTelegram]:
    """The session's fake server, emptied for this test."""
    fake_server.reset(limits=Limits().scaled(SPEED))
    yield fake_server
    fake_server.reset(limits=Limits().scaled(SPEED))


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of its own for each test: SQLite, or PostgreSQL with
    `TEST_DATABASE_URL` set (see tests/databases.py)."""
    url = await fresh_database_url(tmp_path)
    yield url
    await drop_database(url)


@pytest.fixture
def settings(fake: FakeTelegram, database_url: str) -> Settings:
    return load_settings(bot_token=fake.token, database_url=database_url,
                         telegram_api_url=fake.base_url, admin_ids=(), _env_file=None,
                         rate_overall_per_s=30 * SPEED, rate_chat_per_s=1 * SPEED,
                         rate_group_per_min=20 * SPEED)


@pytest.fixture
async def session_factory(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A fresh database migrated to head, as the bot would find it."""
    await upgrade_database_async(database_url)
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def bot(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], fake: FakeTelegram
) -> AsyncIterator[BotRunner]:
    """The real Application, started and polling the fake server."""
    runner = BotRunner(settings=settings, session_factory=session_factory, fake=fake)
    await runner.start()
    yield runner
    await runner.stop()
