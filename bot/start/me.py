"""/me: what the bot knows about me, and the place to change it — where I live, what I
receive, my language — with buttons, each picker with « back to this screen."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.auth import Standing
from bot.context import BotContext
from bot.directory import areas as area_service
from bot.directory.handlers import ROLE_TEXT
from bot.directory.models import SubscriptionTopic
from bot.directory.people import profile
from bot.directory.residents import subscriptions_of
from bot.handler_utils import in_private
from bot.i18n import LANGUAGE_NAMES
from bot.start import registration
from bot.start.callbacks import ME_PATTERN, me, parse_me
from bot.start.keyboards import language_keyboard, me_keyboard


async def overview(context: BotContext, person_id: int) -> tuple[str, InlineKeyboardMarkup]:
    """The /me text and its buttons (staff do not move: their area is their scope)."""
    _ = context._
    actor = context.actor
    async with context.services.session_factory() as session:
        mine = await profile(session, person_id=person_id)
        where = await area_service.label(session, path=mine.area_path if mine else None)
    assert mine is not None
    role = actor.role if actor is not None and actor.role is not None else mine.role
    teams = "\n".join(f"  · {name}" + (f" ({_('leader')})" if leader else "")
                      for name, leader in mine.teams) or "  · " + _("none")
    topics = ", ".join(_(registration.TOPIC_LABELS[t]) for t in SubscriptionTopic
                       if t in mine.topics)
    language = actor.language if actor is not None else context.language
    text = "\n".join([
        _("Name: {name}").format(name=mine.name),
        _("Role: {role}").format(role=_(ROLE_TEXT[role])),
        _("Area: {area}").format(area=where or _("not chosen yet")),
        _("Teams:"), teams,
        _("Receiving: {topics}").format(topics=topics or _("nothing for now")),
        _("Language: {language}").format(language=LANGUAGE_NAMES.get(language, language)),
        "", _("Tap below to change something. To stop receiving everything, send /leave."),
    ])
    movable = actor is None or actor.standing < Standing.STAFF
    return text, me_keyboard(area_label=_("🏠 Where I live") if movable else None,
                             topics_label=_("🔔 What I receive"),
                             language_label=_("🌐 Language"))


async def show_me(update: Update, context: BotContext) -> None:
    """What the directory knows about me, with buttons to change it."""
    message = update.effective_message
    actor = context.actor
    if message is None or not await in_private(update, context):
        return
    if actor is None or actor.person_id is None or actor.role is None:
        await message.reply_text(context._("I do not know you yet. Send /start to begin."))
        return
    text, keyboard = await overview(context, actor.person_id)
    await message.reply_text(text, reply_markup=keyboard)


async def me_pressed(update: Update, context: BotContext) -> None:
    """A /me button: show a picker, or go back to the overview. Checked on every press."""
    query = update.callback_query
    if query is None:
        return
    if not await in_private(update, context):
        return
    _ = context._
    what = parse_me(query.data)
    actor = context.actor
    if (what is None or actor is None or actor.person_id is None or actor.role is None
            or (what == "area" and actor.standing >= Standing.STAFF)):
        await query.answer(_("This button is no longer valid."))
        return
    await query.answer()
    if what == "show":
        text, keyboard = await overview(context, actor.person_id)
    elif what == "area":
        text, keyboard, _total = await registration.area_page(context, None, 0)
    elif what == "topics":
        async with context.services.session_factory() as session:
            topics = await subscriptions_of(session, person_id=actor.person_id)
        text = _("What would you like to receive? Tap to switch each one on or off, then "
                 "tap Done.")
        keyboard = registration.topic_keyboard(context, topics)
    else:
        text = _("Please choose your language:")
        keyboard = language_keyboard(back=(registration.back_label(_), me("show")))
    await query.edit_message_text(text, reply_markup=keyboard)


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("me", show_me),
        CallbackQueryHandler(me_pressed, pattern=ME_PATTERN),
    ]
