"""/schedules, /schedule and /campaigns: staff manage recurring and one-off broadcasts.

Thin: parse, ask `bot.auth.can` (through `service.load_for` / `load_campaign_for`, which
also check the area scope) on every command and every press, call the service, render.
A refusal says so plainly and changes nothing; a forged or stale button gets a polite
"no longer valid".
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.auth import Permission, can
from bot.chats.service import TargetKind, link_targets
from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.directory.audience import AudienceSpec
from bot.schedules import callbacks as cb
from bot.schedules import keyboards, render, service
from bot.schedules.jobs import start_schedules
from bot.schedules.triggers import (
    TriggerError,
    TriggerKind,
    TriggerSpec,
    parse_date_time,
    parse_time,
    upcoming,
    validate,
)

logger = logging.getLogger(__name__)

DRAFT_KEY = "schedule_draft"
TIMEOUT = 15 * 60
MAX_TEXT = 1000


class ScheduleStep(enum.StrEnum):
    """What the composer waits for."""

    CHOOSING_REPEAT = "sch_choosing_repeat"
    CHOOSING_WEEKDAYS = "sch_choosing_weekdays"
    AWAITING_DATE_TIME = "sch_awaiting_date_time"
    AWAITING_MONTH_DAY = "sch_awaiting_month_day"
    AWAITING_TIME = "sch_awaiting_time"
    AWAITING_CRON = "sch_awaiting_cron"
    CHOOSING_AUDIENCE = "sch_choosing_audience"
    CHOOSING_CONTENT = "sch_choosing_content"
    AWAITING_TEXT = "sch_awaiting_text"
    CONFIRMING = "sch_confirming"


@dataclass
class Draft:
    """A schedule being made (or, with `editing`, an existing one being changed)."""

    editing: int | None = None
    kind: TriggerKind | None = None
    weekdays: set[int] = field(default_factory=set)
    day: int | None = None
    trigger: TriggerSpec | None = None
    audience: AudienceSpec | None = None
    audience_name: str = ""
    content: dict[str, Any] | None = None
    name: str = ""


def _draft(context: BotContext) -> Draft | None:
    return context.user_data.get(DRAFT_KEY) if context.user_data is not None else None


def _staff(context: BotContext) -> bool:
    return can(context.actor, Permission.BROADCAST)


async def _refuse(update: Update, context: BotContext) -> None:
    text = context._("Sorry, only community staff can manage scheduled messages.")
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)


async def _gone(update: Update, context: BotContext) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer(context._("This button is no longer valid."),
                                       show_alert=True)


# -- /schedules: the list and each schedule's card ----------------------------------------------

async def list_command(update: Update, context: BotContext) -> None:
    """/schedules: the schedules this person may manage, with their next three fires."""
    message = update.effective_message
    if message is None:
        return
    if not _staff(context):
        await _refuse(update, context)
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
        await _gone(update, context)
        return None
    if not _staff(context):
        await _refuse(update, context)
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
            await _gone(update, context)
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
            await service.delete_schedule(session, schedule, now=now)
            logger.info("Schedule %s deleted by person %s", schedule.id, context.actor.person_id,
                        extra={"schedule_id": schedule.id})
            await query.answer()
            await query.edit_message_text(_("Deleted: {name}.").format(
                name=render.schedule_name(schedule)))
            return None
        if press.action in ("p", "r"):
            await service.set_paused(session, schedule, paused=press.action == "p", now=now)
        view = await service.view_of(session, schedule, now=now)
    await query.answer(_("Paused.") if press.action == "p" else
                       _("Resumed.") if press.action == "r" else None)
    await query.edit_message_text(render.schedule_card(view, _),
                                  reply_markup=keyboards.schedule_card(view.schedule, _))
    return None


# -- /schedule: the composer ---------------------------------------------------------------

async def compose_command(update: Update, context: BotContext) -> ScheduleStep | int:
    """/schedule: start a new schedule; asks how often."""
    message = update.effective_message
    if message is None:
        return ConversationHandler.END
    if not _staff(context):
        await _refuse(update, context)
        return ConversationHandler.END
    if context.user_data is not None:
        context.user_data[DRAFT_KEY] = Draft()
    await message.reply_text(context._("New scheduled message. How often should it be sent?"),
                             reply_markup=keyboards.repeat_choices(context._))
    return ScheduleStep.CHOOSING_REPEAT


async def on_compose_button(update: Update, context: BotContext) -> ScheduleStep | int | None:
    """A composer button: repeat kind, weekday, audience, content, save or cancel."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context._
    press = cb.parse_compose(query.data)
    draft = _draft(context)
    if press is None or draft is None:
        await _gone(update, context)
        return None
    if not _staff(context):
        await _refuse(update, context)
        return None
    if press.cancel:
        return await _cancelled(update, context)
    await query.answer()
    if press.kind is not None:
        draft.kind = TriggerKind(press.kind)
        draft.weekdays = set()
        if draft.kind is TriggerKind.ONCE:
            await query.edit_message_text(_("Send the date and time, for example "
                                            "2025-03-05 08:30."))
            return ScheduleStep.AWAITING_DATE_TIME
        if draft.kind is TriggerKind.WEEKLY:
            await query.edit_message_text(_("On which days? Tap them, then Done."),
                                          reply_markup=keyboards.weekday_choices(set(), _))
            return ScheduleStep.CHOOSING_WEEKDAYS
        if draft.kind is TriggerKind.MONTHLY:
            await query.edit_message_text(_("On which day of the month (1–31)? Months without "
                                            "that day are skipped."))
            return ScheduleStep.AWAITING_MONTH_DAY
        if draft.kind is TriggerKind.CRON:
            await query.edit_message_text(_(
                "Send a cron expression: minute hour day month weekday. For example "
                "30 8 * * 1-5 is 08:30 Monday to Friday (0 and 7 are Sunday)."))
            return ScheduleStep.AWAITING_CRON
        await query.edit_message_text(_("At what time? For example 08:30."))
        return ScheduleStep.AWAITING_TIME
    if press.weekday is not None:
        draft.weekdays ^= {press.weekday}
        await query.edit_message_reply_markup(keyboards.weekday_choices(draft.weekdays, _))
        return ScheduleStep.CHOOSING_WEEKDAYS
    if press.weekdays_done:
        if not draft.weekdays:
            await query.answer(_("Please choose at least one day of the week."))
            return ScheduleStep.CHOOSING_WEEKDAYS
        await query.edit_message_text(_("At what time? For example 08:30."))
        return ScheduleStep.AWAITING_TIME
    if press.audience is not None:
        return await _audience_chosen(update, context, draft, press.audience)
    if press.content is not None:
        if press.content == "text":
            await query.edit_message_text(_("Send the text to schedule (a photo with a caption "
                                            "works too)."))
            return ScheduleStep.AWAITING_TEXT
        category = None if press.content == "any" else press.content
        if category is not None and category not in render.CATEGORY_NAMES:
            await _gone(update, context)
            return None
        draft.content = service.tip_content([category] if category else [])
        draft.name = render.content_text(draft.content, _)[:60]
        return await _confirm(update, context, draft)
    if press.save:
        return await _save(update, context, draft)
    return None


