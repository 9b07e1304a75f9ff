"""/schedule, and the trigger steps other conversations enter with a prepared draft.

The trigger steps ask how often (once / every day / every week / every month / cron), then
which days, which day of the month, what time, a date and time, or a cron expression. Three
ways lead into them, told apart by the `Draft`:

- /schedule: a fresh draft; after the trigger come the audience, the content, a check, save;
- "Change time" on a schedule's card: `editing` is set; the new trigger is saved at once;
- /broadcast's "🕒 Schedule" button (`begin_prepared`): kind, audience and content come from
  the broadcast composer (`prepared`); the schedule is saved as soon as the trigger is
  complete, and the reply shows its next three fire times.

`trigger_states()` gives the steps' handlers for any ConversationHandler (the /schedule
conversation and the /broadcast one both use it). Every button press and every answer asks
`bot.auth.can` again; saving asks `may_target` (in `service.create_schedule`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import CallbackQuery, Message, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.audit.service import record
from bot.chats.service import TargetKind, link_targets
from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.directory.audience import AudienceSpec
from bot.persistence import InstanceSafeConversationHandler
from bot.schedules import callbacks as cb
from bot.schedules import keyboards, render, service
from bot.schedules.common import actor_id, gone, is_staff, refuse, staff_message
from bot.schedules.models import Schedule
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
    """A schedule being made: fresh (/schedule), `editing` an existing one, or `prepared`
    (audience, content and `message_kind` chosen elsewhere; only the trigger is asked)."""

    editing: int | None = None
    kind: TriggerKind | None = None
    weekdays: set[int] = field(default_factory=set)
    day: int | None = None
    trigger: TriggerSpec | None = None
    audience: AudienceSpec | None = None
    audience_name: str = ""
    content: dict[str, Any] | None = None
    name: str = ""
    prepared: bool = False
    message_kind: str | None = None  # a BroadcastKind value; None: from the content


def _draft(context: BotContext) -> Draft | None:
    draft = context.user_data.get(DRAFT_KEY) if context.user_data is not None else None
    return draft if isinstance(draft, Draft) else None


def discard_draft(context: BotContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)


def _end(context: BotContext) -> int:
    discard_draft(context)
    return ConversationHandler.END


# -- entering the trigger steps ----------------------------------------------------------------

async def compose_command(update: Update, context: BotContext) -> ScheduleStep | int:
    """/schedule: start a new schedule; asks how often."""
    message = await staff_message(update, context)
    if message is None:
        return ConversationHandler.END
    if context.user_data is not None:
        context.user_data[DRAFT_KEY] = Draft()
    await message.reply_text(context._("New scheduled message. How often should it be sent?"),
                             reply_markup=keyboards.repeat_choices(context._))
    return ScheduleStep.CHOOSING_REPEAT


async def begin_prepared(update: Update, context: BotContext, *, message_kind: str,
                         audience: AudienceSpec, audience_name: str, content: dict[str, Any],
                         name: str) -> ScheduleStep | int:
    """Enter the trigger steps with what another composer chose (called on a button press
    the caller has authorized): store the prepared draft, ask how often, in place."""
    query = update.callback_query
    assert query is not None
    if context.user_data is None:  # pragma: no cover - private chats always have user data
        return ConversationHandler.END
    context.user_data[DRAFT_KEY] = Draft(prepared=True, message_kind=message_kind,
                                         audience=audience, audience_name=audience_name,
                                         content=content, name=name[:60])
    await query.answer()
    await query.edit_message_text(context._("When should it be sent?"),
                                  reply_markup=keyboards.repeat_choices(context._))
    return ScheduleStep.CHOOSING_REPEAT


# -- the trigger steps -------------------------------------------------------------------------

async def _press(update: Update, context: BotContext, *, after_trigger: bool,
                 ) -> tuple[CallbackQuery, cb.ComposePress, Draft] | None:
    """A composer press with its draft if staff may still go on; else say why and None.
    A draft prepared by another composer has no steps after the trigger."""
    query = update.callback_query
    assert query is not None and query.data is not None
    press = cb.parse_compose(query.data)
    draft = _draft(context)
    if press is None or draft is None or (after_trigger and draft.prepared):
        await gone(update, context)
        return None
    if not is_staff(context):
        await refuse(update, context)
        return None
    return query, press, draft


async def on_trigger_button(update: Update, context: BotContext) -> ScheduleStep | int | None:
    """How often (then the matching question), a weekday toggled, weekdays done, or cancel."""
    pressed = await _press(update, context, after_trigger=False)
    if pressed is None:
        return None
    query, press, draft = pressed
    _ = context._
    if press.cancel:
        return await _cancelled(update, context)
    if press.kind is not None:
        await query.answer()
        draft.kind = TriggerKind(press.kind)
        draft.weekdays = set()
        if draft.kind is TriggerKind.ONCE:
            await query.edit_message_text(_("Send the date and time, for example "
                                            "{example}.").format(example=_example(context)))
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
    if press.weekday is not None and draft.kind is TriggerKind.WEEKLY:
        await query.answer()
        draft.weekdays ^= {press.weekday}
        await query.edit_message_reply_markup(keyboards.weekday_choices(draft.weekdays, _))
        return ScheduleStep.CHOOSING_WEEKDAYS
    if press.weekdays_done and draft.kind is TriggerKind.WEEKLY:
        if not draft.weekdays:
            await query.answer(_("Please choose at least one day of the week."))
            return ScheduleStep.CHOOSING_WEEKDAYS
        await query.answer()
        await query.edit_message_text(_("At what time? For example 08:30."))
        return ScheduleStep.AWAITING_TIME
    await gone(update, context)  # a button of another step
    return None


async def _answer_allowed(update: Update, context: BotContext) -> tuple[Message, Draft] | None:
    """The typed answer and its draft if this person may still go on; else say why (and
    end the conversation when there is nothing to go on with)."""
    message = update.effective_message
    assert message is not None
    draft = _draft(context)
    if draft is None or not is_staff(context):
        if not is_staff(context):
            await refuse(update, context)
        else:
            await message.reply_text(context._("This has expired. Please start again."))
        return None
    return message, draft


def _example(context: BotContext) -> str:
    """Tomorrow at 08:30 in the community's time: an example that could be sent as is."""
    tomorrow = utcnow().astimezone(context.services.settings.tz).date() + timedelta(days=1)
    return f"{tomorrow:%Y-%m-%d} 08:30"


