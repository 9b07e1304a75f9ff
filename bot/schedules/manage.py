"""/schedules: the list, each schedule's card, pause, resume, delete, and the way into
"change time" / "change text" (which continue in the composer's steps)."""

from __future__ import annotations

import logging

from telegram import Update

from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.schedules import callbacks as cb
from bot.schedules import keyboards, render, service
from bot.schedules.common import actor_id, gone, is_staff, refuse, staff_message
from bot.schedules.compose import DRAFT_KEY, Draft, ScheduleStep

logger = logging.getLogger(__name__)

async def list_command(update: Update, context: BotContext) -> None:
    """/schedules: the schedules this person may manage, with their next three fires."""
    message = await staff_message(update, context)
    if message is None:
        return
    assert context.actor is not None
    async with context.services.session_factory() as session:
        views = await service.visible_schedules(session, actor=context.actor, now=utcnow())
    await message.reply_text(render.schedule_list(views, context._),
                             reply_markup=keyboards.schedule_list([v.schedule for v in views]))


async def on_schedule_button(update: Update, context: BotContext) -> ScheduleStep | None:
    """A press on the list or a card: open, pause, resume, delete — if this person may."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context._
    press = cb.parse_schedule(query.data)
    if press is None:
        await gone(update, context)
        return None
    if not is_staff(context):
        await refuse(update, context)
        return None
    assert context.actor is not None
    now = utcnow()
    if press.action == "l":
        async with context.services.session_factory() as session:
            views = await service.visible_schedules(session, actor=context.actor, now=now)
        await query.answer()
        await query.edit_message_text(render.schedule_list(views, _),
                                      reply_markup=keyboards.schedule_list(
                                          [v.schedule for v in views]))
        return None
    assert press.schedule_id is not None
    async with transaction(context.services.session_factory) as session:
        schedule = await service.load_for(session, actor=context.actor,
                                          schedule_id=press.schedule_id)
        if schedule is None:
            await gone(update, context)
            return None
        if press.action in ("t", "x"):
            await query.answer()
            if context.user_data is not None:
                context.user_data[DRAFT_KEY] = Draft(editing=schedule.id)
            if press.action == "t":
                await query.edit_message_text(
                    _("New time for {name}: how often should it be sent?").format(
                        name=render.schedule_name(schedule)),
                    reply_markup=keyboards.repeat_choices(_))
                return ScheduleStep.CHOOSING_REPEAT
            await query.edit_message_text(
                _("Send the new text for {name} (or /cancel).").format(
                    name=render.schedule_name(schedule)))
            return ScheduleStep.AWAITING_TEXT
        if press.action == "d":
            await query.answer()
            await query.edit_message_text(
                _("Delete {name}? It will not be sent again.").format(
                    name=render.schedule_name(schedule)),
                reply_markup=keyboards.confirm_delete(schedule, _))
            return None
        if press.action == "D":
            await service.delete_schedule(session, schedule, now=now,
                                          actor_id=actor_id(context))
            logger.info("Schedule %s deleted by person %s", schedule.id, context.actor.person_id,
                        extra={"schedule_id": schedule.id})
            await query.answer()
            await query.edit_message_text(_("Deleted: {name}.").format(
                name=render.schedule_name(schedule)))
            return None
        if press.action in ("p", "r"):
            await service.set_paused(session, schedule, paused=press.action == "p", now=now,
                                     actor_id=actor_id(context))
        view = await service.view_of(session, schedule, now=now)
    await query.answer(_("Paused.") if press.action == "p" else
                       _("Resumed.") if press.action == "r" else None)
    await query.edit_message_text(render.schedule_card(view, _),
                                  reply_markup=keyboards.schedule_card(view.schedule, _))
    return None

