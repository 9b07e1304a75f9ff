"""Group chats: the bot joining and leaving, /link and /unlink, the group's /language,
people blocking the bot, and groups becoming supergroups.

Every command and every button press asks `bot.auth.can` (through `service.may_link` /
`may_manage_chat`); a refusal says so plainly and changes nothing.
"""

from __future__ import annotations

import logging

from telegram import CallbackQuery, ChatMember, ChatMemberUpdated, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.auth import Permission, can
from bot.chats import service
from bot.chats.callbacks import LANGUAGE_PATTERN, LINK_PATTERN, parse_language, parse_link
from bot.chats.keyboards import language_keyboard, link_keyboard, page_count, target_label
from bot.context import BotContext
from bot.db import transaction
from bot.i18n import LANGUAGE_NAMES, Translate

logger = logging.getLogger(__name__)

PRESENT = {ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
GONE = {ChatMemberStatus.LEFT, ChatMemberStatus.BANNED}


def _is_present(member: ChatMember) -> bool:
    if member.status == ChatMemberStatus.RESTRICTED:
        return bool(getattr(member, "is_member", False))
    return member.status in PRESENT


def _can_pin(member: ChatMember) -> bool:
    if member.status == ChatMemberStatus.OWNER:
        return True
    return member.status == ChatMemberStatus.ADMINISTRATOR and bool(
        getattr(member, "can_pin_messages", False))


def _thread_of(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


def _hello(_: Translate, can_pin: bool) -> str:
    text = _("Hello everyone! I am the community safety assistant. I will share safety tips "
             "and urgent notices here.\n\nA community staff member can send /link in this "
             "group to connect it to its team or area.")
    if not can_pin:
        text += "\n\n" + _("Tip: make me an administrator who may pin messages, so urgent "
                           "alerts stay at the top of the group.")
    return text


# -- the bot's own membership ---------------------------------------------------------------

async def my_membership_changed(update: Update, context: BotContext) -> None:
    """The bot was added, promoted, removed or blocked: record it; greet a group it joined."""
    change: ChatMemberUpdated | None = update.my_chat_member
    if change is None:
        return
    chat = change.chat
    member = change.new_chat_member
    factory = context.services.session_factory
    if chat.type == ChatType.PRIVATE:
        async with transaction(factory) as session:
            await service.set_private_blocked(
                session, telegram_id=chat.id, blocked=member.status in GONE)
        logger.info("Private chat %s", "blocked" if member.status in GONE else "open again",
                    extra={"chat_id": chat.id})
        return
    if chat.type not in service.GROUP_TYPES:
        return  # channels are not used
    async with transaction(factory) as session:
        if _is_present(member):
            registration = await service.register_group(
                session, telegram_chat_id=chat.id, chat_type=chat.type, title=chat.title or "",
                can_pin=_can_pin(member))
        else:
            await service.mark_removed(session, telegram_chat_id=chat.id)
            registration = None
    if registration is None:
        logger.info("Removed from group %s", chat.id, extra={"chat_id": chat.id})
    elif registration.arrived:
        await context.bot.send_message(chat.id, _hello(context._, registration.chat.can_pin))


async def members_joined(update: Update, context: BotContext) -> None:
    """The `new_chat_members` service message: the same arrival, seen from the group."""
    message = update.effective_message
    if message is None or not any(u.id == context.bot.id for u in message.new_chat_members):
        return
    chat = message.chat
    async with transaction(context.services.session_factory) as session:
        registration = await service.register_group(
            session, telegram_chat_id=chat.id, chat_type=chat.type, title=chat.title or "")
    if registration.arrived:
        await message.reply_text(_hello(context._, registration.chat.can_pin))


async def member_left(update: Update, context: BotContext) -> None:
    """The `left_chat_member` service message about the bot itself."""
    message = update.effective_message
    if message is None or message.left_chat_member is None:
        return
    if message.left_chat_member.id != context.bot.id:
        return
    async with transaction(context.services.session_factory) as session:
        await service.mark_removed(session, telegram_chat_id=message.chat.id)


async def chat_migrated(update: Update, context: BotContext) -> None:
    """A group became a supergroup: follow it to its new id (either service message)."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat.id
    else:
        return
    async with transaction(context.services.session_factory) as session:
        await service.follow_migration(session, old_chat_id=old, new_chat_id=new,
                                       title=message.chat.title)
    logger.info("Group %s migrated to %s", old, new, extra={"chat_id": new})


# -- /link, /unlink ---------------------------------------------------------------------------

async def _in_group(update: Update, context: BotContext) -> Message | None:
    """The message if it was sent in a group; otherwise explain where to send it."""
    message = update.effective_message
    if message is None:
        return None
    if message.chat.type not in service.GROUP_TYPES:
        await message.reply_text(context._("Please send this command inside the group chat "
                                           "you want to set up."))
        return None
    return message


async def _in_group_by_manager(update: Update, context: BotContext,
                               refusal: str) -> Message | None:
    """The message if staff or a team leader sent it in a group; otherwise explain where
    to send it, or reply `refusal`."""
    message = await _in_group(update, context)
    if message is None:
        return None
    if not can(context.actor, Permission.MANAGE_TEAM):
        await message.reply_text(refusal)
        return None
    return message


async def link(update: Update, context: BotContext) -> None:
    """Offer the teams and areas this person may link the group to."""
    _ = context._
    message = await _in_group_by_manager(update, context, _(
        "Sorry, only community staff or a team leader can link this group."))
    if message is None:
        return
    assert context.actor is not None
    async with transaction(context.services.session_factory) as session:
        await service.register_group(session, telegram_chat_id=message.chat.id,
                                     chat_type=message.chat.type, title=message.chat.title or "")
        targets = await service.link_targets(session, actor=context.actor)
        current = await service.current_link(session, telegram_chat_id=message.chat.id)
    held = service.link_held_by_others(context.actor, current)
    if held is not None:
        await message.reply_text(_already_linked(held, _))
        return
    if not targets:
        await message.reply_text(_("There is no team or area you can link this group to yet."))
        return
    text = _("Which team or area does this group belong to?")
    if current.target is not None:
        text = _("This group is linked to {target} now.").format(
            target=target_label(current.target, _)) + "\n" + text
    # Quoting the /link says whose picker it is: only they may turn its pages or close it.
    await message.reply_text(text, reply_markup=link_keyboard(targets, 0, _), do_quote=True)


def _opened_by_presser(query: CallbackQuery) -> bool:
    """Whether the presser sent the /link this picker answers (the picker quotes it)."""
    message = query.message
    asked = message.reply_to_message if isinstance(message, Message) else None
    return (asked is not None and asked.from_user is not None
            and asked.from_user.id == query.from_user.id)


async def link_chosen(update: Update, context: BotContext) -> None:
    """A press on the link choices: link, turn the page, or close — if this person may."""
    query = update.callback_query
    if query is None or query.data is None or query.message is None:
        return
    _ = context._
    choice = parse_link(query.data)
    if choice is None:
        await query.answer(_("This button is no longer valid."))
        return
    if not can(context.actor, Permission.MANAGE_TEAM):
        await query.answer(_("Sorry, only community staff or a team leader can do this."),
                           show_alert=True)
        return
    assert context.actor is not None
    actor = context.actor
    chat = query.message.chat
    thread_id = _thread_of(query.message) if isinstance(query.message, Message) else None
    refusal: str | None = None
    targets: list[service.Target] = []
    target: service.Target | None = None
    # Every press of the picker, not only the one that links, asks whether this person
    # may change the group's current link: the data may be forged.
    async with transaction(context.services.session_factory) as session:
        held = service.link_held_by_others(
            actor, await service.current_link(session, telegram_chat_id=chat.id))
        if held is not None:
            refusal = _already_linked(held, _)
        elif (choice.cancel or choice.page is not None) and not _opened_by_presser(query):
            # Someone else's picker: its page would show this person's teams in the group,
            # and closing it would take it from whoever asked.
            refusal = _("These buttons belong to whoever sent /link. Send /link yourself to "
                        "choose.")
        elif choice.page is not None:
            targets = await service.link_targets(session, actor=actor)
        elif choice.target_kind is not None and choice.target_id is not None:
            target = await service.load_target(session, kind=choice.target_kind,
                                               target_id=choice.target_id)
            if target is None:
                refusal = _("This button is no longer valid.")
            elif not service.may_link(actor, target):
                refusal = _("Sorry, you may not link a group to {target}.").format(
                    target=target_label(target, _))
            else:
                registered = (await service.register_group(
                    session, telegram_chat_id=chat.id, chat_type=chat.type,
                    title=chat.title or "")).chat
                await service.link_chat(session, chat=registered, target=target,
                                        thread_id=thread_id, actor_id=actor.person_id)
    if refusal is not None:
        await query.answer(refusal, show_alert=True)
        return
    await query.answer()
    if choice.cancel:
        await query.edit_message_text(_("All right, nothing was changed."))
    elif choice.page is not None:
        if not targets or choice.page >= page_count(targets):
            await query.edit_message_text(_("This button is no longer valid."))
            return
        await query.edit_message_reply_markup(link_keyboard(targets, choice.page, _))
    elif target is not None:
        await query.edit_message_text(
            _("Done! This group is now linked to {target}. Notices for it will arrive here.")
            .format(target=target_label(target, _)))


def _already_linked(current: service.Target, _: Translate) -> str:
    """The refusal to re-link another team's or community's group: whose it is, who may."""
    if current.kind is service.TargetKind.TEAM:
        text = _("This group is already linked to {target}. Only that team's leader or the "
                 "staff of its community can change this.")
    else:
        text = _("This group is already linked to {target}. Only the staff of that community "
                 "can change this.")
    return text.format(target=target_label(current, _))


async def unlink(update: Update, context: BotContext) -> None:
    """Remove the group's link, if this person may manage what it is linked to."""
    _ = context._
    message = await _in_group_by_manager(update, context, _(
        "Sorry, only community staff or a team leader can unlink this group."))
    if message is None:
        return
    async with transaction(context.services.session_factory) as session:
        current = await service.current_link(session, telegram_chat_id=message.chat.id)
        if current.chat is None or current.target is None:
            reply = _("This group is not linked to any team or area.")
        elif not service.may_link(context.actor, current.target):
            reply = _("Sorry, you may not unlink a group from {target}.").format(
                target=target_label(current.target, _))
        else:
            await service.unlink_chat(session, chat=current.chat,
                                      actor_id=context.actor.person_id if context.actor else None)
            reply = _("Done. This group is no longer linked to {target}.").format(
                target=target_label(current.target, _))
    await message.reply_text(reply)


# -- the group's language ---------------------------------------------------------------------

async def group_language(update: Update, context: BotContext) -> None:
    """/language in a group: staff choose the language the bot uses there."""
    message = update.effective_message
    if message is None:
        return
    _ = context._
    async with context.services.session_factory() as session:
        current = await service.current_link(session, telegram_chat_id=message.chat.id)
    if not service.may_manage_chat(context.actor, current.target):
        await message.reply_text(_("Sorry, only community staff can change this group's "
                                   "language. You can change your own in a private chat "
                                   "with me."))
        return
    await message.reply_text(_("Which language should I use in this group?"),
                             reply_markup=language_keyboard())


async def group_language_chosen(update: Update, context: BotContext) -> None:
    """Save the group's language if the presser may, and confirm in it."""
    query = update.callback_query
    if query is None or query.data is None or query.message is None:
        return
    language = parse_language(query.data)
    if language is None:
        await query.answer(context._("This button is no longer valid."))
        return
    chat = query.message.chat
    if chat.type not in service.GROUP_TYPES:  # a forged press in a private chat
        await query.answer(context._("This button is no longer valid."))
        return
    async with transaction(context.services.session_factory) as session:
        current = await service.current_link(session, telegram_chat_id=chat.id)
        allowed = service.may_manage_chat(context.actor, current.target)
        if allowed:
            registered = current.chat or (await service.register_group(
                session, telegram_chat_id=chat.id, chat_type=chat.type,
                title=chat.title or "")).chat
            await service.set_chat_language(
                session, chat=registered, language=language,
                actor_id=context.actor.person_id if context.actor else None)
    if not allowed:
        await query.answer(context._("Sorry, only community staff can change this group's "
                                     "language."), show_alert=True)
        return
    context.chat_language = language
    _ = context.tr(language)
    await query.answer()
    await query.edit_message_text(
        _("Done! I will use {language} in this group from now on.").format(
            language=LANGUAGE_NAMES[language]))


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    groups = filters.ChatType.GROUPS
    return [
        ChatMemberHandler(my_membership_changed, ChatMemberHandler.MY_CHAT_MEMBER),
        MessageHandler(filters.StatusUpdate.NEW_CHAT_MEMBERS, members_joined),
        MessageHandler(filters.StatusUpdate.LEFT_CHAT_MEMBER, member_left),
        MessageHandler(filters.StatusUpdate.MIGRATE, chat_migrated),
        CommandHandler("link", link),
        CommandHandler("unlink", unlink),
        CommandHandler("language", group_language, filters=groups),
        CallbackQueryHandler(link_chosen, pattern=LINK_PATTERN),
        CallbackQueryHandler(group_language_chosen, pattern=LANGUAGE_PATTERN),
    ]
