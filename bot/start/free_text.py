"""A private message no feature took: a name typed into a long list of areas searches
it; anything else gets a kind pointer."""

from __future__ import annotations

from telegram import Update

from bot import middleware
from bot.context import BotContext
from bot.start import registration


async def answer(update: Update, context: BotContext) -> None:
    """Last in group 0: runs only when no feature took the message."""
    if await registration.search_typed(update, context):
        return
    await middleware.not_understood(update, context)