async def _trigger_ready(update: Update, context: BotContext, spec: TriggerSpec,
                         ) -> ScheduleStep | int | None:
    """The trigger is complete: validate it, then save an edit or ask for the audience."""
    message = update.effective_message
    draft = _draft(context)
    assert message is not None and draft is not None and context.actor is not None
    _ = context._
    timezone = context.services.settings.timezone
    try:
        validate(spec, timezone, now=utcnow())
    except TriggerError as exc:
        await message.reply_text(_(exc.msgid).format(detail=exc.detail))
        return None  # stay and ask again
    draft.trigger = spec
    if draft.editing is not None:
        now = utcnow()
        async with transaction(context.services.session_factory) as session:
            schedule = await service.load_for(session, actor=context.actor,
                                              schedule_id=draft.editing)
            if schedule is None:
                await message.reply_text(_("That schedule is no longer there."))
                return _end(context)
            await service.change_trigger(session, schedule, trigger=spec, now=now)
            view = await service.view_of(session, schedule, now=now)
        await message.reply_text(_("Saved.") + "\n\n" + render.schedule_card(view, _),
                                 reply_markup=keyboards.schedule_card(view.schedule, _))
        return _end(context)
    async with context.services.session_factory() as session:
        targets = await link_targets(session, actor=context.actor)
    if not targets:
        await message.reply_text(_("There is no team or area you can send to yet."))
        return _end(context)
    await message.reply_text(_("Who should receive it?"),
                             reply_markup=keyboards.audience_choices(targets, _))
    return ScheduleStep.CHOOSING_AUDIENCE


async def on_date_time(update: Update, context: BotContext) -> ScheduleStep | int | None:
    """A one-off's date and time; then the audience."""
    assert update.effective_message is not None and update.effective_message.text is not None
    when = parse_date_time(update.effective_message.text)
    if when is None:
        await update.effective_message.reply_text(context._(
            "Please send the date and time like 2025-03-05 08:30."))
        return None
    return await _trigger_ready(update, context, TriggerSpec(TriggerKind.ONCE, at=when.time(),
                                                             on=when.date()))


