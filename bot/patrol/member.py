"""The patrol member's side: scanning a post's sign (`/start post_<token>`), /duty, the
"📍 Sign in here" pin, signing out."""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import InlineKeyboardMarkup, KeyboardButton, Message, ReplyKeyboardMarkup, Update
from telegram.constants import ChatType

from bot.context import BotContext
from bot.db import transaction
from bot.handler_utils import private_message
from bot.middleware import not_understood
from bot.patrol import render, service
from bot.patrol.common import button, clock, config, markup
from bot.patrol.models import PatrolDuty, PatrolPost
from bot.patrol.service import SignIn, SignInResult
from bot.tipoffs import intake

logger = logging.getLogger(__name__)

DEEP_LINK_PREFIX = "post_"


def _on_duty_buttons(context: BotContext, duty_id: int) -> InlineKeyboardMarkup:
    _ = context._
    return markup([[button(_(render.FOUND_SOMETHING), "fs", duty_id),
                    button(_(render.SIGN_OUT), "out", duty_id)]])


async def _tell(message: Message, context: BotContext, outcome: SignIn) -> None:
    tz = context.services.settings.tz
    text = render.signin_text(context._, outcome, tz)
    keyboard = None
    if outcome.result in (SignInResult.SIGNED_IN, SignInResult.ALREADY) and outcome.duty_id:
        keyboard = _on_duty_buttons(context, outcome.duty_id)
    await message.reply_text(text, reply_markup=keyboard)


async def scanned(update: Update, context: BotContext) -> None:
    """`/start post_<token>`: the post's QR sign was scanned; sign in in one tap."""
    message = update.effective_message
    if message is None or not context.args:
        return
    _ = context._
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await message.reply_text(_("Please scan the post's code to open a private chat with "
                                   "me, then tap Start."))
        return
    token = context.args[0].removeprefix(DEEP_LINK_PREFIX)
    actor = context.actor
    async with transaction(context.services.session_factory) as session:
        outcome = await service.sign_in_at_post(
            session, token=token, person_id=actor.person_id if actor else None,
            now=clock(context), tz=context.services.settings.tz, config=config(context))
    logger.info("Post sign scanned: %s", outcome.result.value,
                extra={"duty_id": outcome.duty_id})
    await _tell(message, context, outcome)


async def duty_command(update: Update, context: BotContext) -> None:
    """/duty: my shifts of the next days and their state; a pin button while one is open."""
    message = await private_message(update, context)
    if message is None:
        return
    _ = context._
    actor = context.actor
    if actor is None or actor.person_id is None or not actor.team_ids:
        await message.reply_text(_("You are not in a patrol team, so you have no shifts."))
        return
    now = clock(context)
    tz = context.services.settings.tz
    since, _end = service.day_bounds(service.local_date(now, tz), tz)
    async with context.services.session_factory() as session:
        lines = await service.duty_lines(session, now=now, person_id=actor.person_id,
                                         since=since, until=since + timedelta(days=3))
        current = await service.current_duties(session, person_id=actor.person_id, now=now,
                                               config=config(context))
        sensitive = actor.area_path is not None and await service.sensitive_at(
            session, area_path=actor.area_path, moment=now)
    text = render.duty_text(_, lines, tz, sensitive=sensitive)
    waiting = [d for d in current if d.signed_in_at is None]
    on_duty = [d for d in current if d.signed_in_at is not None and d.signed_out_at is None]
    swaps = [[button(_("🔄 Swap {day} {shift}").format(
        day=line.starts_at.astimezone(tz).strftime("%m-%d"), shift=line.shift_name), "wo",
        line.duty_id)] for line in lines if line.state is service.DutyState.UPCOMING][:3]
    if waiting:
        keyboard = ReplyKeyboardMarkup(
            [[KeyboardButton(_(render.SIGN_IN_HERE), request_location=True)]],
            resize_keyboard=True, one_time_keyboard=True)
        await message.reply_text(text + "\n\n" + _("At your post? Tap “📍 Sign in here” below, "
                                                    "or scan the post's QR code."),
                                 reply_markup=keyboard)
    elif on_duty:
        await message.reply_text(text, reply_markup=markup(
            [list(row) for row in _on_duty_buttons(context, on_duty[0].id).inline_keyboard]
            + swaps))
    else:
        await message.reply_text(text, reply_markup=markup(swaps) if swaps else None)


async def location(update: Update, context: BotContext) -> None:
    """A pin in a private chat: sign in to the open duty, measured against the post."""
    message = update.effective_message
    if message is None or message.location is None:
        return
    person_id = context.actor.person_id if context.actor else None
    async with transaction(context.services.session_factory) as session:
        if not await service.has_duties(session, person_id=person_id):
            outcome = None
        else:
            outcome = await service.sign_in_by_location(
                session, person_id=person_id, latitude=message.location.latitude,
                longitude=message.location.longitude, now=clock(context), config=config(context))
    if outcome is None:
        await not_understood(update, context)
        return
    await _tell(message, context, outcome)


async def sign_out_pressed(update: Update, context: BotContext, duty_id: int) -> None:
    query = update.callback_query
    assert query is not None
    _ = context._
    actor = context.actor
    now = clock(context)
    async with transaction(context.services.session_factory) as session:
        duty = await session.get(PatrolDuty, duty_id)
        if duty is None or actor is None or duty.person_id != actor.person_id:
            await query.answer(_("Sorry, you are not allowed to do that."), show_alert=True)
            return
        done = (duty.signed_in_at is not None and duty.signed_out_at is None
                and await service.sign_out(session, person_id=actor.person_id, now=now))
    if not done:
        await query.answer(_("You are not signed in to this shift."))
        return
    await query.answer()
    await query.edit_message_reply_markup(None)
    if query.message is not None:
        await context.bot.send_message(query.message.chat.id, _(
            "🏁 Signed out at {time}. Thank you for keeping the neighbourhood safe!").format(
            time=render.hm(now, context.services.settings.tz)))


async def found_something_pressed(update: Update, context: BotContext, duty_id: int) -> None:
    """🔎 on duty: a report from the post, in the member's name (the tip-off flow with the
    post's place already filled in)."""
    query = update.callback_query
    assert query is not None
    _ = context._
    actor = context.actor
    now = clock(context)
    async with context.services.session_factory() as session:
        duty = await session.get(PatrolDuty, duty_id)
        if duty is None or actor is None or duty.person_id != actor.person_id:
            await query.answer(_("Sorry, you are not allowed to do that."), show_alert=True)
            return
        post = await session.get_one(PatrolPost, duty.post_id)
    if duty.signed_in_at is None or duty.signed_out_at is not None or duty.ends_at <= now:
        await query.answer(_("You are not signed in to this shift."))
        return
    if not isinstance(query.message, Message):
        await query.answer(_("This button is no longer valid."))
        return
    await query.answer()
    await intake.begin_at_place(context, query.from_user, query.message, area_id=post.area_id,
                                address=post.name, latitude=post.latitude,
                                longitude=post.longitude)
