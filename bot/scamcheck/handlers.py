"""Asking the bot about a message: forward it, paste it, or reply to it with /check.

What the feature registers comes last in group 0, after every conversation and draft (a
report being written takes its own messages first) and just before the free-text fallback:
a forwarded message, or pasted text that looks like a scam, is answered here instead of
falling through to it. Ordinary pasted text is left to the fallback.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.auth import Permission, can
from bot.broadcasting.common import now_of
from bot.broadcasting.service import community_of
from bot.context import BotContext
from bot.db import transaction
from bot.directory.audience import count_audience, may_target
from bot.directory.models import Area
from bot.handler_utils import parsed_press
from bot.i18n import N_
from bot.scamcheck import callbacks as cb
from bot.scamcheck import keyboards, render, service
from bot.scamcheck.checker import CheckResult, Verdict, check
from bot.scamcheck.models import ScamWarning
from bot.scamcheck.rules import default_rules
from bot.tipoffs.intake import begin_fraud_report

_COMMAND = re.compile(r"^/check(@\w+)?\s*", re.IGNORECASE)

PressT = TypeVar("PressT")


class LooksLikeScam(filters.MessageFilter):
    """Text the checker rates suspicious or worse (the checker is quick and pure)."""

    def filter(self, message: Message) -> bool:
        return bool(message.text) and check(message.text).verdict is not Verdict.NONE


def text_of(message: Message) -> str | None:
    """The words of a message: its text, or a picture's caption."""
    return message.text or message.caption or None


async def answer(context: BotContext, message: Message, text: str) -> None:
    """Check `text` and reply to `message` (the one holding it) in the reader's language."""
    rules = default_rules()
    result = check(text, rules)
    _ = context._
    private = message.chat.type == ChatType.PRIVATE
    markup = keyboards.answer_buttons(
        _, tip_id=result.tip, can_tell=private and result.verdict is not Verdict.NONE)
    await context.bot.send_message(
        message.chat.id, render.answer(result, rules, _, context.language), reply_markup=markup,
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        message_thread_id=message.message_thread_id if message.is_topic_message else None)
    await keep(context, result)


#: `user_data` key: the kinds this person asked about lately, with when (memory only: the
#: persistence leaves it out, see bot/app.py).
ASKED_KEY = "scamcheck_asked"


def asked_before(context: BotContext, kind: str, now: datetime, window: timedelta) -> bool:
    """Whether this person already asked about this kind within the window; notes it if not.

    The early warning counts askers, but the database must not learn who asked: who asked
    what lives in the bot's memory for the window only (a restart forgets it).
    """
    if context.user_data is None:
        return False
    asked: dict[str, datetime] = context.user_data.setdefault(ASKED_KEY, {})
    for old in [k for k, at in asked.items() if at <= now - window]:
        del asked[old]
    if kind in asked:
        return True
    asked[kind] = now
    return False


async def keep(context: BotContext, result: CheckResult) -> None:
    """Keep the check as kind, verdict, the asker's home community and time; the staff
    get an early warning when it makes enough askers."""
    settings = context.services.settings
    rule = service.WarningRule(settings.scamcheck_warning_askers,
                               timedelta(hours=settings.scamcheck_warning_hours))
    now = now_of(context)
    repeat = (result.kind is not None and result.verdict is not Verdict.NONE
              and asked_before(context, result.kind, now, rule.window))
    actor = context.actor
    async with transaction(context.services.session_factory) as session:
        community = (await community_of(session, area_path=actor.area_path)
                     if actor is not None and actor.person_id is not None else None)
        warned = await service.record_check(
            session, kind=result.kind, verdict=result.verdict, community=community,
            repeat=repeat, now=now, rule=rule, rules=default_rules(),
            default_language=settings.default_language)
    dispatcher = context.services.dispatcher
    if warned and dispatcher is not None:
        dispatcher.wake()


ONLY_TEXT = N_("I can only check words, not pictures or voice messages. Please forward the "
               "message itself (press and hold it, then “Forward”), or copy its words and paste "
               "them here.")


async def on_forward(update: Update, context: BotContext) -> None:
    """A message forwarded to the bot in a private chat: always answered."""
    message = update.effective_message
    if message is None:
        return
    text = text_of(message)
    if text is None:
        await message.reply_text(context._(ONLY_TEXT))
        return
    await answer(context, message, text)


async def on_picture(update: Update, context: BotContext) -> None:
    """A picture sent (not forwarded) that no flow took, most likely a screenshot to check:
    say that only words can be checked and how, and where a photo report goes instead."""
    message = update.effective_message
    if message is not None:
        _ = context._
        await message.reply_text(_(ONLY_TEXT) + "\n\n" + _(
            "Want to report something to the community with this picture? Send /report."))


async def on_pasted(update: Update, context: BotContext) -> None:
    """Pasted text that looks like a scam (the filter checked it)."""
    message = update.effective_message
    if message is not None and message.text:
        await answer(context, message, message.text)


async def on_check(update: Update, context: BotContext) -> None:
    """/check as a reply to a message, or /check <text> in a private chat."""
    message = update.effective_message
    if message is None:
        return
    _ = context._
    private = message.chat.type == ChatType.PRIVATE
    target = message.reply_to_message
    if target is not None:
        text = text_of(target)
        if text is None:
            await message.reply_text(_(ONLY_TEXT))
            return
        await answer(context, target, text)
        return
    pasted = _COMMAND.sub("", message.text or "", count=1).strip()
    if private and pasted:
        await answer(context, message, pasted)
    elif private:
        await message.reply_text(_("Forward me the message you are unsure about, or paste its "
                                   "words here, and I will tell you what I think of it."))
    else:
        await message.reply_text(_("Reply to the message you want me to check with /check."))