async def on_month_day(update: Update, context: BotContext) -> ScheduleStep | None:
    """A monthly schedule's day; then the time."""
    message = update.effective_message
    draft = _draft(context)
    assert message is not None and message.text is not None and draft is not None
    text = message.text.strip().removesuffix("日").removesuffix("号")
    if not text.isdigit() or not 1 <= int(text) <= 31:
        await message.reply_text(context._("Please send a number from 1 to 31."))
        return None
    draft.day = int(text)
    await message.reply_text(context._("At what time? For example 08:30."))
    return ScheduleStep.AWAITING_TIME


async def on_time(update: Update, context: BotContext) -> ScheduleStep | int | None:
    """The time of day of a daily, weekly or monthly schedule."""
    message = update.effective_message
    draft = _draft(context)
    assert message is not None and message.text is not None and draft is not None
    at = parse_time(message.text)
    if at is None or draft.kind is None:
        await message.reply_text(context._("Please send a time like 08:30."))
        return None
    return await _trigger_ready(update, context, TriggerSpec(
        draft.kind, at=at, weekdays=tuple(sorted(draft.weekdays)), day=draft.day))


async def on_cron(update: Update, context: BotContext) -> ScheduleStep | int | None:
    """A cron expression; validated with a message in the person's language."""
    assert update.effective_message is not None and update.effective_message.text is not None
    expression = " ".join(update.effective_message.text.split())
    return await _trigger_ready(update, context, TriggerSpec(TriggerKind.CRON, cron=expression))


async def _audience_chosen(update: Update, context: BotContext, draft: Draft,
                           choice: tuple[str, int]) -> ScheduleStep | None:
    query = update.callback_query
    assert query is not None and context.actor is not None
    kind, target_id = choice
    async with context.services.session_factory() as session:
        targets = await link_targets(session, actor=context.actor)
    target = next((t for t in targets if t.kind.value == kind and t.id == target_id), None)
    if target is None:
        await _gone(update, context)
        return None
    if target.kind is TargetKind.TEAM:
        draft.audience = AudienceSpec(team_ids={target.id}, include_linked_chats_of_teams=True)
    else:
        draft.audience = AudienceSpec(area_ids={target.id}, include_linked_chats_of_areas=True)
    draft.audience_name = keyboards.target_label(target, context._)
    await query.edit_message_text(context._("What should be sent?"),
                                  reply_markup=keyboards.content_choices(context._))
    return ScheduleStep.CHOOSING_CONTENT


async def on_text(update: Update, context: BotContext) -> ScheduleStep | int | None:
    """Own text (or a photo with a caption): save an edit, or go to the confirmation."""
    message = update.effective_message
    draft = _draft(context)
    assert message is not None and draft is not None and context.actor is not None
    _ = context._
    text = (message.text or message.caption or "").strip()
    photo = message.photo[-1].file_id if message.photo else None
    if not text and photo is None:
        await message.reply_text(_("Please send the text of the message."))
        return None
    if len(text) > MAX_TEXT:
        await message.reply_text(_("That is a bit long. Please keep it under {limit} "
                                   "characters.").format(limit=MAX_TEXT))
        return None
    if draft.editing is not None:
        now = utcnow()
        async with transaction(context.services.session_factory) as session:
            schedule = await service.load_for(session, actor=context.actor,
                                              schedule_id=draft.editing)
            if schedule is None:
                await message.reply_text(_("That schedule is no longer there."))
                return _end(context)
            await service.change_text(session, schedule, text=text, photo=photo, now=now)
            view = await service.view_of(session, schedule, now=now)
        await message.reply_text(_("Saved.") + "\n\n" + render.schedule_card(view, _),
                                 reply_markup=keyboards.schedule_card(view.schedule, _))
        return _end(context)
    draft.content = service.text_content(text, photo)
    draft.name = (text.splitlines()[0] if text else _("Photo"))[:40]
    return await _confirm(update, context, draft)


async def _confirm(update: Update, context: BotContext, draft: Draft) -> ScheduleStep:
    _ = context._
    assert draft.trigger is not None and draft.content is not None
    timezone = context.services.settings.timezone
    fires = upcoming(validate(draft.trigger, timezone, now=utcnow()), utcnow(), 3)
    text = "\n".join([
        _("Please check:"),
        render.trigger_text(draft.trigger, _),
        _("To: {audience}").format(audience=draft.audience_name),
        _("Sends {content}").format(content=render.content_text(draft.content, _)),
        render.next_fires_text(fires, timezone, _),
    ])
    if update.callback_query is not None:
        await update.callback_query.edit_message_text(text, reply_markup=keyboards.confirm(_))
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text, reply_markup=keyboards.confirm(_))
    return ScheduleStep.CONFIRMING


