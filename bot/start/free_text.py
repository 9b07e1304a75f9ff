"""A private message no feature took. A name typed into a long list of areas searches
it; any other text gets the useful choices — report it, ask the committee, help — and
anything else a kind pointer to /help.

The choices quote the message, and Telegram sends the quoted message back with a press,
so the text needs no storing in between."""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot import middleware
from bot.context import BotContext
from bot.start import registration
from bot.start.callbacks import FREE_TEXT_PATTERN, parse_free_text
from bot.start.keyboards import free_text_keyboard
from bot.tipoffs import intake


async def answer(update: Update, context: BotContext) -> None:
    """Last in group 0: runs only when no feature took the message."""
    if await registration.search_typed(update, context):
        return
    message = update.effective_message
    if message is None or not message.text or context.actor is None:
        await middleware.not_understood(update, context)
        return
    _ = context._
    await message.reply_text(
        _("What would you like to do with this message?"), do_quote=True,
        reply_markup=free_text_keyboard(report=_("📷 Report it to the community"),
                                        ask=_("💬 Ask the community staff"),
                                        help_=_("❓ What else can you do?")))


async def pressed(update: Update, context: BotContext) -> None:
    """Report the quoted message, ask it as a question, or show the help."""
    query = update.callback_query
    if query is None:
        return
    _ = context._
    what = parse_free_text(query.data)
    message = query.message if isinstance(query.message, Message) else None
    quoted = message.reply_to_message if message is not None else None
    text = quoted.text if quoted is not None else None
    if (what is None or message is None or quoted is None or not text
            or quoted.from_user is None or quoted.from_user.id != query.from_user.id):
        await query.answer(_("This button is no longer valid."))
        return
    await query.answer()
    if what == "ask":  # the same message asks whether to give the name: it quotes the text
        from bot.questions import handlers as questions

        await questions.ask_text(update, context, message)
        return
    await message.edit_reply_markup(None)
    if what == "report":
        await intake.report_text(context, query.from_user, message, text)
    else:
        from bot.start.handlers import show_help

        await show_help(update, context)


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [CallbackQueryHandler(pressed, pattern=FREE_TEXT_PATTERN)]
