"""/broadcast: kind → audience (with live counts) → content → the exact preview → send now,
🕒 schedule (continues in the schedules feature's trigger steps), or cancel.

Every command and every button press asks `bot.auth.can` again, and the audience is
checked with `may_target` before anything is written; a press from an old or another
draft, or forged data, gets a polite "no longer valid" and changes nothing.
"""

from __future__ import annotations

import enum
import logging

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.audit.service import record
from bot.auth import Permission, can
from bot.broadcasting import callbacks, keyboards
from bot.broadcasting.common import now_of, refusal
from bot.broadcasting.drafts import (
    ROLE_CHOICES,
    AudienceOptions,
    Draft,
    audience_options,
    preview_tip,
    spec_of,
)
from bot.broadcasting.service import (
    BroadcastKind,
    defer_until,
    quiet_hours_for_audience,
    render_text,
    send_broadcast,
)
from bot.context import BotContext
from bot.db import transaction
from bot.directory.audience import AudienceCount, AudienceSpec, count_audience, may_target
from bot.directory.models import Role
from bot.i18n import Translate, people_and_groups
from bot.persistence import InstanceSafeConversationHandler
from bot.schedules import compose as schedule_compose
from bot.schedules import render as schedule_render
from bot.schedules.compose import ScheduleStep
from broadcasts.tips import CATEGORIES

logger = logging.getLogger(__name__)

DRAFT_KEY = "broadcast_draft"
TIMEOUT = 1800
MAX_TEXT = 3500
MAX_CAPTION = 1000
URGENT_KINDS = {BroadcastKind.NOTICE, BroadcastKind.TASK}


class State(enum.StrEnum):
    CHOOSING_KIND = "broadcast_choosing_kind"
    CHOOSING_AUDIENCE = "broadcast_choosing_audience"
    AWAITING_CONTENT = "broadcast_awaiting_content"
    CONFIRMING = "broadcast_confirming"


END = ConversationHandler.END


def _stale_text(_: Translate) -> str:
    return _("This button is no longer valid. Send /broadcast to start again.")


def _draft(context: BotContext) -> Draft | None:
    assert context.user_data is not None
    draft = context.user_data.get(DRAFT_KEY)
    return draft if isinstance(draft, Draft) else None


async def _options(context: BotContext) -> AudienceOptions:
    async with context.services.session_factory() as session:
        return await audience_options(session, actor=context.actor)


async def _press(update: Update,
                 context: BotContext) -> tuple[CallbackQuery, callbacks.Press, Draft] | None:
    """The query, its press and its draft if this person may still do this; else answer
    and None."""
    query = update.callback_query
    assert query is not None
    _ = context._
    if not can(context.actor, Permission.BROADCAST):
        await query.answer(refusal(_), show_alert=True)
        return None
    press = callbacks.decode(query.data)
    draft = _draft(context)
    if press is None or draft is None or press.draft != draft.tag:
        await query.answer(_stale_text(_), show_alert=True)
        return None
    return query, press, draft


async def _typed(update: Update, context: BotContext) -> tuple[Message, Draft] | None:
    """The typed message and its draft if this person may still broadcast; else refuse and
    None (the conversation ends)."""
    message = update.effective_message
    assert message is not None
    draft = _draft(context)
    if draft is None or not can(context.actor, Permission.BROADCAST):
        await message.reply_text(refusal(context._))
        return None
    return message, draft


async def _reach(query: CallbackQuery, context: BotContext, draft: Draft,
                 spec: AudienceSpec) -> AudienceCount | None:
    """How many the audience reaches if this person may target it; else say it is outside
    their area and None."""
    async with context.services.session_factory() as session:
        allowed = await may_target(session, context.actor, spec)
        count = await count_audience(session, spec, topic=draft.topic)
    if not allowed:
        await query.answer(context._("Sorry, some of these are outside your area."),
                           show_alert=True)
        return None
    return count


def _count_line(_: Translate, people: int, groups: int) -> str:
    return _("So far: {audience}.").format(audience=people_and_groups(_, people, groups))


async def _audience_view(context: BotContext, draft: Draft,
                         options: AudienceOptions) -> dict[str, object]:
    _ = context._
    people = groups = 0
    if draft.has_audience:
        async with context.services.session_factory() as session:
            count = await count_audience(session, spec_of(draft, options), topic=draft.topic)
        people, groups = count.people, count.groups
    text = (_("Who should receive it? Tap to choose, tap again to remove.") + "\n"
            + _("Roles narrow the chosen areas.") + "\n\n" + _count_line(_, people, groups))
    return {"text": text, "reply_markup": keyboards.audience_keyboard(draft, options, _)}


