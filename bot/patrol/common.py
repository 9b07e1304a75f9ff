"""What every patrol surface shares: the clock, the timings, waking the outbox, buttons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.auth import Permission, can
from bot.context import BotContext
from bot.db import utcnow
from bot.patrol import callbacks as cb
from bot.patrol.service import PatrolConfig, team_area

#: `services.extras[CLOCK_KEY]`: a `() -> datetime` (UTC) for the patrol timers; tests set it.
CLOCK_KEY = "patrol.clock"
CONFIG_KEY = "patrol.config"


def clock(context: BotContext) -> datetime:
    now: Callable[[], datetime] = context.services.extras.get(CLOCK_KEY, utcnow)
    return now()


def config(context: BotContext) -> PatrolConfig:
    return context.services.extras.setdefault(CONFIG_KEY, PatrolConfig())


def wake(context: BotContext) -> None:
    if context.services.dispatcher is not None:
        context.services.dispatcher.wake()


def button(text: str, action: str, *ids: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=cb.data(action, *ids))


def markup(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([row for row in rows if row])


async def refuse(update: Update | Message, context: BotContext) -> None:
    """Say no to a press (as an alert) or to a message or reply."""
    text = context._("Sorry, you are not allowed to do that.")
    if isinstance(update, Message):
        await update.reply_text(text)
    elif update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)


async def may_manage(context: BotContext, team_id: int) -> bool:
    """Whether the actor leads this (live) patrol team or is staff of its area."""
    async with context.services.session_factory() as session:
        found = await team_area(session, team_id=team_id)
    return found is not None and not found[0].archived and can(
        context.actor, Permission.MANAGE_TEAM, area_path=found[1].path, team_id=team_id)
