"""/mydata, and forget-me: offered by /leave, confirmed first, then done at once."""

from __future__ import annotations

import logging
import re

from telegram import BotCommandScopeChat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.handler_utils import asked_in_private
from bot.i18n import LANGUAGE_NAMES, Translate
from bot.privacy import service

logger = logging.getLogger(__name__)

PATTERN = re.compile(r"^pv:(ask|yes|no)$")


def forget_button(_: Translate) -> InlineKeyboardButton:
    """For /leave: leave and have everything about me deleted."""
    return InlineKeyboardButton(_("🗑 Leave and delete my data"), callback_data="pv:ask")


def _known(context: BotContext) -> bool:
    actor = context.actor
    return actor is not None and actor.person_id is not None and actor.role is not None


async def show_my_data(update: Update, context: BotContext) -> None:
    """Everything the bot keeps about the sender, as a short text (private chats only)."""
    message = update.effective_message
    if message is None:
        return
    _ = context._
    if not await asked_in_private(update, context):
        return
    if not _known(context):
        await message.reply_text(_("I do not keep anything about you."))
        return
    assert context.actor is not None and context.actor.person_id is not None
    async with context.services.session_factory() as session:
        data = await service.my_data(session, person_id=context.actor.person_id)
    if data is None:
        await message.reply_text(_("I do not keep anything about you."))
        return
    from bot.directory.handlers import ROLE_TEXT
    from bot.start.registration import TOPIC_LABELS

    none = _("none")
    lines = [
        _("This is everything I keep about you:"),
        _("Name: {name}").format(name=data.name),
        _("Telegram: {id}").format(id=data.telegram_id)
        + (f" (@{data.username})" if data.username else ""),
        _("Phone: {phone}").format(phone=data.phone or none),
        _("Role: {role}").format(role=_(ROLE_TEXT[data.role])),
        _("Area: {area}").format(area=data.area or _("not chosen yet")),
        _("Language: {language}").format(
            language=LANGUAGE_NAMES.get(data.language or "", _("as in Telegram"))),
        _("Teams: {teams}").format(teams=", ".join(data.teams) or none),
        _("Earlier teams: {teams}").format(teams=", ".join(data.past_teams) or none),
        _("Receiving: {topics}").format(
            topics=", ".join(_(TOPIC_LABELS[t]) for t in data.topics) or none),
        _("Reports: {references}").format(references=", ".join(data.reports) or none),
        _("Questions: {references}").format(references=", ".join(data.questions) or none),
        "",
        _("To have all of it deleted, send /leave."),
    ]
    await message.reply_text("\n".join(lines))


async def pressed(update: Update, context: BotContext) -> None:
    """Ask to confirm; on yes, forget the presser (only ever themselves) in one transaction."""
    query = update.callback_query
    if query is None:
        return
    _ = context._
    match = PATTERN.match(query.data or "")
    actor = context.actor
    if (match is None or not _known(context) or actor is None or actor.person_id is None
            or query.from_user.id != actor.telegram_id):
        await query.answer(_("This button is no longer valid."))
        return
    await query.answer()
    what = match.group(1)
    if what == "no":
        await query.edit_message_text(_("Good, nothing has changed."))
        return
    if what == "ask":
        await query.edit_message_text(
            _("This deletes your name, phone number, Telegram account, where you live, what "
              "you receive and your teams. Your reports stay, without your name, so the "
              "community's figures stay right. This cannot be undone. Delete everything?"),
            reply_markup=InlineKeyboardMarkup([
                [InlineKeyboardButton(_("Yes, delete my data"), callback_data="pv:yes")],
                [InlineKeyboardButton(_("No, keep it"), callback_data="pv:no")]]))
        return
    async with transaction(context.services.session_factory) as session:
        await service.forget(session, person_id=actor.person_id, actor_id=actor.person_id,
                             now=utcnow())
    logger.info("A person asked to be forgotten; done")
    await query.edit_message_text(_("Done: I have deleted your data. Take care, and if you "
                                    "ever want to come back, send /start."))
    try:
        await context.bot.delete_my_commands(scope=BotCommandScopeChat(query.from_user.id))
    except TelegramError:  # a menu is a convenience
        logger.info("Could not remove a forgotten person's menu")


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("mydata", show_my_data),
        CallbackQueryHandler(pressed, pattern=PATTERN),
    ]