# -- the conversation ---------------------------------------------------------------------

async def start(update: Update, context: BotContext) -> State | int:
    """/broadcast: check rights, start a fresh draft, ask for the kind."""
    message = update.effective_message
    assert message is not None and context.user_data is not None
    _ = context._
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await message.reply_text(_("Please send /broadcast to me in a private chat."))
        return END
    if not can(context.actor, Permission.BROADCAST):
        await message.reply_text(refusal(_))
        return END
    options = await _options(context)
    if not (options.teams or options.areas or options.chats or options.residents):
        await message.reply_text(_("There is nobody in your area to send to yet."))
        return END
    draft = Draft()
    context.user_data[DRAFT_KEY] = draft
    await message.reply_text(_("What would you like to send?") + "\n" + _("(/cancel to stop)"),
                             reply_markup=keyboards.kind_keyboard(draft, _))
    return State.CHOOSING_KIND


async def kind_chosen(update: Update, context: BotContext) -> State | int:
    """Store the kind; show the audience choices."""
    found = await _press(update, context)
    if found is None:
        return State.CHOOSING_KIND
    query, press, draft = found
    if press.action == "x":
        return await _cancelled(update, context)
    if press.action != "k" or press.arg not in set(BroadcastKind):
        await query.answer(_stale_text(context._), show_alert=True)
        return State.CHOOSING_KIND
    draft.kind = BroadcastKind(press.arg)
    await query.answer()
    await query.edit_message_text(**await _audience_view(context, draft,
                                                         await _options(context)))
    return State.CHOOSING_AUDIENCE


async def audience_pressed(update: Update, context: BotContext) -> State | int:
    """Toggle a team, area, role or chat (only those in scope), turn pages, or go on."""
    found = await _press(update, context)
    if found is None:
        return State.CHOOSING_AUDIENCE
    query, press, draft = found
    _ = context._
    options = await _options(context)
    action, number = press.action, press.number
    if action == "x":
        return await _cancelled(update, context)
    if action == "ok":
        return await _audience_done(update, context, draft, options)
    if action == "s" and press.arg in keyboards.SECTIONS:
        draft.section, draft.page = press.arg, 0
    elif action == "p" and number is not None:
        draft.page = number
    elif action in {"t", "a", "c"} and number is not None and options.allows(action, number):
        chosen = {"t": draft.team_ids, "a": draft.area_ids, "c": draft.chat_ids}[action]
        chosen.symmetric_difference_update({number})
        if action == "a":
            draft.residents_area = None
    elif action == "r" and press.arg in {r.value for r in ROLE_CHOICES}:
        draft.roles.symmetric_difference_update({Role(press.arg)})
        draft.residents_area = None
    elif action == "res" and number is not None and options.allows("res", number):
        draft.residents_area = None if draft.residents_area == number else number
        if draft.residents_area is not None:
            draft.area_ids.clear()
            draft.roles.clear()
    else:
        await query.answer(_("Sorry, you cannot choose that."), show_alert=True)
        return State.CHOOSING_AUDIENCE
    await query.answer()
    await query.edit_message_text(**await _audience_view(context, draft, options))
    return State.CHOOSING_AUDIENCE


async def _audience_done(update: Update, context: BotContext, draft: Draft,
                         options: AudienceOptions) -> State:
    query = update.callback_query
    assert query is not None
    _ = context._
    if not draft.has_audience:
        await query.answer(_("Please choose at least one team, area, role or group."),
                           show_alert=True)
        return State.CHOOSING_AUDIENCE
    count = await _reach(query, context, draft, spec_of(draft, options))
    if count is None:
        return State.CHOOSING_AUDIENCE
    if count.total == 0:
        await query.answer(_("Nobody can be reached this way yet. Please choose others."),
                           show_alert=True)
        return State.CHOOSING_AUDIENCE
    await query.answer()
    await query.edit_message_text(
        _("Now type the message. You may also send one photo with a caption.") + "\n"
        + _("Or take the next tip from our library (each person gets it in their language)."),
        reply_markup=keyboards.content_keyboard(draft, _))
    return State.AWAITING_CONTENT


async def content_pressed(update: Update, context: BotContext) -> State | int:
    """"Next tip from the library", then its topic."""
    found = await _press(update, context)
    if found is None:
        return State.AWAITING_CONTENT
    query, press, draft = found
    _ = context._
    if press.action == "x":
        return await _cancelled(update, context)
    if press.action == "lib":
        await query.answer()
        await query.edit_message_text(_("Which topic?"),
                                      reply_markup=keyboards.category_keyboard(draft, _))
        return State.AWAITING_CONTENT
    if press.action == "cat" and (press.arg == "any" or press.arg in CATEGORIES):
        draft.tip, draft.tip_category = True, None if press.arg == "any" else press.arg
        draft.text = draft.photo = None
        await query.answer()
        assert query.message is not None
        return await _preview(query.message, context, draft)  # type: ignore[arg-type]
    await query.answer(_stale_text(_), show_alert=True)
    return State.AWAITING_CONTENT


