"""Shared pieces of the outbox and dispatcher tests: a database and a test ``Sender``.

The sender is an in-process stand-in for a chat platform (it records sends and raises
the engine's own errors on cue); nothing inside python-telegram-bot is mocked.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import create_engine, create_session_factory
from broadcasts import Base, OutgoingMessage, SendError
from tests.databases import drop_database, fresh_database_url


@asynccontextmanager
async def outbox_database(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A fresh database (SQLite, or PostgreSQL under `TEST_DATABASE_URL`) with the engine's
    tables, configured as the bot configures it."""
    url = await fresh_database_url(tmp_path, "outbox")
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()
        await drop_database(url)


@dataclass
class Delivered:
    """Script entry: the message arrives, and then ``error`` is raised anyway (a timeout)."""

    error: SendError


@dataclass
class Sent:
    chat_id: int
    message: OutgoingMessage
    at: float
    message_ids: list[int]


@dataclass
class RecordingSender:
    """Records every message; raises scripted errors per chat, in order."""

    delay: float = 0.0
    sent: list[Sent] = field(default_factory=list)
    pins: list[tuple[int, int]] = field(default_factory=list)
    script: dict[int, list[SendError | Delivered | None]] = field(
        default_factory=lambda: defaultdict(list)
    )
    attempts: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    hang: bool = False  # sends never return (the process dies mid-send)
    attempted: asyncio.Event = field(default_factory=asyncio.Event)
    _next_id: int = 1000

    def fail(self, chat_id: int, *errors: SendError | Delivered | None) -> None:
        """Script the next sends to this chat (``None``: that one succeeds)."""
        self.script[chat_id].extend(errors)

    async def send(self, chat_id: int, message: OutgoingMessage) -> list[int]:
        self.attempts[chat_id] += 1
        self.attempted.set()
        if self.hang:
            await asyncio.Event().wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        step = self.script[chat_id].pop(0) if self.script.get(chat_id) else None
        if isinstance(step, SendError):
            raise step
        ids = []
        for _ in range(len(message.album) or 1):
            self._next_id += 1
            ids.append(self._next_id)
        self.sent.append(Sent(chat_id, message, time.monotonic(), ids))
        if isinstance(step, Delivered):
            raise step.error
        return ids

    async def pin(self, chat_id: int, message_id: int) -> None:
        self.pins.append((chat_id, message_id))

    def to(self, chat_id: int) -> list[OutgoingMessage]:
        return [s.message for s in self.sent if s.chat_id == chat_id]

    @property
    def chats(self) -> list[int]:
        return [s.chat_id for s in self.sent]
