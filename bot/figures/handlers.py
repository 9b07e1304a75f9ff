"""/figures: staff see their area (or a community or grid below it), leaders their teams;
a period, then one short message, four charts and a workbook. Every press is authorized
again: the target in the button is only a request."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InputFile, InputMediaPhoto, Message, Update
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler

from bot.auth import Actor, Permission, Standing, can
from bot.context import BotContext
from bot.db import utcnow
from bot.directory.handlers import refuse, stale
from bot.directory.models import Area, Team
from bot.figures import callbacks as cb
from bot.figures import keyboards, monthly, periods, render, service, workbook
from bot.figures.counting import Scope
from bot.figures.periods import Period
from bot.figures.tipoffs import child_areas
from bot.handler_utils import in_private, parsed_press
from bot.i18n import Translate

logger = logging.getLogger(__name__)

#: `services.extras` key of a test's clock.
CLOCK_KEY = "figures_clock"
MONTHLY_JOB = "figures-monthly"
#: How often the monthly report is looked for (it is due once, on the 1st).
MONTHLY_SCAN_S = 600
MAX_PLACES = 30


def current_time(context: BotContext) -> datetime:
    clock: Callable[[], datetime] = context.services.extras.get(CLOCK_KEY, utcnow)
    return clock()


@dataclass(frozen=True)
class Resolved:
    """A target the actor may see: its scope, its name, and what the menu offers."""

    target: cb.Target
    scope: Scope
    name: str
    places_below: bool = False
    teams: list[tuple[int, str]] = field(default_factory=list)


def default_target(actor: Actor) -> cb.Target | None:
    """Staff: their area (administrators without one: everywhere); leaders: their team, or
    all the teams they lead together."""
    if actor.standing >= Standing.STAFF:
        if actor.area_path:
            return cb.Target("a", int(actor.area_path.strip("/").split("/")[-1]))
        if actor.is_admin:
            return cb.Target("a", 0)
    if actor.led_team_ids:
        led = sorted(actor.led_team_ids)
        return cb.Target("t", led[0] if len(led) == 1 else 0)
    return None


async def resolve(session: AsyncSession, actor: Actor, target: cb.Target,
                  _: Translate) -> Resolved | None:
    """The target's scope when the actor may see its figures, else None."""
    if target.kind == "a":
        if target.id == 0:
            if not actor.is_admin:
                return None
            path, name = "/", _("All areas")
        else:
            area = await session.get(Area, target.id)
            if area is None or area.archived or not can(actor, Permission.VIEW_FIGURES,
                                                        area_path=area.path):
                return None
            path, name = area.path, area.name
        below = await child_areas(session, path=path)
        return Resolved(target, Scope(area_path=path), name, places_below=bool(below))
    if target.id == 0:
        teams = [(team_id, name) for team_id, name in (await session.execute(
            select(Team.id, Team.name).where(Team.id.in_(actor.led_team_ids),
                                             Team.archived.is_(False))
            .order_by(Team.name))).all()]
        if not teams:
            return None
        return Resolved(target, Scope(team_ids=frozenset(t for t, _n in teams)),
                        "、".join(n for _t, n in teams), teams=teams if len(teams) > 1 else [])
    found = (await session.execute(
        select(Team.id, Team.name, Team.archived, Area.path)
        .join(Area, Area.id == Team.area_id).where(Team.id == target.id))).first()
    if found is None or found.archived or not can(actor, Permission.VIEW_FIGURES,
                                                  team_id=found.id, area_path=found.path):
        return None
    return Resolved(target, Scope(team_ids=frozenset({found.id})), found.name)


def period_for(code: str, *, tz: ZoneInfo, now: datetime) -> Period | None:
    if code == "tm":
        return periods.this_month(tz=tz, now=now)
    if code == "lm":
        return periods.last_month(tz=tz, now=now)
    if code == "ty":
        return periods.this_year(tz=tz, now=now)
    period = periods.month_period(int(code[1:5]), int(code[5:7]), tz=tz, now=now)
    return period if period.start <= now else None


def _menu_text(resolved: Resolved, _: Translate) -> str:
    return _("📊 Figures for {name}. Which period?").format(name=resolved.name)


def _menu(resolved: Resolved, _: Translate) -> Any:
    return keyboards.period_menu(resolved.target, _, places_below=resolved.places_below,
                                 teams=resolved.teams)


async def _viewer(update: Update, context: BotContext) -> Actor | None:
    """The actor if they may see figures, asking in a private chat; else refuse or say
    where to ask, and None."""
    actor = context.actor
    if actor is None or not can(actor, Permission.VIEW_FIGURES):
        await refuse(update, context)
        return None
    if not await in_private(update, context):
        return None
    return actor