async def text_received(update: Update, context: BotContext) -> State | int:
    """Store the typed text; show the preview."""
    typed = await _typed(update, context)
    if typed is None:
        return END
    message, draft = typed
    _ = context._
    text = (message.text or "").strip()
    if len(text) > MAX_TEXT:
        await message.reply_text(_("That is too long ({count} characters). Please keep it under "
                                   "{limit}.").format(count=len(text), limit=MAX_TEXT))
        return State.AWAITING_CONTENT
    draft.text, draft.photo, draft.tip = text, None, False
    return await _preview(message, context, draft)


async def photo_received(update: Update, context: BotContext) -> State | int:
    """Store the photo and its caption; show the preview."""
    typed = await _typed(update, context)
    if typed is None:
        return END
    message, draft = typed
    _ = context._
    caption = (message.caption or "").strip()
    if len(caption) > MAX_CAPTION:
        await message.reply_text(_("A photo caption can have at most {limit} characters. Please "
                                   "send it again with a shorter one.").format(limit=MAX_CAPTION))
        return State.AWAITING_CONTENT
    draft.photo, draft.text, draft.tip = message.photo[-1].file_id, caption or None, False
    return await _preview(message, context, draft)


async def content_reask(update: Update, context: BotContext) -> State:
    """Anything else while waiting for the content: ask again kindly."""
    message = update.effective_message
    if message is not None:
        await message.reply_text(context._("Please type the message, or send a photo with a "
                                           "caption. (/cancel to stop)"))
    return State.AWAITING_CONTENT


async def _preview(message: Message, context: BotContext, draft: Draft) -> State:
    """Show the message exactly as it will arrive, then how many it reaches and the buttons."""
    _ = context._
    settings = context.services.settings
    options = await _options(context)
    spec = spec_of(draft, options)
    assert draft.kind is not None
    now = now_of(context)
    async with context.services.session_factory() as session:
        count = await count_audience(session, spec, topic=draft.topic)
        windows = await quiet_hours_for_audience(session, spec)
        tip = (await preview_tip(session, spec=spec, category=draft.tip_category, now=now,
                                 tz=settings.tz) if draft.tip else None)
    language = context.language
    body = tip.text(language, settings.default_language) if tip is not None else draft.text
    shown = render_text(draft.kind, body, language)
    await message.reply_text(_("Preview — this is exactly what they will see:"))
    if draft.photo:
        await message.reply_photo(draft.photo, caption=shown)
    else:
        await message.reply_text(shown)
    lines = [_("It goes to {audience}.").format(
        audience=people_and_groups(_, count.people, count.groups))]
    if tip is not None:
        lines.append(_("Each person gets the tip in their own language."))
    waits = [w for w in (defer_until(now, settings.tz, q) for q in windows) if w is not None]
    if waits:
        lines.append(_("It is quiet hours now, so it will go out at {time}.").format(
            time=f"{max(waits).astimezone(settings.tz):%H:%M}"))
    await message.reply_text(
        "\n".join(lines),
        reply_markup=keyboards.confirm_keyboard(
            draft, _, offer_urgent=bool(waits) and draft.kind in URGENT_KINDS))
    return State.CONFIRMING


