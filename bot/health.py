"""Is the bot well? The database answers, some instance is sending, the outbox moves.

Read by `python -m bot health` (exit 0 when well, 1 when not: a container's health check)
and served as JSON at `/healthz` on HEALTH_LISTEN while the bot runs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import file_lock, sqlite_path, utcnow
from bot.leader import LEADER_LOCK, Leadership
from broadcasts.models import Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

#: A message due longer ago than this and still unsent means the outbox is stuck.
STUCK_AFTER_S = 300.0


@dataclass(frozen=True)
class Health:
    database: bool
    sender: bool  # some instance holds the sender's role
    backlog: int  # messages due now and not yet sent
    oldest_pending_s: float | None  # how long the oldest of them has been due
    sends_here: bool | None = None  # this instance is the sender (None: asked from outside)

    @property
    def ok(self) -> bool:
        stuck = self.oldest_pending_s is not None and self.oldest_pending_s > STUCK_AFTER_S
        return self.database and self.sender and not stuck

    def lines(self) -> list[str]:
        oldest = ("-" if self.oldest_pending_s is None
                  else f"{self.oldest_pending_s:.0f} s")
        return [f"database: {'ok' if self.database else 'UNREACHABLE'}",
                f"sender: {'running' if self.sender else 'NONE'}",
                f"outbox backlog: {self.backlog} (oldest due {oldest} ago)",
                f"health: {'ok' if self.ok else 'NOT OK'}"]

    def as_json(self) -> str:
        return json.dumps({**asdict(self), "ok": self.ok})


async def check(session_factory: async_sessionmaker[AsyncSession], database_url: str, *,
                leadership: Leadership | None = None, now: datetime | None = None) -> Health:
    """`leadership`: this instance's, when asked from inside a running bot."""
    now = now or utcnow()
    try:
        async with session_factory() as session:
            backlog, oldest = (await session.execute(
                select(func.count(), func.min(Delivery.next_attempt_at))
                .where(Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT)),
                       Delivery.next_attempt_at <= now))).one()
            if leadership is not None and leadership.is_leader:
                sender = True
            else:
                sender = await _someone_sends(session, database_url)
    except Exception as exc:
        logger.warning("Health check: the database did not answer: %s", exc)
        return Health(database=False, sender=False, backlog=0, oldest_pending_s=None)
    age = None if oldest is None else max(0.0, (now - oldest).total_seconds())
    return Health(database=True, sender=sender, backlog=int(backlog), oldest_pending_s=age,
                  sends_here=None if leadership is None else leadership.is_leader)


async def _someone_sends(session: AsyncSession, database_url: str) -> bool:
    """PostgreSQL: the sender's advisory lock is held. SQLite: the one instance runs (it
    holds the lock file beside the database)."""
    path = sqlite_path(database_url)
    if path is not None:
        with file_lock(path.with_name(path.name + ".lock"), wait=False) as free:
            return not free
    held = await session.scalar(text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND classid = :high AND objid = :low AND objsubid = 1 "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
        {"high": LEADER_LOCK >> 32, "low": LEADER_LOCK & 0xFFFFFFFF})
    return bool(held)


async def serve(host: str, port: int, session_factory: async_sessionmaker[AsyncSession],
                database_url: str, leadership: Leadership) -> web.AppRunner:
    """`GET /healthz`: 200 with the figures as JSON when well, 503 when not."""

    async def healthz(_: web.Request) -> web.Response:
        health = await check(session_factory, database_url, leadership=leadership)
        return web.Response(text=health.as_json(), content_type="application/json",
                            status=200 if health.ok else 503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    logger.info("Health check at http://%s:%s/healthz", host, port)
    return runner
