"""What every schedules screen shares: who may use them, and the two polite refusals."""

from __future__ import annotations

from telegram import Message, Update

from bot.auth import Permission, can
from bot.context import BotContext


def is_staff(context: BotContext) -> bool:
    return can(context.actor, Permission.BROADCAST)


async def refuse(update: Update, context: BotContext) -> None:
    """A clear "not for you" (an alert on a button, a reply to a message); changes nothing."""
    text = context._("Sorry, only community staff can manage scheduled messages.")
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)


async def staff_message(update: Update, context: BotContext) -> Message | None:
    """The command's message if staff sent it; otherwise refuse, and None."""
    message = update.effective_message
    if message is None:
        return None
    if not is_staff(context):
        await refuse(update, context)
        return None
    return message


async def gone(update: Update, context: BotContext) -> None:
    """A forged button, or one from a screen that is over."""
    assert update.callback_query is not None
    await update.callback_query.answer(context._("This button is no longer valid."),
                                       show_alert=True)


def actor_id(context: BotContext) -> int | None:
    """Who acts, for the audit log (None when the actor is not in the directory)."""
    return context.actor.person_id if context.actor is not None else None
