"""/broadcast (compose and send), /broadcasts (reports, stop what is pending), /quiethours.

Every command and every button press asks `bot.auth.can` again, and the audience is
checked with `may_target` before anything is written; a press from an old or another
draft, or forged data, gets a polite "no longer valid" and changes nothing.
"""

from __future__ import annotations

import enum
import logging
import re
from datetime import datetime, time

from sqlalchemy import select
from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.audit.service import record
from bot.auth import Permission, can
from bot.broadcasting import callbacks, keyboards
from bot.broadcasting.drafts import (
    ROLE_CHOICES,
    AudienceOptions,
    Draft,
    audience_options,
    preview_tip,
    spec_of,
)
from bot.broadcasting.service import (
    KIND_HEADERS,
    BroadcastKind,
    QuietHours,
    community_of,
    defer_until,
    get_quiet_hours,
    quiet_hours_for_audience,
    render_text,
    send_broadcast,
    set_quiet_hours,
)
from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.directory.audience import count_audience, may_target
from bot.directory.models import Role
from bot.i18n import Translate
from broadcasts import Broadcast, BroadcastStatus, broadcast_report, cancel_broadcast
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


def _now(context: BotContext) -> datetime:
    """The clock (tests may put a fixed `now` in `services.extras["clock"]`)."""
    clock = context.services.extras.get("clock")
    return clock() if clock is not None else utcnow()


def _refusal(_: Translate) -> str:
    return _("Sorry, only community staff can send messages to residents and teams.")


def _stale_text(_: Translate) -> str:
    return _("This button is no longer valid. Send /broadcast to start again.")


def _draft(context: BotContext) -> Draft | None:
    assert context.user_data is not None
    draft = context.user_data.get(DRAFT_KEY)
    return draft if isinstance(draft, Draft) else None


async def _options(context: BotContext) -> AudienceOptions:
    async with context.services.session_factory() as session:
        return await audience_options(session, actor=context.actor)


async def _press(update: Update, context: BotContext) -> tuple[callbacks.Press, Draft] | None:
    """The press and its draft if this person may still do this; else answer and None."""
    query = update.callback_query
    assert query is not None
    _ = context._
    if not can(context.actor, Permission.BROADCAST):
        await query.answer(_refusal(_), show_alert=True)
        return None
    press = callbacks.decode(query.data)
    draft = _draft(context)
    if press is None or draft is None or press.draft != draft.tag:
        await query.answer(_stale_text(_), show_alert=True)
        return None
    return press, draft


def _count_line(_: Translate, people: int, groups: int) -> str:
    return _("So far: {people} people and {groups} group chats.").format(people=people,
                                                                           groups=groups)


async def _audience_view(context: BotContext, draft: Draft,
                         options: AudienceOptions) -> dict[str, object]:
    _ = context._
    people = groups = 0
    if draft.has_audience:
        async with context.services.session_factory() as session:
            count = await count_audience(session, spec_of(draft, options))
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
        await message.reply_text(_refusal(_))
        return END
    options = await _options(context)
    if not (options.teams or options.areas or options.chats or options.community):
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
    press, draft = found
    query = update.callback_query
    assert query is not None
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
    press, draft = found
    query = update.callback_query
    assert query is not None
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
            draft.residents = False
    elif action == "r" and press.arg in {r.value for r in ROLE_CHOICES}:
        draft.roles.symmetric_difference_update({Role(press.arg)})
        draft.residents = False
    elif action == "res" and options.community is not None:
        draft.residents = not draft.residents
        if draft.residents:
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
    spec = spec_of(draft, options)
    async with context.services.session_factory() as session:
        allowed = await may_target(session, context.actor, spec)
        count = await count_audience(session, spec)
    if not allowed:
        await query.answer(_("Sorry, some of these are outside your area."), show_alert=True)
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
    press, draft = found
    query = update.callback_query
    assert query is not None
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
    message = update.effective_message
    assert message is not None
    _ = context._
    draft = _draft(context)
    if draft is None or not can(context.actor, Permission.BROADCAST):
        await message.reply_text(_refusal(_))
        return END
    text = (message.text or "").strip()
    if len(text) > MAX_TEXT:
        await message.reply_text(_("That is too long ({count} characters). Please keep it under "
                                   "{limit}.").format(count=len(text), limit=MAX_TEXT))
        return State.AWAITING_CONTENT
    draft.text, draft.photo, draft.tip = text, None, False
    return await _preview(message, context, draft)