async def figures_command(update: Update, context: BotContext) -> None:
    """/figures: the period menu for the sender's area or team."""
    message = update.effective_message
    if message is None:
        return
    _ = context._
    actor = await _viewer(update, context)
    if actor is None:
        return
    target = default_target(actor)
    async with context.services.session_factory() as session:
        resolved = await resolve(session, actor, target, _) if target is not None else None
    if resolved is None:
        await refuse(update, context)
        return
    await message.reply_text(_menu_text(resolved, _), reply_markup=_menu(resolved, _))


async def on_button(update: Update, context: BotContext) -> None:
    """A period, a month, a place below or a team: checked again, then shown."""
    pressed = await parsed_press(update, context, cb.parse)
    if pressed is None:
        return
    query, press = pressed
    _ = context._
    actor = await _viewer(update, context)
    if actor is None:
        return
    message = query.message if isinstance(query.message, Message) else None
    settings = context.services.settings
    now = current_time(context)
    async with context.services.session_factory() as session:
        resolved = await resolve(session, actor, press.target, _)
        if resolved is None:
            await refuse(update, context)
            return
        if press.action is not cb.Action.SHOW:
            markup: Any
            if press.action is cb.Action.PICK_MONTH:
                markup = keyboards.month_picker(resolved.target, _, context.language,
                                                tz=settings.tz, now=now)
            elif press.action is cb.Action.PICK_PLACE and resolved.scope.area_path:
                places = [(int(path.strip("/").split("/")[-1]), name) for path, name in
                          await child_areas(session, path=resolved.scope.area_path)]
                markup = keyboards.place_picker(resolved.target, places[:MAX_PLACES], _)
            else:
                markup = _menu(resolved, _)
            await query.answer()
            if message is not None:
                await message.edit_text(_menu_text(resolved, _), reply_markup=markup)
            return
        assert press.period is not None
        period = period_for(press.period, tz=settings.tz, now=now)
        if period is None:
            await stale(update, context)
            return
        await query.answer(_("Counting…"))
        report = await service.collect(
            session, scope=resolved.scope, period=period,
            previous=periods.previous(period, tz=settings.tz),
            months=periods.months_back(count=12, tz=settings.tz, now=now, ending=period))
    await send_report(context, chat_id=query.from_user.id, report=report, name=resolved.name,
                      language=context.language, tz=settings.tz)


async def send_report(context: BotContext, *, chat_id: int, report: service.Report, name: str,
                      language: str, tz: ZoneInfo) -> None:
    """The message, the charts (made in a worker thread) and the workbook."""
    _ = context.tr(language)
    await context.bot.send_message(chat_id, render.figures_text(report, scope_name=name, _=_,
                                                                language=language, tz=tz))
    from bot.figures import charts  # matplotlib: a second to import, so only to draw

    try:
        pngs = await asyncio.to_thread(charts.render_charts, report, language=language)
    except charts.NoCjkFont:
        logger.warning("No CJK font installed: figures sent without charts")
        pngs = []
    if pngs:
        await context.bot.send_media_group(chat_id, [
            InputMediaPhoto(png, filename=f"figures-{i + 1}.png")
            for i, png in enumerate(pngs)])
    data = await asyncio.to_thread(workbook.build_workbook, report, scope_name=name,
                                   language=language, tz=tz)
    stamp = (f"{report.period.year}-{report.period.month:02d}" if report.period.month
             else f"{report.period.year}")
    await context.bot.send_document(
        chat_id, InputFile(io.BytesIO(data), filename=f"figures-{stamp}.xlsx"),
        caption=_("The figures and the rows behind them, for the meeting. No reporter is "
                  "named in it."))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("figures", figures_command),
        CallbackQueryHandler(on_button, pattern=r"^fg:"),
    ]


async def monthly_job(context: BotContext) -> None:
    """Queue last month's report where it is due and not yet sent (see `monthly`)."""
    queued = await monthly.run(context.services.session_factory,
                               settings=context.services.settings, now=current_time(context))
    if queued and context.services.dispatcher is not None:
        context.services.dispatcher.wake()


def schedule(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The monthly report's timer; its idempotency is in the outbox, so a restart sends
    nothing twice (and a report missed while the bot was down goes at its next look)."""
    if application.job_queue is not None:
        application.job_queue.run_repeating(monthly_job, interval=MONTHLY_SCAN_S,
                                            first=MONTHLY_SCAN_S, name=MONTHLY_JOB)
    else:  # pragma: no cover - the job-queue extra is a dependency
        logger.warning("No job queue: the monthly figures will not be sent")