async def on_date_time(update: Update, context: BotContext) -> ScheduleStep | int | None:
    """A one-off's date and time; then what comes after the trigger."""
    allowed = await _answer_allowed(update, context)
    if allowed is None:
        return _end(context)
    message = allowed[0]
    when = parse_date_time(message.text or "")
    if when is None:
        await message.reply_text(context._("Please send the date and time like {example}.")
                                 .format(example=_example(context)))
        return None
    return await _trigger_ready(update, context, TriggerSpec(TriggerKind.ONCE, at=when.time(),
                                                             on=when.date()))


async def on_month_day(update: Update, context: BotContext) -> ScheduleStep | int | None:
    """A monthly schedule's day; then the time."""
    allowed = await _answer_allowed(update, context)
    if allowed is None:
        return _end(context)
    message, draft = allowed
    text = (message.text or "").strip().removesuffix("日").removesuffix("号")
    if not text.isdigit() or not 1 <= int(text) <= 31:
        await message.reply_text(context._("Please send a number from 1 to 31."))
        return None
    draft.day = int(text)
    await message.reply_text(context._("At what time? For example 08:30."))
    return ScheduleStep.AWAITING_TIME


async def on_time(update: Update, context: BotContext) -> ScheduleStep | int | None:
    """The time of day of a daily, weekly or monthly schedule."""
    allowed = await _answer_allowed(update, context)
    if allowed is None:
        return _end(context)
    message, draft = allowed
    at = parse_time(message.text or "")
    if at is None or draft.kind is None:
        await message.reply_text(context._("Please send a time like 08:30."))
        return None
    return await _trigger_ready(update, context, TriggerSpec(
        draft.kind, at=at, weekdays=tuple(sorted(draft.weekdays)), day=draft.day))


async def on_cron(update: Update, context: BotContext) -> ScheduleStep | int | None:
    """A cron expression; validated with a message in the person's language."""
    allowed = await _answer_allowed(update, context)
    if allowed is None:
        return _end(context)
    message = allowed[0]
    expression = " ".join((message.text or "").split())
    return await _trigger_ready(update, context, TriggerSpec(TriggerKind.CRON, cron=expression))


