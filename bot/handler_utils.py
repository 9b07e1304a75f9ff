"""Small helpers every feature's handlers share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import CallbackQuery, Message, Update, User
from telegram.constants import ChatType
from telegram.ext import filters

from bot.auth import Actor
from bot.directory.people import TelegramIdentity, register_person

if TYPE_CHECKING:
    from bot.context import BotContext

PressT = TypeVar("PressT")


def identity_of(user: User) -> TelegramIdentity:
    return TelegramIdentity(telegram_id=user.id, name=user.full_name, username=user.username,
                            language_code=user.language_code)


async def acting_person_id(session: AsyncSession, actor: Actor, user: User) -> int:
    """The acting person's row, for the audit log and history. An administrator named only
    in ADMIN_IDS has none until now: they get one, so what they do is never unattributed."""
    if actor.person_id is not None:
        return actor.person_id
    return (await register_person(session, identity=identity_of(user))).id


async def in_private(update: Update, context: BotContext) -> bool:
    """Whether the update comes from a private chat. What shows or takes something
    personal (names, phones, where someone lives, a report) works there only; elsewhere the
    sender gets a short note, nothing personal, and nothing else happens."""
    if update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE:
        return True
    text = context._("To protect everyone's privacy, I show this only in a private chat. "
                     "Please send it to me directly.")
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return False


async def private_message(update: Update, context: BotContext) -> Message | None:
    """The command's message if it was sent in a private chat; None otherwise (the sender
    was told to write privately, see `in_private`)."""
    message = update.effective_message
    if message is None or not await in_private(update, context):
        return None
    return message


async def parsed_press(
    update: Update, context: BotContext, parse: Callable[[str], PressT | None],
) -> tuple[CallbackQuery, PressT] | None:
    """The button press and its data as `parse` reads them. Data it cannot read (an old
    button, or forged) is answered "no longer valid" and gives None, as does an update
    without a press."""
    query = update.callback_query
    if query is None or query.data is None:
        return None
    press = parse(query.data)
    if press is None:
        await query.answer(context._("This button is no longer valid."))
        return None
    return query, press


class RepliesToPrompt(filters.MessageFilter):
    """A text reply to one of the bot's "please reply with …" messages, which start with
    `mark` (privacy mode lets such replies reach the bot in groups)."""

    def __init__(self, mark: str, name: str) -> None:
        super().__init__(name=name)
        self.mark = mark

    def filter(self, message: Message) -> bool:
        target = message.reply_to_message
        return (message.text is not None and target is not None
                and target.from_user is not None and target.from_user.is_bot
                and (target.text or "").startswith(self.mark))
