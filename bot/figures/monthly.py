"""The monthly report: on the 1st at FIGURES_MONTHLY_AT (local time, TIMEZONE) each
community's staff get last month's figures of their community, and the admins those of
their street office — the message, the charts and the workbook, through the outbox.

Sent once per month and area across restarts: the three broadcasts carry the outbox's
idempotency key (`schedule_key` = "figures-monthly:<area>:<part>", `fire_at` = when the
month's report was due), so a second run finds them and queues nothing. A bot that was
down at 09:00 sends the report when it is back, later that month.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import transaction
from bot.directory.models import Area, AreaKind, Person, PersonStatus, Role
from bot.figures import periods, render, service, workbook
from bot.figures.counting import Scope
from bot.i18n import normalize_language, translator
from bot.settings import Settings
from broadcasts import OutgoingMessage, Priority, enqueue_broadcast
from broadcasts.models import Broadcast

logger = logging.getLogger(__name__)

KEY = "figures-monthly"
PARTS = ("text", "charts", "workbook")


def due_at(settings: Settings, now: datetime) -> datetime:
    """When this month's report (of last month) is due: the 1st at the set local time."""
    local = now.astimezone(settings.tz)
    first = local.replace(day=1, hour=settings.figures_monthly_at.hour,
                          minute=settings.figures_monthly_at.minute, second=0, microsecond=0)
    return first.astimezone(UTC)


@dataclass(frozen=True)
class Unit:
    """One report: an area (a community, or a street office) and who gets it."""

    area: Area
    recipients: list[tuple[int, str]]


async def _people(session: AsyncSession, *, role: Role, area: Area, with_unplaced: bool,
                  default_language: str) -> list[tuple[int, str]]:
    in_area = Area.path.startswith(area.path, autoescape=True)
    where = or_(Person.area_id.is_(None), Person.area_id.in_(select(Area.id).where(in_area))) \
        if with_unplaced else Person.area_id.in_(select(Area.id).where(in_area))
    rows = (await session.execute(
        select(Person.telegram_id, Person.language, Person.telegram_language)
        .where(Person.role == role, Person.status == PersonStatus.ACTIVE,
               Person.telegram_id.is_not(None), where))).all()
    return [(r.telegram_id, r.language or normalize_language(r.telegram_language,
                                                             default_language))
            for r in rows]


async def units(session: AsyncSession, *, default_language: str) -> list[Unit]:
    """Each community with its staff; each street office with its admins (admins with no
    area get every street office's)."""
    found: list[Unit] = []
    for area in await session.scalars(
            select(Area).where(Area.kind.in_((AreaKind.COMMUNITY, AreaKind.STREET_OFFICE)),
                               Area.archived.is_(False)).order_by(Area.path)):
        if area.kind is AreaKind.COMMUNITY:
            recipients = await _people(session, role=Role.STAFF, area=area,
                                       with_unplaced=False, default_language=default_language)
        else:
            recipients = await _people(session, role=Role.ADMIN, area=area,
                                       with_unplaced=True, default_language=default_language)
        if recipients:
            found.append(Unit(area, recipients))
    return found


async def _sent(session: AsyncSession, *, area_id: int, fire_at: datetime) -> bool:
    return await session.scalar(select(Broadcast.id).where(
        Broadcast.schedule_key == f"{KEY}:{area_id}:{PARTS[0]}",
        Broadcast.fire_at == fire_at)) is not None


def _files(report: service.Report, *, area: Area, language: str, directory: Path,
           settings: Settings) -> tuple[str, list[str], str]:
    """The message, the charts' and the workbook's paths (written here, uploaded by the
    outbox); CPU-bound, so run in a worker thread."""
    _ = translator(language)
    text = render.figures_text(report, scope_name=area.name, _=_, language=language,
                               tz=settings.tz)
    stem = f"figures-{report.period.year}-{report.period.month:02d}-{area.id}-{language}"
    directory.mkdir(parents=True, exist_ok=True)
    from bot.figures import charts  # matplotlib: a second to import, so only to draw

    try:
        pngs = charts.render_charts(report, language=language)
    except charts.NoCjkFont:
        logger.warning("No CJK font installed: the monthly figures go without charts")
        pngs = []
    chart_paths = []
    for i, png in enumerate(pngs):
        path = directory / f"{stem}-{i + 1}.png"
        path.write_bytes(png)
        chart_paths.append(str(path))
    book = directory / f"{stem}.xlsx"
    book.write_bytes(workbook.build_workbook(report, scope_name=area.name, language=language,
                                             tz=settings.tz))
    return text, chart_paths, str(book)


async def run(session_factory: async_sessionmaker[AsyncSession], *, settings: Settings,
              now: datetime) -> int:
    """Queue last month's report for every area not yet sent it this month; how many."""
    fire_at = due_at(settings, now)
    if now < fire_at:
        return 0
    period = periods.last_month(tz=settings.tz, now=now)
    queued = 0
    async with session_factory() as session:
        todo = [u for u in await units(session, default_language=settings.default_language)
                if not await _sent(session, area_id=u.area.id, fire_at=fire_at)]
    for unit in todo:
        async with session_factory() as session:
            report = await service.collect(
                session, scope=Scope(area_path=unit.area.path), period=period,
                previous=periods.previous(period, tz=settings.tz),
                months=periods.months_back(count=12, tz=settings.tz, now=now, ending=period))
        languages = list(dict.fromkeys(language for _chat, language in unit.recipients))
        made = {language: await asyncio.to_thread(
                    _files, report, area=unit.area, language=language,
                    directory=settings.figures_dir, settings=settings)
                for language in languages}
        parts: dict[str, dict[str, OutgoingMessage]] = {part: {} for part in PARTS}
        for language, (text, chart_paths, book) in made.items():
            _ = translator(language)
            parts["text"][language] = OutgoingMessage(text=text)
            if len(chart_paths) > 1:
                parts["charts"][language] = OutgoingMessage(album=tuple(chart_paths))
            elif chart_paths:
                parts["charts"][language] = OutgoingMessage(photo=chart_paths[0])
            parts["workbook"][language] = OutgoingMessage(
                document=book, text=_("Last month's figures and the rows behind them, for "
                                      "the meeting. No reporter is named in it."))
        async with transaction(session_factory) as session:
            for part in PARTS:
                if not parts[part]:
                    continue
                queued_part = await enqueue_broadcast(
                    session, kind="figures_monthly", priority=Priority.NORMAL,
                    content=parts[part], recipients=unit.recipients,
                    audience={"area_ids": [unit.area.id]},
                    schedule_key=f"{KEY}:{unit.area.id}:{part}", fire_at=fire_at)
                if queued_part is None:  # another run got there first: it sent all three
                    break
            else:
                queued += 1
        logger.info("Monthly figures of area %s queued for %s", unit.area.id,
                    f"{period.year}-{period.month:02d}")
    return queued
