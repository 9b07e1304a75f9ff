"""Small helpers every feature's handlers share."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import User

from bot.auth import Actor
from bot.directory.people import TelegramIdentity, register_person


def identity_of(user: User) -> TelegramIdentity:
    return TelegramIdentity(telegram_id=user.id, name=user.full_name, username=user.username,
                            language_code=user.language_code)


async def acting_person_id(session: AsyncSession, actor: Actor, user: User) -> int:
    """The acting person's row, for the audit log and history. An administrator named only
    in ADMIN_IDS has none until now: they get one, so what they do is never unattributed."""
    if actor.person_id is not None:
        return actor.person_id
    return (await register_person(session, identity=identity_of(user))).id
