"""One sender among several instances: the leader runs the outbox dispatcher and the
scans; the others answer updates and write to the outbox.

On PostgreSQL the leader is whoever holds a session advisory lock on a connection of its
own. The database drops the lock when that connection ends (the process died, the
network went), and another instance, retrying every few seconds, takes over; rows the
dead leader had in flight come back as soon as another is elected. A leader that finds its
connection broken steps down at once, so two leaders overlap at most until it notices —
the scans and the dispatcher claim rows with conditional updates, so even then nothing
is done twice.

On SQLite there is one instance (`python -m bot run` refuses a second one), always the
leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from telegram.ext import Job, JobQueue

logger = logging.getLogger(__name__)

#: The advisory lock key of the sender (bot/db.py's MIGRATION_LOCK is its neighbour).
LEADER_LOCK = 0x70696E67_616E0002
#: How often a follower tries to become the leader, and a leader checks its connection.
RETRY_S = 2.0
#: Each instance marks its lock connection with this prefix and an id of its own, so the
#: instances can be counted in `pg_stat_activity`.
INSTANCE_PREFIX = "pingan-bot:"


class Leadership:
    """Tries for the sender's lock at start and then every `retry_s` seconds."""

    def __init__(self, engine: AsyncEngine, *,
                 on_elected: Callable[[], Awaitable[None]],
                 on_deposed: Callable[[bool], Awaitable[None]],
                 on_census: Callable[[bool, int], None] | None = None,
                 retry_s: float = RETRY_S) -> None:
        """`on_deposed(drain)`: drain is True at a clean stop, False when the lock was lost
        (another instance may be sending already). `on_census(is_leader, instances)`: after
        each round, how many instances share the database (PostgreSQL)."""
        self.engine = engine
        self.on_census = on_census
        self.instance_id = f"{INSTANCE_PREFIX}{uuid.uuid4().hex[:12]}"
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.retry_s = retry_s
        self.is_leader = False
        self._connection: AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def shared(self) -> bool:
        """Whether several instances may share the database (PostgreSQL)."""
        return self.engine.dialect.name == "postgresql"

    async def start(self) -> None:
        """Try once now (a lone instance sends from its first second), then keep trying."""
        await self._step()
        if self.shared:
            self._task = asyncio.create_task(self._watch(), name="leadership")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.is_leader:
            self.is_leader = False
            await self.on_deposed(True)
        await self._release()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.retry_s)
            try:
                await self._step()
            except Exception:  # never let the watch die: the next round retries
                logger.exception("Leadership check failed; retrying")

    async def _step(self) -> None:
        await self._elect()
        if self.shared and self.on_census is not None and self._connection is not None:
            try:
                instances = await self._connection.scalar(text(
                    "SELECT count(DISTINCT application_name) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name LIKE :prefix"),
                    {"prefix": INSTANCE_PREFIX + "%"})
                await self._connection.commit()
            except Exception as exc:
                logger.warning("Could not count the instances: %s", exc)
                return
            self.on_census(self.is_leader, max(1, int(instances or 1)))

    async def _elect(self) -> None:
        if not self.shared:
            if not self.is_leader:
                self.is_leader = True
                await self.on_elected()
            return
        if self.is_leader:
            if await self._still_connected():
                return
            self.is_leader = False
            logger.warning("Lost the database connection holding the sender's lock: "
                           "this instance stops sending until it has the lock again")
            await self._release()
            await self.on_deposed(False)
            return
        if await self._acquire():
            self.is_leader = True
            logger.info("This instance is the sender now (outbox and scans)")
            await self.on_elected()

    async def _acquire(self) -> bool:
        try:
            if self._connection is None:
                self._connection = await self.engine.connect()
                await self._connection.execute(text("SELECT set_config('application_name', "
                                                    ":name, false)"), {"name": self.instance_id})
            got = await self._connection.scalar(text("SELECT pg_try_advisory_lock(:key)"),
                                                {"key": LEADER_LOCK})
            await self._connection.commit()  # the lock is the session's, not the transaction's
        except Exception as exc:
            logger.warning("Could not ask for the sender's lock: %s", exc)
            await self._release()
            return False
        return bool(got)

    async def _still_connected(self) -> bool:
        try:
            assert self._connection is not None
            await self._connection.scalar(text("SELECT 1"))
            await self._connection.commit()
        except Exception:
            return False
        return True

    async def _release(self) -> None:
        """Close the lock's connection (the database then drops the lock)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(Exception):
            await connection.invalidate()  # never back to the pool with the lock held
        with contextlib.suppress(Exception):
            await connection.close()


def leader_only(jobs: JobQueue[Any], names: Iterable[str],
                leadership: Leadership) -> None:
    """Make the named repeating jobs do nothing on an instance that is not the sender."""
    wanted = set(names)
    for job in jobs.jobs():
        if job.name in wanted:
            _gate(job, leadership)


def _gate(job: Job[Any], leadership: Leadership) -> None:
    callback = job.callback

    async def gated(context: Any) -> Any:
        if leadership.is_leader:
            return await callback(context)
        return None

    job.callback = gated