async def _trigger_ready(update: Update, context: BotContext, spec: TriggerSpec,
                         ) -> ScheduleStep | int | None:
    """The trigger is complete: validate it, then save an edit, save a prepared draft, or
    ask for the audience."""
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
        return await _save_edit(message, context, draft.editing, lambda session, schedule, now:
                                service.change_trigger(session, schedule, trigger=spec, now=now,
                                                       actor_id=actor_id(context)))
    if draft.prepared:
        return await _save_prepared(message, context, draft)
    async with context.services.session_factory() as session:
        targets = await link_targets(session, actor=context.actor)
    if not targets:
        await message.reply_text(_("There is no team or area you can send to yet."))
        return _end(context)
    await message.reply_text(_("Who should receive it?"),
                             reply_markup=keyboards.audience_choices(targets, _))
    return ScheduleStep.CHOOSING_AUDIENCE


async def _save_edit(
    message: Message, context: BotContext, schedule_id: int,
    change: Callable[[AsyncSession, Schedule, datetime], Awaitable[None]],
) -> int:
    """Make `change` to the schedule being edited, if this person may still manage it, and
    show its card; the edit is over either way."""
    _ = context._
    now = utcnow()
    async with transaction(context.services.session_factory) as session:
        schedule = await service.load_for(session, actor=context.actor, schedule_id=schedule_id)
        if schedule is None:
            await message.reply_text(_("That schedule is no longer there."))
            return _end(context)
        await change(session, schedule, now)
        view = await service.view_of(session, schedule, now=now)
    await message.reply_text(_("Saved.") + "\n\n" + render.schedule_card(view, _),
                             reply_markup=keyboards.schedule_card(view.schedule, _))
    return _end(context)


# -- /schedule after the trigger: audience, content, check, save -------------------------------

async def on_compose_button(update: Update, context: BotContext) -> ScheduleStep | int | None:
    """A composer button after the trigger: audience, content, save or cancel."""
    pressed = await _press(update, context, after_trigger=True)
    if pressed is None:
        return None
    query, press, draft = pressed
    _ = context._
    if press.cancel:
        return await _cancelled(update, context)
    if press.audience is not None:
        await query.answer()
        return await _audience_chosen(update, context, draft, press.audience)
    if press.content is not None and draft.audience is not None:
        if press.content == "text":
            await query.answer()
            await query.edit_message_text(_("Send the text to schedule (a photo with a caption "
                                            "works too)."))
            return ScheduleStep.AWAITING_TEXT
        category = None if press.content == "any" else press.content
        if category is not None and category not in render.CATEGORY_NAMES:
            await gone(update, context)
            return None
        await query.answer()
        draft.content = service.tip_content([category] if category else [])
        draft.name = render.content_text(draft.content, _)[:60]
        return await _confirm(update, context, draft)
    if press.save:
        return await _save(update, context, draft)
    await gone(update, context)  # a button of another step
    return None


async def _audience_chosen(update: Update, context: BotContext, draft: Draft,
                           choice: tuple[str, int]) -> ScheduleStep | None:
    query = update.callback_query
    assert query is not None and context.actor is not None
    kind, target_id = choice
    async with context.services.session_factory() as session:
        targets = await link_targets(session, actor=context.actor)
    target = next((t for t in targets if t.kind.value == kind and t.id == target_id), None)
    if target is None:
        await query.answer(context._("This button is no longer valid."), show_alert=True)
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
    allowed = await _answer_allowed(update, context)
    if allowed is None:
        return _end(context)
    message, draft = allowed
    assert context.actor is not None
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
        return await _save_edit(message, context, draft.editing, lambda session, schedule, now:
                                service.change_text(session, schedule, text=text, photo=photo,
                                                    now=now, actor_id=actor_id(context)))
    if draft.trigger is None or draft.audience is None or draft.prepared:
        await message.reply_text(_("This has expired. Please start again."))
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


