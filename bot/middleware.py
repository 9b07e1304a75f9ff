"""What runs for every update before and after the features: who is acting, and errors."""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import select
from telegram import Update
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.context import BotContext
from bot.db import reading
from bot.directory.models import Chat
from bot.directory.people import load_actor
from bot.handler_utils import identity_of
from bot.i18n import normalize_language

logger = logging.getLogger(__name__)


async def load_actor_for_update(update: Update, context: BotContext) -> None:
    """Group -1: load the acting person (one read) and the group's language. Reads only,
    so it does not wait for another update's write transaction (a roster's import)."""
    settings = context.services.settings
    async with reading(context.services.session_factory) as session:
        if update.effective_user is not None:
            context.actor = await load_actor(
                session, identity=identity_of(update.effective_user),
                default_language=settings.default_language, admin_ids=settings.admin_ids,
            )
        chat = update.effective_chat
        if chat is not None and chat.type != ChatType.PRIVATE:
            language = await session.scalar(
                select(Chat.language).where(Chat.telegram_chat_id == chat.id)
            )
            context.chat_language = language or settings.default_language


async def ignore_other_bots(update: Update, context: BotContext) -> None:
    """Group -2: other bots' messages are never requests."""
    if update.effective_user is not None and update.effective_user.is_bot:
        raise ApplicationHandlerStop


async def report_error(update: object, context: BotContext) -> None:
    """Log the error with the update id first, then tell the person kindly, without internals."""
    update_id = update.update_id if isinstance(update, Update) else None
    if _not_modified(context.error):
        # A double tap: the screen the press asks for is already shown. Nothing went wrong.
        logger.debug("Update %s asked for the screen already shown", update_id)
        if isinstance(update, Update) and update.callback_query is not None:
            with contextlib.suppress(TelegramError):
                await update.callback_query.answer()
        return
    logger.error("Error while handling update %s", update_id, exc_info=context.error,
                 extra={"update_id": update_id})
    if not isinstance(update, Update):
        return
    # The error handler gets a fresh context: find the person's language again.
    if context.actor is None and update.effective_user is not None:
        try:
            await load_actor_for_update(update, context)
        except Exception:  # the database may be what failed; answer in Telegram's language
            context.chat_language = normalize_language(
                update.effective_user.language_code, context.services.settings.default_language
            )
    _ = context._
    text = _("Sorry, something went wrong on my side. Please try again in a moment.")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(text)
    except Exception:  # the apology itself failed; the log line above is what matters
        logger.warning("Could not tell the user about error in update %s", update_id)


def _not_modified(error: BaseException | None) -> bool:
    return isinstance(error, BadRequest) and "not modified" in error.message.lower()


async def not_understood(update: Update, context: BotContext) -> None:
    """A private message no feature took: point kindly to /help instead of silence."""
    message = update.effective_message
    if message is None or context.actor is None:
        return
    await message.reply_text(context._("Sorry, I did not understand that. Send /help to see "
                                       "what I can do."))
