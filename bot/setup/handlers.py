"""/setup CODE in a private chat makes the sender the first admin."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CommandHandler

from bot.commands import publish_personal_menu
from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.directory.people import load_actor
from bot.handler_utils import identity_of
from bot.setup.service import AttemptLimiter, Redemption, redeem_setup_code

logger = logging.getLogger(__name__)


def _limiter(context: BotContext) -> AttemptLimiter:
    return context.services.extras.setdefault("setup_attempts", AttemptLimiter())


async def setup_admin(update: Update, context: BotContext) -> None:
    """Check the code (rate-limited), then say plainly what happened."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    _ = context._
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await message.reply_text(_("For safety, send the setup code to me in a private chat."))
        return
    if not context.args:
        await message.reply_text(_("Please send the code with the command, like this: "
                                   "/setup ABCD-EFGH"))
        return
    if not _limiter(context).allow(user.id):
        await message.reply_text(_("Too many tries. Please wait ten minutes and try again."))
        return
    identity = identity_of(user)
    settings = context.services.settings
    async with transaction(context.services.session_factory) as session:
        outcome = await redeem_setup_code(session, identity=identity, code="".join(context.args),
                                          now=utcnow())
        if outcome is Redemption.OK:
            context.actor = await load_actor(session, identity=identity,
                                             default_language=settings.default_language,
                                             admin_ids=settings.admin_ids)
    replies = {
        Redemption.OK: _("You are now the administrator of this bot. Send /help to see "
                         "what you can do."),
        Redemption.WRONG: _("That code is not right. Please check it and try again."),
        Redemption.USED: _("That code has already been used. Each code works only once."),
        Redemption.EXPIRED: _("That code has expired. Restart the bot to get a new one."),
    }
    logger.info("Setup code attempt: %s", outcome.value, extra={"telegram_id": user.id})
    await message.reply_text(replies[outcome])
    if outcome is Redemption.OK and context.actor is not None:
        await publish_personal_menu(context.bot, context.actor)


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [CommandHandler("setup", setup_admin)]