async def _save(update: Update, context: BotContext, draft: Draft) -> int | None:
    query = update.callback_query
    assert query is not None and context.actor is not None
    _ = context._
    if draft.trigger is None or draft.audience is None or draft.content is None:
        await _gone(update, context)
        return None
    now = utcnow()
    try:
        async with transaction(context.services.session_factory) as session:
            schedule = await service.create_schedule(
                session, actor=context.actor, author_id=context.actor.person_id, now=now,
                new=service.NewSchedule(name=draft.name, trigger=draft.trigger,
                                        audience=draft.audience, content=draft.content,
                                        timezone=context.services.settings.timezone))
            view = await service.view_of(session, schedule, now=now)
    except TriggerError as exc:
        await query.edit_message_text(_(exc.msgid).format(detail=exc.detail))
        return _end(context)
    except service.ScheduleRefused:
        await query.edit_message_text(_("Sorry, you cannot send to that audience."))
        return _end(context)
    logger.info("Schedule %s created by person %s", schedule.id, context.actor.person_id,
                extra={"schedule_id": schedule.id})
    await query.edit_message_text(_("Saved! /schedules lists it.") + "\n\n"
                                  + render.schedule_card(view, _),
                                  reply_markup=keyboards.schedule_card(view.schedule, _))
    return _end(context)


def _end(context: BotContext) -> int:
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)
    return ConversationHandler.END


async def _cancelled(update: Update, context: BotContext) -> int:
    text = context._("All right, nothing was changed.")
    if update.callback_query is not None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(text)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return _end(context)


async def cancel(update: Update, context: BotContext) -> int:
    """/cancel while composing or editing."""
    return await _cancelled(update, context)


async def reask(update: Update, context: BotContext) -> None:
    """Anything unexpected: re-ask kindly for the current step."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(context._(
            "Please answer the question above, or send /cancel to stop."))


async def timed_out(update: Update, context: BotContext) -> None:
    _end(context)


async def stale_compose(update: Update, context: BotContext) -> None:
    """A composer button outside a conversation (after a restart, or forged)."""
    if not _staff(context):
        await _refuse(update, context)
        return
    await _gone(update, context)


# -- /campaigns ------------------------------------------------------------------------------

async def campaigns_command(update: Update, context: BotContext) -> None:
    """/campaigns: the campaigns on now or coming, and buttons to start a preset."""
    message = update.effective_message
    if message is None:
        return
    if not _staff(context):
        await _refuse(update, context)
        return
    text, markup = await _campaign_screen(context)
    await message.reply_text(text, reply_markup=markup)


async def _campaign_screen(context: BotContext) -> tuple[str, Any]:
    assert context.actor is not None
    _ = context._
    async with context.services.session_factory() as session:
        active = await service.visible_campaigns(session, actor=context.actor, now=utcnow())
    lines = [_("Sensitive-period campaigns send extra reminders every day inside their dates.")]
    lines += [render.campaign_line(c, _) for c in active] or [_("No campaign is on now.")]
    return "\n".join(lines), keyboards.campaigns(active, _)


async def on_campaign_button(update: Update, context: BotContext) -> None:
    """Start a preset (then its length), end one early (then confirm), or back to the list."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context._
    press = cb.parse_campaign(query.data)
    if press is None or (press.preset is not None
                         and press.preset not in service.CAMPAIGN_PRESETS):
        await _gone(update, context)
        return
    if not _staff(context):
        await _refuse(update, context)
        return
    assert context.actor is not None
    actor = context.actor
    if press.listing:
        await query.answer()
        text, markup = await _campaign_screen(context)
        await query.edit_message_text(text, reply_markup=markup)
        return
    if press.preset is not None and press.days is None:
        preset = service.CAMPAIGN_PRESETS[press.preset]
        await query.answer()
        await query.edit_message_text(
            _("{name}: from today until when? Every day at {time} I will send the next "
              "anti-theft or anti-fraud tip.").format(name=_(preset.name),
                                                      time=preset.at.strftime("%H:%M")),
            reply_markup=keyboards.campaign_lengths(preset, _))
        return
    now = utcnow()
    if press.preset is not None and press.days is not None:
        preset = service.CAMPAIGN_PRESETS[press.preset]
        if press.days not in preset.lengths:
            await _gone(update, context)
            return
        timezone = context.services.settings.timezone
        today = now.astimezone(context.services.settings.tz).date()
        try:
            async with transaction(context.services.session_factory) as session:
                area_id = None if actor.is_admin else await service.actor_area_id(session, actor)
                if area_id is None and not actor.is_admin:
                    raise service.ScheduleRefused
                campaign, schedule = await service.create_campaign(
                    session, actor=actor, author_id=actor.person_id, name=_(preset.name),
                    preset=preset.key, area_id=area_id, starts_on=today,
                    ends_on=today + timedelta(days=press.days - 1), timezone=timezone,
                    at=preset.at, categories=preset.categories,
                    audience=await service.campaign_audience(session, area_id=area_id), now=now)
                view = await service.view_of(session, schedule, now=now)
        except (service.ScheduleRefused, TriggerError):
            await query.answer(_("Sorry, you cannot start a campaign here."), show_alert=True)
            return
        logger.info("Campaign %s started by person %s", campaign.id, actor.person_id)
        await query.answer()
        await query.edit_message_text("\n".join([
            _("Started!"), render.campaign_line(campaign, _),
            render.next_fires_text(view.next_fires, timezone, _)]))
        return
    assert press.campaign_id is not None
    async with transaction(context.services.session_factory) as session:
        campaign = await service.load_campaign_for(session, actor=actor,
                                                   campaign_id=press.campaign_id)
        if campaign is None or not service.campaign_active(campaign, now=now):
            await _gone(update, context)
            return
        if press.end:
            await query.answer()
            await query.edit_message_text(
                _("End {name} now? Its reminders stop at once.").format(name=campaign.name),
                reply_markup=keyboards.confirm_end(campaign, _))
            return
        await service.end_campaign(session, campaign, now=now)
    await query.answer()
    await query.edit_message_text(_("Ended: {name}.").format(name=campaign.name))


