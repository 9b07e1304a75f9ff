"""Small helpers every feature's handlers share."""

from __future__ import annotations

from telegram import User

from bot.directory.people import TelegramIdentity


def identity_of(user: User) -> TelegramIdentity:
    return TelegramIdentity(telegram_id=user.id, name=user.full_name, username=user.username,
                            language_code=user.language_code)
