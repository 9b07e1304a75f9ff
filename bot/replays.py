"""Each update is handled once: a replayed webhook POST (or one taken by two instances
behind one proxy) is dropped before any feature sees it.

The update_ids seen in the last day live in the database, so every instance shares them;
Telegram keeps an undelivered update for 24 hours, so an older id cannot come back.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.db import Base, UTCDateTime, transaction, utcnow
from broadcasts.store import dialect_insert

if TYPE_CHECKING:
    from bot.context import BotContext

logger = logging.getLogger(__name__)

KEEP = timedelta(days=1)
PRUNE_EVERY_S = 3600.0
PRUNE_JOB = "replays.prune"
# Below the other cross-cutting checks (-2, -1): a replay is dropped before anything runs.
GROUP = -100


class SeenUpdate(Base):
    __tablename__ = "seen_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


async def first_sighting(session: AsyncSession, update_id: int, *, now: datetime) -> bool:
    """Record `update_id`; False when it was recorded before (by any instance)."""
    stmt = (dialect_insert(session, SeenUpdate.__table__)
            .values(update_id=update_id, seen_at=now)
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(SeenUpdate.update_id))
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def prune(session: AsyncSession, *, now: datetime) -> int:
    """Forget ids older than a day; returns how many."""
    result = await session.execute(delete(SeenUpdate).where(SeenUpdate.seen_at < now - KEEP))
    return int(getattr(result, "rowcount", 0) or 0)


async def ignore_replays(update: Update, context: BotContext) -> None:
    """Stop an update whose id was handled before."""
    async with transaction(context.services.session_factory) as session:
        first = await first_sighting(session, update.update_id, now=utcnow())
    if not first:
        logger.warning("Ignored update %s: it was received before", update.update_id)
        raise ApplicationHandlerStop


async def _prune_job(context: BotContext) -> None:
    async with transaction(context.services.session_factory) as session:
        await prune(session, now=utcnow())


def install(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The check runs first for every update; old ids are pruned every hour."""
    application.add_handler(TypeHandler(Update, ignore_replays), group=GROUP)
    if application.job_queue is not None:
        application.job_queue.run_repeating(_prune_job, interval=PRUNE_EVERY_S, first=1.0,
                                            name=PRUNE_JOB)
    else:  # pragma: no cover - the job-queue extra is a dependency
        logger.warning("No job queue: seen update ids will not be pruned")