async def confirm_pressed(update: Update, context: BotContext) -> State | int:
    """Send now (urgent: also in quiet hours), or 🕒 schedule it — after checking rights and
    audience again."""
    found = await _press(update, context)
    if found is None:
        return State.CONFIRMING
    query, press, draft = found
    assert context.user_data is not None
    _ = context._
    if press.action == "x":
        return await _cancelled(update, context)
    if press.action == "sch" and draft.kind is not None and draft.has_content:
        return await _schedule_pressed(update, context, draft)
    if press.action not in {"go", "urg"} or draft.kind is None or not draft.has_content:
        await query.answer(_stale_text(_), show_alert=True)
        return State.CONFIRMING
    urgent = press.action == "urg"
    if urgent and draft.kind not in URGENT_KINDS:
        await query.answer(_stale_text(_), show_alert=True)
        return State.CONFIRMING
    actor = context.actor
    assert actor is not None
    settings = context.services.settings
    options = await _options(context)
    spec = spec_of(draft, options)
    async with transaction(context.services.session_factory) as session:
        if not await may_target(session, actor, spec):
            await query.answer(_("Sorry, some of these are outside your area."), show_alert=True)
            return State.CONFIRMING
        count = await count_audience(session, spec, topic=draft.topic)
        broadcast = await send_broadcast(
            session, kind=draft.kind, audience=spec, content=draft.content(),
            author_id=actor.person_id, now=now_of(context),
            default_language=settings.default_language, tz=settings.tz, urgent=urgent)
        assert broadcast is not None
        await record(session, actor_id=actor.person_id, action="broadcast.send",
                     object_type="broadcast", object_id=broadcast.id,
                     after={"kind": draft.kind.value, "audience": spec.to_json(),
                            "urgent": urgent})
    context.user_data.pop(DRAFT_KEY, None)
    dispatcher = context.services.dispatcher
    if dispatcher is not None:
        dispatcher.wake()
    text = _("Sending to {audience}.").format(
        audience=people_and_groups(_, count.people, count.groups))
    if broadcast.not_before is not None:
        text += "\n" + _("Quiet hours: it will go out at {time}.").format(
            time=f"{broadcast.not_before.astimezone(settings.tz):%H:%M}")
    text += "\n" + _("Send /broadcasts to see how it went.")
    await query.answer()
    await query.edit_message_text(text)
    logger.info("Broadcast %s sent by person %s", broadcast.id, actor.person_id)
    return END


async def _schedule_pressed(update: Update, context: BotContext,
                            draft: Draft) -> State | ScheduleStep | int:
    """🕒 Schedule: check the audience again, then hand kind, audience and content to the
    schedules feature's trigger steps (how often, when), which save the schedule."""
    query = update.callback_query
    assert query is not None and context.user_data is not None and draft.kind is not None
    _ = context._
    spec = spec_of(draft, await _options(context))
    count = await _reach(query, context, draft, spec)
    if count is None:
        return State.CONFIRMING
    content = draft.schedule_content()
    if draft.tip:
        name = schedule_render.content_text(content, _)
    else:
        name = (draft.text or "").strip().splitlines()[0] if draft.text else _("Photo")
    context.user_data.pop(DRAFT_KEY, None)  # from here on the schedule's draft is the one
    return await schedule_compose.begin_prepared(
        update, context, message_kind=draft.kind.value, audience=spec,
        audience_name=people_and_groups(_, count.people, count.groups),
        content=content, name=name)


async def _cancelled(update: Update, context: BotContext) -> int:
    assert context.user_data is not None
    context.user_data.pop(DRAFT_KEY, None)
    schedule_compose.discard_draft(context)
    _ = context._
    text = _("All right, nothing was sent.")
    query = update.callback_query
    if query is not None:
        await query.answer()
        await query.edit_message_text(text)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return END


async def cancel_command(update: Update, context: BotContext) -> int:
    """/cancel inside the composer."""
    return await _cancelled(update, context)


async def reask(update: Update, context: BotContext) -> None:
    """A message while a button is expected: point at the buttons."""
    message = update.effective_message
    if message is not None:
        await message.reply_text(context._("Please use the buttons above, or send /cancel "
                                           "to stop."))


async def stale(update: Update, context: BotContext) -> None:
    """A composer button outside its conversation: refuse or say it is no longer valid."""
    query = update.callback_query
    if query is None:
        return
    _ = context._
    if not can(context.actor, Permission.BROADCAST):
        await query.answer(refusal(_), show_alert=True)
        return
    await query.answer(_stale_text(_), show_alert=True)



def conversation() -> ConversationHandler:  # type: ignore[type-arg]
    """The /broadcast conversation as one table."""
    composer_button = CallbackQueryHandler
    pattern = callbacks.PATTERN
    return InstanceSafeConversationHandler(
        entry_points=[CommandHandler("broadcast", start)],
        states={
            State.CHOOSING_KIND: [composer_button(kind_chosen, pattern=pattern)],
            State.CHOOSING_AUDIENCE: [composer_button(audience_pressed, pattern=pattern)],
            State.AWAITING_CONTENT: [
                composer_button(content_pressed, pattern=pattern),
                MessageHandler(filters.PHOTO, photo_received),
                MessageHandler(filters.TEXT & ~filters.COMMAND, text_received),
                MessageHandler(filters.ALL & ~filters.COMMAND, content_reask),
            ],
            State.CONFIRMING: [composer_button(confirm_pressed, pattern=pattern)],
            # After "🕒 Schedule": the schedules feature's own steps (how often, when).
            **schedule_compose.trigger_states(),
        },
        fallbacks=[
            CommandHandler("cancel", cancel_command),
            MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND, reask),
        ],
        conversation_timeout=TIMEOUT,
        allow_reentry=True,
        name="broadcast",
        persistent=True,
    )
