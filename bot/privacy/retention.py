"""Retention (PIPL art. 47): what has served its purpose is deleted by a daily job.

A closed report's photos and voice notes (and their copies under MEDIA_DIR) go
MEDIA_KEEP_DAYS after it closed; the report itself stays as a fact for the figures. The
data of someone who left goes LEFT_KEEP_DAYS after they left, as forget-me deletes it.
The monthly figures' charts and workbooks under FIGURES_DIR go FIGURES_KEEP after they were
made, unless a delivery still waits to send them (the staff have their copies in Telegram).
What is due comes from database columns (`closed_at`, `media_deleted_at`, `left_at`), so
a restart loses nothing and a second run finds nothing left to do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application

from bot.audit import record
from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.directory.models import Person, PersonStatus
from bot.persistence import forget_in_memory
from bot.privacy.service import forget
from bot.tipoffs.models import OPEN_STATUSES, TipOff, TipOffDraft, TipOffPhoto
from broadcasts.models import Broadcast, Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

JOB = "retention"
DAY_S = 24 * 3600
#: `services.extras[CLOCK_KEY]`: a `() -> datetime` (UTC) the job counts in; tests set it.
CLOCK_KEY = "retention.clock"
#: How long the monthly figures' files are kept: past the next month's meeting.
FIGURES_KEEP = timedelta(days=62)


@dataclass
class Deleted:
    reports: int = 0  # reports whose media went
    files: int = 0  # files removed under MEDIA_DIR
    people: int = 0  # people who left, forgotten
    figures: int = 0  # monthly figures' files removed under FIGURES_DIR


def _unlink(path: Path, media_dir: Path) -> bool:
    """Remove a file only if it lies under `media_dir` (a stored path is never trusted)."""
    try:
        if not path.resolve().is_relative_to(media_dir.resolve()):
            return False
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError:
        logger.warning("Could not delete an expired media file", exc_info=True)
        return False
    return True


async def _kept_paths(session: AsyncSession) -> set[str]:
    """Files still referenced by a report's photo or a draft."""
    kept = {p for p in await session.scalars(
        select(TipOffPhoto.local_path).where(TipOffPhoto.local_path.is_not(None))) if p}
    for photos in await session.scalars(select(TipOffDraft.photos)):
        kept.update(p["local_path"] for p in photos or [] if p.get("local_path"))
    return kept


async def delete_media(session: AsyncSession, *, now: datetime, keep: timedelta,
                       media_dir: Path) -> Deleted:
    """Photos, voice notes and their copies of reports closed at least `keep` ago; and
    copies under `media_dir` no row refers to any more (a draft put aside) as old."""
    out = Deleted()
    due = list(await session.scalars(
        select(TipOff.id).where(TipOff.status.not_in(OPEN_STATUSES),
                                TipOff.closed_at <= now - keep,
                                TipOff.media_deleted_at.is_(None)).order_by(TipOff.id)))
    paths: set[str] = set()
    for tipoff_id in due:
        paths.update(p for p in await session.scalars(
            select(TipOffPhoto.local_path).where(TipOffPhoto.tipoff_id == tipoff_id)) if p)
        await session.execute(delete(TipOffPhoto).where(TipOffPhoto.tipoff_id == tipoff_id))
        await session.execute(update(TipOff).where(TipOff.id == tipoff_id)
                              .values(voice_file_id=None, media_deleted_at=now))
        await record(session, actor_id=None, action="tipoff.media_deleted",
                     object_type="tipoff", object_id=tipoff_id, reason="retention")
        out.reports += 1
    kept = await _kept_paths(session)
    out.files = await asyncio.to_thread(_remove_files, paths - kept, kept, media_dir,
                                        (now - keep).timestamp())
    return out


def _remove_files(paths: set[str], kept: set[str], media_dir: Path, cutoff: float) -> int:
    """Blocking: the given files, then unreferenced ones last written before `cutoff`."""
    removed = sum(_unlink(Path(path), media_dir) for path in sorted(paths))
    if media_dir.is_dir():
        for path in media_dir.iterdir():
            if (path.is_file() and str(path) not in kept and path.stat().st_mtime <= cutoff
                    and _unlink(path, media_dir)):
                removed += 1
    return removed


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


async def delete_old_figures(session: AsyncSession, *, now: datetime,
                             figures_dir: Path) -> int:
    """The files under `figures_dir` made FIGURES_KEEP ago or before, but those a pending
    delivery still refers to; how many went."""
    waiting = await session.scalars(select(Broadcast.content).where(exists().where(
        Delivery.broadcast_id == Broadcast.id, Delivery.status == DeliveryStatus.PENDING)))
    in_use = {text for content in waiting for text in _strings(content)}
    return await asyncio.to_thread(_remove_files, set(), in_use, figures_dir,
                                   (now - FIGURES_KEEP).timestamp())


async def forget_who_left(session: AsyncSession, *, now: datetime,
                          keep: timedelta) -> list[int | None]:
    """Forget everyone who left at least `keep` ago (`forget` clears `left_at`); their
    Telegram ids (None for someone who never had one)."""
    due = (await session.execute(
        select(Person.id, Person.telegram_id).where(Person.status == PersonStatus.LEFT,
                                                    Person.left_at <= now - keep)
        .order_by(Person.id))).all()
    for person_id, _telegram_id in due:
        await forget(session, person_id=person_id, actor_id=None, now=now)
    return [telegram_id for _person_id, telegram_id in due]


def current_time(context: BotContext) -> datetime:
    clock: Callable[[], datetime] = context.services.extras.get(CLOCK_KEY, utcnow)
    return clock()


async def run(context: BotContext) -> None:
    """The daily job."""
    settings = context.services.settings
    now = current_time(context)
    async with transaction(context.services.session_factory) as session:
        out = await delete_media(session, now=now,
                                 keep=timedelta(days=settings.media_keep_days),
                                 media_dir=settings.media_dir)
        forgotten = await forget_who_left(session, now=now,
                                          keep=timedelta(days=settings.left_keep_days))
        out.figures = await delete_old_figures(session, now=now,
                                               figures_dir=settings.figures_dir)
    out.people = len(forgotten)
    forget_in_memory(context.application, forgotten)
    if out.reports or out.files or out.people or out.figures:
        logger.info("Retention: media of %d reports (%d files), %d people who left and %d "
                    "monthly figures' files deleted", out.reports, out.files, out.people,
                    out.figures)


def install(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Daily, and once soon after start (a bot restarted every night still runs it)."""
    if application.job_queue is not None:
        application.job_queue.run_repeating(run, interval=DAY_S, first=60.0, name=JOB)
    else:  # pragma: no cover - the job-queue extra is a dependency
        logger.warning("No job queue: retention will not delete old media")


__all__ = ["CLOCK_KEY", "FIGURES_KEEP", "JOB", "Deleted", "delete_media", "delete_old_figures",
           "forget_who_left", "install", "run"]
