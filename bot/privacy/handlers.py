"""/mydata, and forget-me: offered by /leave, confirmed first, then done at once; or done
by staff of the person's area on their request, from /people."""

from __future__ import annotations

import logging
import re

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import BotCommandScopeChat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.auth import Permission, can, directory_scope
from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.directory.models import Person, Role
from bot.directory.people import PersonSummary, person_in_scope
from bot.handler_utils import acting_person_id, in_private, private_message
from bot.i18n import LANGUAGE_NAMES, Translate
from bot.persistence import forget_in_memory
from bot.privacy import service

logger = logging.getLogger(__name__)

PATTERN = re.compile(r"^pv:(ask|yes|no)$")
# Staff forgetting someone on their request: ask, yes, no; the person's id.
STAFF_PATTERN = re.compile(r"^pv:(sa|sy|sn):(\d{1,12})$")
# Staff may forget only these; staff and administrators leave by themselves.
FORGETTABLE_ROLES = frozenset({Role.RESIDENT, Role.MEMBER})


def forget_button(_: Translate) -> InlineKeyboardButton:
    """For /leave: leave and have everything about me deleted."""
    return InlineKeyboardButton(_("🗑 Leave and delete my data"), callback_data="pv:ask")


def staff_forget_buttons(_: Translate,
                         found: list[PersonSummary]) -> list[list[InlineKeyboardButton]]:
    """For /people: one button per resident or team member found, to forget them when they
    ask staff to (pressing only asks first; the press is checked again)."""
    return [[InlineKeyboardButton(_("🗑 Delete {name}'s data at their request").format(
                 name=p.name), callback_data=f"pv:sa:{p.id}")]
            for p in found if p.role in FORGETTABLE_ROLES and p.name != service.PLACEHOLDER]


def _known(context: BotContext) -> bool:
    actor = context.actor
    return actor is not None and actor.person_id is not None and actor.role is not None


async def show_my_data(update: Update, context: BotContext) -> None:
    """Everything the bot keeps about the sender, as a short text (private chats only)."""
    message = await private_message(update, context)
    if message is None:
        return
    _ = context._
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
    forget_in_memory(context.application, [query.from_user.id])
    logger.info("A person asked to be forgotten; done")
    await query.edit_message_text(_("Done: I have deleted your data. Take care, and if you "
                                    "ever want to come back, send /start."))
    await _drop_menu(context, query.from_user.id)


async def _drop_menu(context: BotContext, telegram_id: int) -> None:
    try:
        await context.bot.delete_my_commands(scope=BotCommandScopeChat(telegram_id))
    except TelegramError:  # a menu is a convenience
        logger.info("Could not remove a forgotten person's menu")


async def _forgettable_by_actor(context: BotContext, session: AsyncSession,
                                person_id: int) -> Person | None:
    """The person, when the presser is staff (or an administrator) whose area holds them and
    they are a resident or team member; None otherwise (read afresh on every press)."""
    actor = context.actor
    scope = directory_scope(actor)
    if scope is None or actor is None or not can(actor, Permission.MANAGE_DIRECTORY):
        return None
    person = await session.get(Person, person_id)
    if (person is None or person.name == service.PLACEHOLDER
            or person.role not in FORGETTABLE_ROLES
            or person.unconfirmed_role in {Role.STAFF, Role.ADMIN}
            or person.telegram_id in context.services.settings.admin_ids
            or person.id == actor.person_id):
        return None
    if not await person_in_scope(session, person_id=person_id, scope_path=scope):
        return None
    return person


async def staff_pressed(update: Update, context: BotContext) -> None:
    """Staff forget a person of their area who asked them to: confirm first, naming what
    goes; then the same forgetting as forget-me, audited with the staff member as actor."""
    query = update.callback_query
    if query is None:
        return
    from bot.directory.handlers import refuse

    _ = context._
    match = STAFF_PATTERN.match(query.data or "")
    if match is None:
        await query.answer(_("This button is no longer valid."))
        return
    if not await in_private(update, context):
        return
    what, person_id = match.group(1), int(match.group(2))
    if what == "sn":
        await query.answer()
        await query.edit_message_text(_("Good, nothing has changed."))
        return
    async with transaction(context.services.session_factory) as session:
        person = await _forgettable_by_actor(context, session, person_id)
        name, telegram_id = (person.name, person.telegram_id) if person else ("", None)
        if person is not None and what == "sy":
            assert context.actor is not None
            actor_id = await acting_person_id(session, context.actor, query.from_user)
            await service.forget(session, person_id=person_id, actor_id=actor_id,
                                 now=utcnow(), reason="PIPL art. 47, asked staff")
    if person is None:
        await refuse(update, context)
        return
    if what == "sy":
        forget_in_memory(context.application, [telegram_id])
    await query.answer()
    if what == "sa":
        await query.edit_message_text(
            _("Has {name} asked you to delete their data? This deletes their name, phone "
              "number, Telegram account, where they live, what they receive and their teams. "
              "Their reports stay, without their name, so the community's figures stay "
              "right. This cannot be undone.").format(name=name),
            reply_markup=InlineKeyboardMarkup([
                [InlineKeyboardButton(_("Yes, delete {name}'s data").format(name=name),
                                      callback_data=f"pv:sy:{person_id}")],
                [InlineKeyboardButton(_("No, keep it"), callback_data=f"pv:sn:{person_id}")]]))
        return
    logger.info("Staff forgot a person on their request; done")
    await query.edit_message_text(_("Done: {name}'s data is deleted. Their reports still "
                                    "count, without their name.").format(name=name))
    if telegram_id is not None:
        await _drop_menu(context, telegram_id)


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("mydata", show_my_data),
        CallbackQueryHandler(pressed, pattern=PATTERN),
        CallbackQueryHandler(staff_pressed, pattern=STAFF_PATTERN),
    ]