# -- wiring ------------------------------------------------------------------------------------

def handlers() -> list[BaseHandler[Any, Any, Any]]:
    private = filters.ChatType.PRIVATE
    compose = CallbackQueryHandler(on_compose_button, pattern=r"^scn:")
    text = filters.TEXT & ~filters.COMMAND
    catch_all = MessageHandler(filters.ALL & ~filters.COMMAND, reask)
    conversation = ConversationHandler(
        entry_points=[
            CommandHandler("schedule", compose_command, filters=private),
            CallbackQueryHandler(on_schedule_button, pattern=r"^sch:[tx]:"),
        ],
        states={
            ScheduleStep.CHOOSING_REPEAT: [compose, catch_all],
            ScheduleStep.CHOOSING_WEEKDAYS: [compose, catch_all],
            ScheduleStep.AWAITING_DATE_TIME: [MessageHandler(text, on_date_time), compose,
                                              catch_all],
            ScheduleStep.AWAITING_MONTH_DAY: [MessageHandler(text, on_month_day), compose,
                                              catch_all],
            ScheduleStep.AWAITING_TIME: [MessageHandler(text, on_time), compose, catch_all],
            ScheduleStep.AWAITING_CRON: [MessageHandler(text, on_cron), compose, catch_all],
            ScheduleStep.CHOOSING_AUDIENCE: [compose, catch_all],
            ScheduleStep.CHOOSING_CONTENT: [compose, catch_all],
            ScheduleStep.AWAITING_TEXT: [MessageHandler(text | filters.PHOTO, on_text), compose,
                                         catch_all],
            ScheduleStep.CONFIRMING: [compose, catch_all],
            ConversationHandler.TIMEOUT: [MessageHandler(filters.ALL, timed_out)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        conversation_timeout=TIMEOUT,
        name="schedule-compose",
    )
    return [
        conversation,
        CallbackQueryHandler(stale_compose, pattern=r"^scn:"),
        CallbackQueryHandler(on_schedule_button, pattern=r"^sch:"),
        CallbackQueryHandler(on_campaign_button, pattern=r"^cmp:"),
        CommandHandler("schedules", list_command),
        CommandHandler("campaigns", campaigns_command),
    ]


def install(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the handlers, and start the runner after the application's own post_init
    (so the dispatcher it wakes exists)."""
    application.add_handlers(handlers())
    previous = application.post_init

    async def post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        if previous is not None:
            await previous(app)
        await start_schedules(app)

    application.post_init = post_init


__all__ = ["ScheduleStep", "handlers", "install", "start_schedules"]
