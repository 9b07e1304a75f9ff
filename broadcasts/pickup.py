"""Waking the sender when another process commits a broadcast.

In one process the code that writes a broadcast calls ``Dispatcher.wake()``. A broadcast
written by another process (``python -m bot broadcast``, an alert confirmed on another
instance) would wait for the sender's poll; instead:

- PostgreSQL: the writer NOTIFYs ``CHANNEL`` in the transaction that writes the rows
  (``notify``, called by ``enqueue_broadcast``; delivered at commit), and the sender
  LISTENs on a connection of its own.
- SQLite: ``PRAGMA data_version`` on one connection changes when any other connection
  commits, and costs no lock to read; when it changes, the newest broadcast id says
  whether a broadcast was added (the sender's own writes change it all the time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

logger = logging.getLogger(__name__)

#: The PostgreSQL channel a new broadcast is announced on.
CHANNEL = "bc_outbox"
#: Seconds between looks at SQLite's data version.
CHECK_S = 0.1
#: Seconds between checks that PostgreSQL's listening connection still answers, and
#: before connecting again after a failure.
ALIVE_S = 5.0


async def notify(session: AsyncSession) -> None:
    """Announce new rows to listening senders when the caller's transaction commits."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


async def watch(engine: AsyncEngine, wake: Callable[[], None], *, every: float = CHECK_S) -> None:
    """Call ``wake`` whenever another process commits a broadcast; until cancelled.

    After (re)connecting it wakes once, for anything committed while nobody watched.
    """
    while True:
        try:
            async with engine.connect() as connection:
                try:
                    if engine.dialect.name == "postgresql":
                        await _listen(connection, wake)
                    else:
                        await _poll(connection, wake, every)
                finally:
                    # Never back to the pool with a listener on it.
                    with contextlib.suppress(Exception):
                        await connection.invalidate()
        except Exception as exc:
            logger.warning("Watching the outbox for other processes' broadcasts failed (%s); "
                           "the sender's poll finds them meanwhile", exc)
        await asyncio.sleep(ALIVE_S)


async def _driver(connection: AsyncConnection) -> Any:
    return (await connection.get_raw_connection()).driver_connection


async def _poll(connection: AsyncConnection, wake: Callable[[], None], every: float) -> None:
    # The driver's own connection: through SQLAlchemy each look would begin a transaction,
    # and bot.db begins them IMMEDIATE (the write lock).
    driver = await _driver(connection)

    async def one(sql: str) -> Any:
        async with driver.execute(sql) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    version, newest = None, None
    while True:
        now = await one("PRAGMA data_version")
        if now != version:
            version = now
            latest = await one("SELECT max(id) FROM bc_broadcast") or 0
            if newest is None or latest > newest:
                wake()
            newest = latest
        await asyncio.sleep(every)


async def _listen(connection: AsyncConnection, wake: Callable[[], None]) -> None:
    driver = await _driver(connection)
    await driver.add_listener(CHANNEL, lambda *_: wake())
    wake()
    while True:
        await asyncio.sleep(ALIVE_S)
        await asyncio.wait_for(driver.fetchval("SELECT 1"), ALIVE_S)
