"""Residents register with buttons after choosing a language: community, grid, building,
then what to receive. Also: sharing one's phone to be matched with a roster entry."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler, filters

from bot.auth import Permission, Standing, can
from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.directory import areas as area_service
from bot.directory.models import Area, AreaKind, Person, SubscriptionTopic
from bot.directory.people import (
    confirm_by_own_phone,
    find_person,
    load_actor,
    match_by_phone,
    register_person,
)
from bot.directory.residents import set_home, subscriptions_of, toggle_subscription
from bot.directory.roster import normalize_phone
from bot.handler_utils import identity_of
from bot.i18n import N_, Translate
from bot.start.callbacks import (
    REGISTRATION_PATTERN,
    me,
    parse_registration,
    registration_page,
)
from bot.start.keyboards import area_keyboard, topics_keyboard
from bot.tipoffs.keyboards import report_entry

PAGE = 8
TOPIC_LABELS = {
    SubscriptionTopic.SAFETY_TIPS: N_("Safety tips"),
    SubscriptionTopic.ANTI_FRAUD: N_("Anti-fraud alerts"),
    SubscriptionTopic.NOTICES: N_("Community notices"),
}
#: `user_data[SEARCH_KEY]`: (the area whose list was long, 0 for the communities; until when)
#: — a name typed meanwhile searches that list. Kept in the database with the rest of
#: user_data (bot/persistence.py), so whichever instance gets the typed name searches.
SEARCH_KEY = "area_search"
SEARCH_WINDOW = timedelta(minutes=10)


def back_label(_: Translate) -> str:
    return _("↩️ Back")


async def _building_labels(session: AsyncSession, *, parent: Area, areas: list[Area]
                           ) -> list[tuple[int, str]]:
    """`12栋 · 3网格`: the building first, the levels between it and `parent` as a hint."""
    between = {i for a in areas for i in area_service.ancestor_ids(a.path)[:-1]}
    between -= set(area_service.ancestor_ids(parent.path))
    names = dict((await session.execute(
        select(Area.id, Area.name).where(Area.id.in_(between)))).all()) if between else {}
    out = []
    for area in areas:
        hints = [names[i] for i in area_service.ancestor_ids(area.path)[:-1] if i in names]
        out.append((area.id, " · ".join([area.name, *hints])))
    return out


async def area_page(
    context: BotContext, parent_id: int | None, page: int, *, search: str | None = None,
) -> tuple[str, InlineKeyboardMarkup, int]:
    """The text and keyboard for one page of communities, or of a community's buildings
    (grids only as a hint; an area without buildings lists its parts), with « back.
    A long list invites typing part of a name (`search`)."""
    _ = context._
    offset, limit = (0, PAGE) if search else (page * PAGE, PAGE)
    searchable = True
    async with context.services.session_factory() as session:
        parent = (await area_service.get_area(session, area_id=parent_id)
                  if parent_id is not None else None)
        if parent is None:
            areas, total = await area_service.areas_of_kind(
                session, kind=AreaKind.COMMUNITY, offset=offset, limit=limit,
                name_contains=search)
            names = [(a.id, a.name) for a in areas]
            text = _("Which community do you live in?")
            back = me("show")
        else:
            areas, total = await area_service.areas_of_kind(
                session, kind=AreaKind.BUILDING, scope_path=parent.path, offset=offset,
                limit=limit, name_contains=search)
            if total or search:
                names = await _building_labels(session, parent=parent, areas=areas)
                text = _("Which building of {area} do you live in?").format(area=parent.name)
            else:
                areas, total = await area_service.children(session, parent_id=parent.id,
                                                           offset=offset, limit=limit)
                names = [(a.id, a.name) for a in areas]
                text = _("Which part of {area}?").format(area=parent.name)
                searchable = False
            back = registration_page(
                None if parent.kind is AreaKind.COMMUNITY else parent.parent_id, 0)
    if search:
        text = (_("Found for “{query}”:").format(query=search) if total else
                _("Nothing found for “{query}”. Try a shorter part of the name.")
                .format(query=search)) + "\n\n" + text
    elif searchable and total > PAGE:
        text += "\n\n" + _("Or type part of the name to find it.")
        if context.user_data is not None:
            context.user_data[SEARCH_KEY] = (parent_id or 0, utcnow() + SEARCH_WINDOW)
    keyboard = area_keyboard(
        names, parent_id=parent_id, page=0 if search else page,
        pages=1 if search else max(1, math.ceil(total / PAGE)),
        here_label=_("None of these / skip") if parent_id else None,
        list_label=_("I am on a team's list") if parent_id is None else None,
        back=(back_label(_), back),
    )
    return text, keyboard, total


async def search_typed(update: Update, context: BotContext) -> bool:
    """A name typed while a long list of areas was showing: the matches, as buttons.
    False when no list was waiting (the text is something else)."""
    message = update.effective_message
    waiting = context.user_data.get(SEARCH_KEY) if context.user_data is not None else None
    if message is None or not message.text or waiting is None:
        return False
    parent_id, until = waiting
    if until < utcnow():
        context.user_data.pop(SEARCH_KEY, None)  # type: ignore[union-attr]
        return False
    query = " ".join(message.text.split())[:50]
    text, keyboard, _total = await area_page(context, parent_id or None, 0, search=query)
    await message.reply_text(text, reply_markup=keyboard)
    return True


async def needs_home(context: BotContext) -> bool:
    """Residents (and volunteers) without a home area are asked where they live, when
    there is any community to choose."""
    actor = context.actor
    if (actor is None or actor.person_id is None or actor.area_path is not None
            or actor.standing > Standing.RESIDENT):
        return False
    async with context.services.session_factory() as session:
        _areas, total = await area_service.areas_of_kind(session, kind=AreaKind.COMMUNITY,
                                                         limit=1)
    return total > 0


async def offer_registration(update: Update, context: BotContext) -> None:
    """After the language: ask where the resident lives (the caller checked `needs_home`)."""
    chat = update.effective_chat
    if chat is None:
        return
    text, keyboard, _total = await area_page(context, None, 0)
    await context.bot.send_message(chat.id, text, reply_markup=keyboard)


async def registration_pressed(update: Update, context: BotContext) -> None:
    """Move through the area tree, toggle topics, finish."""
    query = update.callback_query
    if query is None:
        return
    _ = context._
    press = parse_registration(query.data)
    if press is None or not can(context.actor, Permission.USE_BOT):
        await query.answer(_("This button is no longer valid."))
        return
    identity = identity_of(query.from_user)
    if press.kind == "phone":
        await query.answer()
        await ask_for_phone(update, context)
        return
    if press.kind == "page":
        await query.answer()
        text, keyboard, _total = await area_page(context, press.area_id or None, press.page)
        await query.edit_message_text(text, reply_markup=keyboard)
        return
    if press.kind in {"area", "here"}:
        # Staff's area is their scope: only residents and volunteers choose a home here.
        if context.actor is not None and context.actor.standing >= Standing.STAFF:
            await query.answer(_("This button is no longer valid."))
            return
        async with transaction(context.services.session_factory) as session:
            area = await area_service.get_area(session, area_id=press.area_id)
            if area is None or area.archived:
                await query.answer(_("This button is no longer valid."))
                return
            person = await register_person(session, identity=identity)
            has_children = press.kind == "area" and (await area_service.children(
                session, parent_id=area.id, limit=1))[1] > 0
            moved = person.area_id is not None
            if not has_children:
                await set_home(session, person=person, area=area)
                topics = await subscriptions_of(session, person_id=person.id)
                where = await area_service.label(session, path=area.path)
        await query.answer()
        if has_children:
            text, keyboard, _total = await area_page(context, area.id, 0)
            await query.edit_message_text(text, reply_markup=keyboard)
            return
        if context.user_data is not None:
            context.user_data.pop(SEARCH_KEY, None)
        if moved:  # changed from /me: back to the overview, saying what changed
            from bot.start.me import overview

            text, keyboard = await overview(context, person.id)
            await query.edit_message_text(
                _("Saved. You now live in: {area}.").format(area=where) + "\n\n" + text,
                reply_markup=keyboard)
            return
        await query.edit_message_text(
            _("Thank you! You live in: {area}.\n\nWhat would you like to receive? Tap to "
              "switch each one on or off, then tap Done.").format(area=where),
            reply_markup=topic_keyboard(context, topics))
        return
    async with transaction(context.services.session_factory) as session:
        person = await find_person(session, telegram_id=identity.telegram_id)
        if person is None:
            await query.answer(_("This button is no longer valid."))
            return
        if press.kind == "topic":
            try:
                topic = SubscriptionTopic(press.topic)
            except ValueError:
                await query.answer(_("This button is no longer valid."))
                return
            topics = await toggle_subscription(session, person=person, topic=topic)
        else:
            topics = await subscriptions_of(session, person_id=person.id)
    await query.answer()
    if press.kind == "topic":
        await query.edit_message_reply_markup(reply_markup=topic_keyboard(context, topics))
        return
    chosen = ", ".join(_(TOPIC_LABELS[t]) for t in SubscriptionTopic if t in topics)
    # The second call to action comes only now, once the first (where you live) is done.
    await query.edit_message_text(
        _("All set! You will receive: {topics}.\nSend /me to see or change this, "
          "and /help to see what else I can do.").format(topics=chosen or _("nothing for now")),
        reply_markup=report_entry(_))


def topic_keyboard(context: BotContext, topics: set[SubscriptionTopic]) -> InlineKeyboardMarkup:
    _ = context._
    return topics_keyboard([(t.value, _(TOPIC_LABELS[t]), t in topics) for t in SubscriptionTopic],
                           _("Done"))


async def ask_for_phone(update: Update, context: BotContext) -> None:
    """Offer the share-my-phone button (private chats only)."""
    chat = update.effective_chat
    if chat is None or chat.type != "private":
        return
    _ = context._
    await context.bot.send_message(
        chat.id, _("If your community put you on a team's list, tap the button below to share "
                   "your phone number, and I will find you."), reply_markup=phone_keyboard(_))


def phone_keyboard(_: Translate) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(_("📱 Share my phone number"), request_contact=True)]],
        resize_keyboard=True, one_time_keyboard=True)


async def contact_shared(update: Update, context: BotContext) -> None:
    """Match a pending roster entry, only with the sender's own phone number."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or message.contact is None:
        return
    _ = context._
    if message.contact.user_id != user.id:
        await message.reply_text(_("Please share your own phone number with the button, "
                                   "not someone else's contact."),
                                 reply_markup=ReplyKeyboardRemove())
        return
    phone = normalize_phone(message.contact.phone_number or "")
    identity = identity_of(user)
    settings = context.services.settings
    person: Person | None = None
    confirmed: Person | None = None
    async with transaction(context.services.session_factory) as session:
        if phone is not None:
            person = await match_by_phone(session, identity=identity, phone=phone)
            if person is None:
                # Matched earlier by username: the own phone proves the role that waited.
                confirmed = person = await confirm_by_own_phone(
                    session, telegram_id=user.id, phone=phone)
        if person is not None:
            context.actor = await load_actor(session, identity=identity,
                                             default_language=settings.default_language,
                                             admin_ids=settings.admin_ids)
    if person is None:
        await message.reply_text(
            _("I could not find this number on any list. Please ask your community staff "
              "for an invite link."), reply_markup=ReplyKeyboardRemove())
        return
    if confirmed is not None:
        text = _("Thank you, {name}! Your phone number matches the list, so your role on it "
                 "is confirmed. Send /me to see it.")
    else:
        text = _("Found you, {name}! You are now connected to your teams. Send /me to see them.")
    await message.reply_text(text.format(name=person.name), reply_markup=ReplyKeyboardRemove())
    from bot.commands import publish_personal_menu

    if context.actor is not None:
        await publish_personal_menu(context.bot, context.actor)


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [
        CallbackQueryHandler(registration_pressed, pattern=REGISTRATION_PATTERN),
        MessageHandler(filters.CONTACT & filters.ChatType.PRIVATE, contact_shared),
    ]
