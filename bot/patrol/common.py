"""What every patrol surface shares: the clock, the timings, waking the outbox, buttons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.context import BotContext
from bot.db import utcnow
from bot.patrol import callbacks as cb
from bot.patrol.service import PatrolConfig

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
