"""Asking the bot about a message: forward it, paste it, or reply to it with /check.

What the feature registers comes last in group 0, after every conversation and draft (a
report being written takes its own messages first) and just before the free-text fallback:
a forwarded message, or pasted text that looks like a scam, is answered here instead of
falling through to it. Ordinary pasted text is left to the fallback.
"""

from __future__ import annotations

import re
from typing import Any

from telegram import Message, ReplyParameters, Update
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

from bot.broadcasting.service import default_tip_library
from bot.context import BotContext
from bot.i18n import N_
from bot.scamcheck import callbacks as cb
from bot.scamcheck import keyboards, render
from bot.scamcheck.checker import Verdict, check
from bot.scamcheck.rules import default_rules
from bot.tipoffs.intake import begin_fraud_report

_COMMAND = re.compile(r"^/check(@\w+)?\s*", re.IGNORECASE)


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


async def on_button(update: Update, context: BotContext) -> None:
    """“Tell the community” (a fraud report from the checked message) or the matching tip."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    _ = context._
    press = cb.parse(query.data)
    message = query.message
    if press is None or not isinstance(message, Message):
        await query.answer(_("This button is no longer valid."))
        return
    if press.what == "tip":
        tip = next((t for t in default_tip_library()
                    if t.id == press.tip and t.category == "anti_fraud"), None)
        if tip is None:
            await query.answer(_("This button is no longer valid."))
            return
        await query.answer()
        try:
            await query.edit_message_text(
                f"{message.text}\n\n💡 {tip.text(context.language)}",
                reply_markup=keyboards.without(message.reply_markup, query.data))
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


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    private = filters.ChatType.PRIVATE
    message = filters.UpdateType.MESSAGE
    return [
        CommandHandler("check", on_check),
        CallbackQueryHandler(on_button, pattern=r"^sc:"),
        MessageHandler(private & message & filters.FORWARDED, on_forward),
        MessageHandler(private & message & filters.TEXT & ~filters.COMMAND & LooksLikeScam(),
                       on_pasted),
    ]


def install(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the handlers (call after every feature, before the free-text fallback)."""
    application.add_handlers(handlers())