async def _press_on_message(
    update: Update, context: BotContext, parse: Callable[[str], PressT | None],
) -> tuple[CallbackQuery, PressT, Message] | None:
    """The press, its data and the message it is on; a press whose data cannot be read or
    whose message the bot can no longer see is answered "no longer valid" and gives None."""
    pressed = await parsed_press(update, context, parse)
    if pressed is None:
        return None
    query, press = pressed
    if not isinstance(query.message, Message):
        await query.answer(context._("This button is no longer valid."))
        return None
    return query, press, query.message


async def on_button(update: Update, context: BotContext) -> None:
    """“Tell the community” (a fraud report from the checked message) or the matching tip."""
    pressed = await _press_on_message(update, context, cb.parse)
    if pressed is None:
        return
    query, press, message = pressed
    _ = context._
    if press.what == "tip":
        tip = service.tip_of(press.tip or "")
        if tip is None:
            await query.answer(_("This button is no longer valid."))
            return
        await query.answer()
        try:
            await query.edit_message_text(
                f"{message.text}\n\n💡 {tip.text(context.language)}",
                reply_markup=keyboards.without(message.reply_markup, query.data or ""))
        except BadRequest:  # shown already (a second press raced the first)
            pass
        return
    # A report is private: only the person in their own chat with the bot can start one.
    if message.chat.type != ChatType.PRIVATE or message.chat.id != query.from_user.id:
        await query.answer(_("This button is no longer valid."))
        return
    checked = message.reply_to_message
    words = _COMMAND.sub("", text_of(checked) or "", count=1).strip() if checked else ""
    if not words:
        await query.answer(_("I can no longer see that message. Please forward it to me "
                             "again."), show_alert=True)
        return
    await query.answer()
    await begin_fraud_report(context, query.from_user, message, words)


def _warning_buttons(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)
                                  for label, data in row] for row in rows])


def _carries_warning(message: Message, warning_id: int) -> bool:
    markup = message.reply_markup
    return markup is not None and any(
        (press := cb.parse_warning(str(button.callback_data))) is not None
        and press.warning_id == warning_id
        for row in markup.inline_keyboard for button in row)


async def on_warning(update: Update, context: BotContext) -> None:
    """An early warning's buttons: 📢 shows the send button with the count, ✅ sends the
    alert, ↩️ goes back. Only staff of the warning's community (or above it), every press."""
    pressed = await _press_on_message(update, context, cb.parse_warning)
    if pressed is None:
        return
    query, press, message = pressed
    _ = context._
    settings = context.services.settings
    async with transaction(context.services.session_factory) as session:
        warning = await session.get(ScamWarning, press.warning_id)
        community = (await session.get(Area, warning.community_id)
                     if warning is not None else None)
        if warning is None or community is None or warning.round != press.round:
            await query.answer(_("This button is no longer valid."))
            return
        spec = service.alert_audience(community.id)
        if not (can(context.actor, Permission.BROADCAST, area_path=community.path)
                and await may_target(session, context.actor, spec)):
            await query.answer(_("Sorry, only the staff of {community} can send this "
                                 "alert.").format(community=community.name), show_alert=True)
            return
        count = await count_audience(session, spec)
        sent = warning.sent_at is not None
        broadcast = None
        if not sent and press.what == "go" and count.people:
            assert context.actor is not None
            broadcast = await service.send_alert(
                session, warning=warning, round_number=press.round,
                actor_id=context.actor.person_id, now=now_of(context),
                default_language=settings.default_language, tz=settings.tz)
            sent = broadcast is None  # another press of this round was first
    if sent:
        await query.answer(_("This alert has already been sent."))
        if _carries_warning(message, warning.id):  # not another message a forged press named
            await message.edit_reply_markup(None)
        return
    if not count.people:
        await query.answer(_("No resident of {community} receives anti-fraud alerts "
                             "yet.").format(community=community.name), show_alert=True)
        return
    await query.answer()
    if broadcast is None:
        rows = ([[(_("✅ Send to {people} residents").format(people=count.people),
                   cb.warning("go", warning.id, warning.round))],
                 [(_("↩️ Not now"), cb.warning("no", warning.id, warning.round))]]
                if press.what == "ask" else
                [[(_("📢 Send it to the residents"), cb.warning("ask", warning.id,
                                                                warning.round))]])
        await message.edit_reply_markup(_warning_buttons(rows))
        return
    dispatcher = context.services.dispatcher
    if dispatcher is not None:
        dispatcher.wake()
    lines = [message.text or "", "", _("✅ Sent to {people} residents of {community}.").format(
        people=count.people, community=community.name)]
    if broadcast.not_before is not None:
        lines.append(_("Quiet hours: it will go out at {time}.").format(
            time=f"{broadcast.not_before.astimezone(settings.tz):%H:%M}"))
    await message.edit_text("\n".join(lines), reply_markup=None)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    private = filters.ChatType.PRIVATE
    message = filters.UpdateType.MESSAGE
    return [
        CommandHandler("check", on_check),
        CallbackQueryHandler(on_button, pattern=r"^sc:"),
        CallbackQueryHandler(on_warning, pattern=r"^scw:"),
        MessageHandler(private & message & filters.FORWARDED, on_forward),
        MessageHandler(private & message & (filters.PHOTO | filters.Document.IMAGE), on_picture),
        MessageHandler(private & message & filters.TEXT & ~filters.COMMAND & LooksLikeScam(),
                       on_pasted),
    ]


def install(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the handlers (call after every feature, before the free-text fallback)."""
    application.add_handlers(handlers())
