"""/start, /help, /language and the language buttons."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.auth import Standing
from bot.commands import commands_for, publish_personal_menu
from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.directory.invites import InviteOutcome, InviteRace, Redemption, redeem_invite
from bot.directory.models import InviteRole
from bot.directory.people import (
    AwaitingConfirmation,
    awaiting_confirmation,
    load_actor,
    match_by_username,
    register_person,
    set_language,
)
from bot.handler_utils import identity_of
from bot.i18n import N_
from bot.start import free_text, me, registration
from bot.start.callbacks import LANGUAGE_PATTERN, parse_language
from bot.start.keyboards import language_keyboard
from bot.tipoffs.keyboards import report_entry

logger = logging.getLogger(__name__)


async def start(update: Update, context: BotContext) -> None:
    """Register the person if new, greet them and offer the languages."""
    message = update.effective_message
    if message is None or update.effective_user is None:
        return
    _ = context._
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await message.reply_text(_("Hello! Talk to me in a private chat to get started."))
        return
    identity = identity_of(update.effective_user)
    if context.args:
        # A deep link: `/start <invite token>`. A refused link changes nothing.
        if not await join_by_invite(update, context, context.args[0]):
            return
    else:
        settings = context.services.settings
        async with transaction(context.services.session_factory) as session:
            # Someone a roster listed by Telegram username is recognised on their first /start
            # (as a team member: a staff role or leadership on the list waits for proof).
            matched = await match_by_username(session, identity=identity)
            await register_person(session, identity=identity)
            waiting: list[AwaitingConfirmation] = []
            if matched is not None:
                context.actor = await load_actor(session, identity=identity,
                                                 default_language=settings.default_language,
                                                 admin_ids=settings.admin_ids)
                waiting = await awaiting_confirmation(session, scope_path="/",
                                                      person_ids=[matched.id])
        if matched is not None:
            await message.reply_text(
                _("Found you, {name}! You are now connected to your teams. Send /me to see them.")
                .format(name=matched.name))
            if waiting:
                await message.reply_text(
                    _("The list also names you as community staff or a team leader. A staff "
                      "member will confirm that soon; until then you take part as a team "
                      "member. If this Telegram account uses the phone number on the list, "
                      "share it with the button below to confirm it at once."),
                    reply_markup=registration.phone_keyboard(_))
            if context.actor is not None:
                await publish_personal_menu(context.bot, context.actor)
    await message.reply_text(
        _("Hello, {name}! I am your community's safety assistant. I bring you safety tips "
          "and urgent notices, and you can tell me about problems around you at any time."
          "\n\nPlease choose your language:").format(name=identity.name),
        reply_markup=language_keyboard(),
    )


async def show_help(update: Update, context: BotContext) -> None:
    """List the commands this person may use, and nothing more."""
    message = update.effective_message
    if message is None:
        return
    _ = context._
    standing = context.actor.standing if context.actor else Standing.STRANGER
    lines = [_("Here is what I can do for you:"), ""]
    for spec in commands_for(standing):
        lines.append(f"/{spec.name} — {_(spec.description)}")
    await message.reply_text("\n".join(lines))


async def ask_language(update: Update, context: BotContext) -> None:
    """Offer the languages again."""
    if update.effective_message is None:
        return
    await update.effective_message.reply_text(
        context._("Please choose your language:"), reply_markup=language_keyboard()
    )


async def language_chosen(update: Update, context: BotContext) -> None:
    """Save the chosen language and answer in it from now on."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    language = parse_language(query.data)
    if language is None:
        await query.answer(context._("This button is no longer valid."))
        return
    identity = identity_of(query.from_user)
    settings = context.services.settings
    async with transaction(context.services.session_factory) as session:
        await set_language(session, identity=identity, language=language)
        context.actor = await load_actor(session, identity=identity,
                                         default_language=settings.default_language,
                                         admin_ids=settings.admin_ids)
    context.chat_language = None
    _ = context.tr(language)
    await query.answer()
    # One call to action at a time: where you live first (the report button follows when
    # registration is done), else the report button at once.
    registering = await registration.needs_home(context)
    await query.edit_message_text(
        _("Done! I will talk to you in English from now on. Send /help to see what I can do."),
        reply_markup=None if registering else report_entry(_),  # 📷 report: starts /report
    )
    await publish_personal_menu(context.bot, context.actor)
    if registering:
        await registration.offer_registration(update, context)


INVITE_REFUSALS = {
    InviteOutcome.UNKNOWN: N_("Sorry, this invite link is not valid. Please ask the person "
                              "who gave it to you for a new one."),
    InviteOutcome.EXPIRED: N_("Sorry, this invite link has expired. Please ask the person "
                              "who gave it to you for a new one."),
    InviteOutcome.USED_UP: N_("Sorry, this invite link has already been used as many times "
                              "as allowed. Please ask for a new one."),
}


async def join_by_invite(update: Update, context: BotContext, token: str) -> bool:
    """Redeem an invite token; say what happened. True when the person may carry on."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None and user is not None
    _ = context._
    identity = identity_of(user)
    settings = context.services.settings
    try:
        async with transaction(context.services.session_factory) as session:
            result = await redeem_invite(session, token=token, identity=identity, now=utcnow())
            if result.outcome in {InviteOutcome.JOINED, InviteOutcome.ALREADY}:
                context.actor = await load_actor(session, identity=identity,
                                                 default_language=settings.default_language,
                                                 admin_ids=settings.admin_ids)
    except InviteRace:
        result = Redemption(InviteOutcome.USED_UP)
    logger.info("Invite link followed: %s", result.outcome.value, extra={"telegram_id": user.id})
    if result.outcome in INVITE_REFUSALS:
        await message.reply_text(_(INVITE_REFUSALS[result.outcome]))
        return False
    if result.outcome is InviteOutcome.ALREADY:
        await message.reply_text(_("You have already joined with this link. Welcome back!"))
    elif result.role is InviteRole.STAFF:
        await message.reply_text(_("Welcome! You are now on the staff of {area}.")
                                 .format(area=result.area_name))
    elif result.role is InviteRole.LEADER:
        await message.reply_text(_("Welcome! You are now a leader of {team}.")
                                 .format(team=result.team_name))
    else:
        await message.reply_text(_("Welcome! You have joined {team}.")
                                 .format(team=result.team_name))
    if context.actor is not None:
        await publish_personal_menu(context.bot, context.actor)
    return True


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("start", start),
        CommandHandler("help", show_help),
        CommandHandler("language", ask_language),
        CallbackQueryHandler(language_chosen, pattern=LANGUAGE_PATTERN),
        *registration.handlers(),
        *me.handlers(),
        *free_text.handlers(),
    ]