async def _create(context: BotContext, draft: Draft) -> service.ScheduleView:
    """Store the draft (TriggerError, ScheduleRefused), audited; its view with the next
    three fires."""
    actor = context.actor
    assert actor is not None
    assert draft.trigger is not None and draft.audience is not None
    assert draft.content is not None
    now = utcnow()
    async with transaction(context.services.session_factory) as session:
        schedule = await service.create_schedule(
            session, actor=actor, author_id=actor.person_id, now=now,
            new=service.NewSchedule(name=draft.name, trigger=draft.trigger,
                                    audience=draft.audience, content=draft.content,
                                    kind=draft.message_kind,
                                    timezone=context.services.settings.timezone))
        await record(session, actor_id=actor.person_id, action="schedule.create",
                     object_type="schedule", object_id=schedule.id,
                     after={"trigger": schedule.trigger, "audience": schedule.audience,
                            "kind": schedule.kind})
        view = await service.view_of(session, schedule, now=now)
    logger.info("Schedule %s created by person %s", schedule.id, actor.person_id,
                extra={"schedule_id": schedule.id})
    return view


async def _save(update: Update, context: BotContext, draft: Draft) -> int | None:
    query = update.callback_query
    assert query is not None and context.actor is not None
    _ = context._
    if draft.trigger is None or draft.audience is None or draft.content is None:
        await gone(update, context)
        return None
    await query.answer()
    try:
        view = await _create(context, draft)
    except TriggerError as exc:
        await query.edit_message_text(_(exc.msgid).format(detail=exc.detail))
        return _end(context)
    except service.ScheduleRefused:
        await query.edit_message_text(_("Sorry, you cannot send to that audience."))
        return _end(context)
    await query.edit_message_text(_("Saved! /schedules lists it.") + "\n\n"
                                  + render.schedule_card(view, _),
                                  reply_markup=keyboards.schedule_card(view.schedule, _))
    return _end(context)


async def _save_prepared(message: Message, context: BotContext, draft: Draft) -> int | None:
    """Save a prepared draft now that its trigger is known; confirm with the next fires."""
    _ = context._
    try:
        view = await _create(context, draft)
    except TriggerError as exc:
        await message.reply_text(_(exc.msgid).format(detail=exc.detail))
        return None  # ask for the trigger again
    except service.ScheduleRefused:
        await message.reply_text(_("Sorry, you cannot send to that audience."))
        return _end(context)
    await message.reply_text(
        "\n".join([_("Scheduled! /schedules lists it."),
                   _("To: {audience}").format(audience=draft.audience_name), "",
                   render.schedule_card(view, _)]),
        reply_markup=keyboards.schedule_card(view.schedule, _))
    return _end(context)


# -- leaving ------------------------------------------------------------------------------------

async def _cancelled(update: Update, context: BotContext) -> int:
    draft = _draft(context)
    if draft is not None and draft.prepared:
        text = context._("All right, nothing was sent.")
    else:
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
    if not is_staff(context):
        await refuse(update, context)
        return
    await gone(update, context)


# -- the conversation table ---------------------------------------------------------------------

def trigger_states() -> dict[object, list[BaseHandler[Any, Any, Any]]]:
    """The trigger steps' handlers, for any ConversationHandler that enters them."""
    button = CallbackQueryHandler(on_trigger_button, pattern=r"^scn:")
    text = filters.TEXT & ~filters.COMMAND
    catch_all = MessageHandler(filters.ALL & ~filters.COMMAND, reask)
    return {
        ScheduleStep.CHOOSING_REPEAT: [button, catch_all],
        ScheduleStep.CHOOSING_WEEKDAYS: [button, catch_all],
        ScheduleStep.AWAITING_DATE_TIME: [MessageHandler(text, on_date_time), button,
                                          catch_all],
        ScheduleStep.AWAITING_MONTH_DAY: [MessageHandler(text, on_month_day), button,
                                          catch_all],
        ScheduleStep.AWAITING_TIME: [MessageHandler(text, on_time), button, catch_all],
        ScheduleStep.AWAITING_CRON: [MessageHandler(text, on_cron), button, catch_all],
    }


def conversation(*extra_entry_points: BaseHandler[Any, Any, Any]) -> ConversationHandler[Any]:
    """/schedule (and the card's "change time" / "change text", given as entry points)."""
    compose = CallbackQueryHandler(on_compose_button, pattern=r"^scn:")
    text = filters.TEXT & ~filters.COMMAND
    catch_all = MessageHandler(filters.ALL & ~filters.COMMAND, reask)
    return InstanceSafeConversationHandler(
        entry_points=[
            CommandHandler("schedule", compose_command, filters=filters.ChatType.PRIVATE),
            *extra_entry_points,
        ],
        states={
            **trigger_states(),
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
        persistent=True,
    )