async def photo_received(update: Update, context: BotContext) -> State | int:
    """Store the photo and its caption; show the preview."""
    message = update.effective_message
    assert message is not None
    _ = context._
    draft = _draft(context)
    if draft is None or not can(context.actor, Permission.BROADCAST):
        await message.reply_text(_refusal(_))
        return END
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
    now = _now(context)
    async with context.services.session_factory() as session:
        count = await count_audience(session, spec)
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
    lines = [_("It goes to {people} people and {groups} group chats.").format(
        people=count.people, groups=count.groups)]
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
    """Send now (urgent: also in quiet hours) — after checking rights and audience again."""
    found = await _press(update, context)
    if found is None:
        return State.CONFIRMING
    press, draft = found
    query = update.callback_query
    assert query is not None and context.user_data is not None
    _ = context._
    if press.action == "x":
        return await _cancelled(update, context)
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
        count = await count_audience(session, spec)
        broadcast = await send_broadcast(
            session, kind=draft.kind, audience=spec, content=draft.content(),
            author_id=actor.person_id, now=_now(context),
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
    text = _("Sending to {people} people and {groups} chats.").format(
        people=count.people, groups=count.groups)
    if broadcast.not_before is not None:
        text += "\n" + _("Quiet hours: it will go out at {time}.").format(
            time=f"{broadcast.not_before.astimezone(settings.tz):%H:%M}")
    text += "\n" + _("Send /broadcasts to see how it went.")
    await query.answer()
    await query.edit_message_text(text)
    logger.info("Broadcast %s sent by person %s", broadcast.id, actor.person_id)
    return END


async def _cancelled(update: Update, context: BotContext) -> int:
    assert context.user_data is not None
    context.user_data.pop(DRAFT_KEY, None)
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
        await query.answer(_refusal(_), show_alert=True)
        return
    await query.answer(_stale_text(_), show_alert=True)


# -- /broadcasts ----------------------------------------------------------------------------

async def _list_view(context: BotContext) -> dict[str, object]:
    _ = context._
    actor = context.actor
    assert actor is not None
    tz = context.services.settings.tz
    stmt = select(Broadcast).order_by(Broadcast.id.desc()).limit(8)
    if not actor.is_admin:
        stmt = stmt.where(Broadcast.author_id == actor.person_id,
                          Broadcast.kind.in_([k.value for k in BroadcastKind]))
    lines: list[str] = []
    cancellable: list[int] = []
    async with context.services.session_factory() as session:
        broadcasts = list(await session.scalars(stmt))
        for b in broadcasts:
            report = await broadcast_report(session, b.id)
            header = KIND_HEADERS.get(b.kind) if b.kind in set(BroadcastKind) else None
            title = _(header) if header else b.kind
            lines.append(f"#{b.id} {title} · {b.created_at.astimezone(tz):%m-%d %H:%M}")
            lines.append(_("Sent {sent} · failed {failed} · unreachable {unreachable} · "
                           "waiting {pending}").format(
                sent=report.sent, failed=report.failed, unreachable=report.unreachable,
                pending=report.pending))
            if report.cancelled:
                lines.append(_("Stopped before sending: {count}").format(count=report.cancelled))
            if report.failure_reasons:
                lines.append(_("Why: {reasons}").format(reasons="; ".join(
                    f"{reason} ×{n}" for reason, n in list(report.failure_reasons.items())[:3])))
            if b.not_before is not None and report.pending:
                lines.append(_("Waiting for the end of quiet hours ({time}).").format(
                    time=f"{b.not_before.astimezone(tz):%m-%d %H:%M}"))
            lines.append("")
            if (report.pending and b.status in (BroadcastStatus.PENDING, BroadcastStatus.SENDING)
                    and (actor.is_admin or b.author_id == actor.person_id)):
                cancellable.append(b.id)
    if not broadcasts:
        return {"text": _("You have not sent any messages yet. Send /broadcast to start."),
                "reply_markup": None}
    text = _("Your recent messages:") + "\n\n" + "\n".join(lines).strip()
    return {"text": text, "reply_markup": keyboards.list_keyboard(cancellable, _)}


async def list_command(update: Update, context: BotContext) -> None:
    """/broadcasts: recent broadcasts with their reports."""
    message = update.effective_message
    if message is None:
        return
    if not can(context.actor, Permission.BROADCAST):
        await message.reply_text(_refusal(context._))
        return
    await message.reply_text(**await _list_view(context))


async def list_pressed(update: Update, context: BotContext) -> None:
    """Stop a pending broadcast (its author or an admin), or refresh the list."""
    query = update.callback_query
    assert query is not None
    _ = context._
    if not can(context.actor, Permission.BROADCAST):
        await query.answer(_refusal(_), show_alert=True)
        return
    parsed = callbacks.decode_list(query.data)
    if parsed is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    action, broadcast_id = parsed
    actor = context.actor
    assert actor is not None
    if action == "x" and broadcast_id is not None:
        async with transaction(context.services.session_factory) as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is None or not (actor.is_admin or (
                    broadcast.author_id is not None and broadcast.author_id == actor.person_id)):
                await query.answer(_("Sorry, only the sender or an administrator can stop "
                                     "this."), show_alert=True)
                return
            if broadcast.status not in (BroadcastStatus.PENDING, BroadcastStatus.SENDING):
                await query.answer(_("This one has already finished."), show_alert=True)
                return
            stopped = await cancel_broadcast(session, broadcast_id)
            await record(session, actor_id=actor.person_id, action="broadcast.cancel",
                         object_type="broadcast", object_id=broadcast_id,
                         after={"cancelled": stopped})
        await query.answer(_("Stopped. {count} messages will not be sent.").format(
            count=stopped))
    else:
        await query.answer()
    view = await _list_view(context)
    if query.message is not None and (
            getattr(query.message, "text", None) != view["text"]):
        await query.edit_message_text(**view)  # type: ignore[arg-type]


# -- /quiethours ------------------------------------------------------------------------------

QUIET_PATTERN = re.compile(r"^(\d{1,2})[:：.](\d{2})\s*[-–~～到至]\s*(\d{1,2})[:：.](\d{2})$")


def parse_quiet_hours(text: str) -> QuietHours | None:
    match = QUIET_PATTERN.match(text.strip())
    if match is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        return None
    return QuietHours(time(h1, m1), time(h2, m2))


async def quiet_hours_command(update: Update, context: BotContext) -> None:
    """/quiethours — show; /quiethours 22:00-07:00 — set; /quiethours default|off."""
    message = update.effective_message
    if message is None:
        return
    _ = context._
    actor = context.actor
    if not can(actor, Permission.BROADCAST):
        await message.reply_text(_refusal(_))
        return
    assert actor is not None
    argument = " ".join(context.args or []).strip()
    async with transaction(context.services.session_factory) as session:
        community = await community_of(session, area_path=actor.area_path)
        if community is None or not can(actor, Permission.BROADCAST, area_path=community.path):
            await message.reply_text(_("Quiet hours belong to a community; your account is not "
                                       "linked to one."))
            return
        if not argument:
            current = await get_quiet_hours(session, community_id=community.id)
        else:
            lowered = argument.lower()
            if lowered in {"default", "默认", "默認"}:
                wanted: QuietHours | None = None
            elif lowered in {"off", "关闭", "關閉"}:
                wanted = QuietHours(time(0, 0), time(0, 0))
            else:
                wanted = parse_quiet_hours(argument)
                if wanted is None:
                    await message.reply_text(_("Please write it like this: /quiethours "
                                               "21:30-07:30 (or “default” or “off”)."))
                    return
            current = await set_quiet_hours(session, community_id=community.id, quiet=wanted,
                                            actor_id=actor.person_id)
    if current.off:
        status = _("{community} has no quiet hours: messages go out at any time.").format(
            community=community.name)
    else:
        status = _("Quiet hours in {community}: {hours}. Tips and notices sent then wait "
                   "until the morning; emergency alerts always go at once.").format(
            community=community.name, hours=current.label())
    if not argument:
        status += "\n" + _("To change: /quiethours 22:00-07:00, or “default”, or “off”.")
    await message.reply_text(status)


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    composer_button = CallbackQueryHandler
    pattern = callbacks.PATTERN
    conversation = ConversationHandler(
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
        },
        fallbacks=[
            CommandHandler("cancel", cancel_command),
            MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND, reask),
        ],
        conversation_timeout=TIMEOUT,
        allow_reentry=True,
        name="broadcast",
    )
    return [
        conversation,
        CallbackQueryHandler(stale, pattern=r"^bc:"),
        CallbackQueryHandler(list_pressed, pattern=r"^bcl:"),
        CommandHandler("broadcasts", list_command),
        CommandHandler("quiethours", quiet_hours_command),
    ]
