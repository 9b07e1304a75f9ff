"""Questions that wait for a reply (a post's name, its pin, the evening note), kept in the
database so a restart loses none, with an in-memory mirror for the reply filter."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import ForceReply, Message, Update
from telegram.ext import filters

from bot.context import BotContext
from bot.db import transaction
from bot.patrol.common import clock
from bot.patrol.models import PatrolPrompt

POST_NAME = "post_name"
POST_PIN = "post_pin"
DAY_NOTE = "day_note"
ROSTER_FILE = "roster_file"
SHIFT_NEW = "shift_new"
SHIFT_NAME = "shift_name"
SHIFT_TIMES = "shift_times"
EVENING_TIMES = "evening_times"
INDEX_KEY = "patrol.prompts"


class PromptIndex:
    """(chat id, message id) of open prompts: loaded at start, written through."""

    def __init__(self) -> None:
        self.keys: set[tuple[int, int]] = set()

    def filter(self) -> filters.MessageFilter:
        index = self

        class _RepliesToPrompt(filters.MessageFilter):
            def filter(self, message: Message) -> bool:
                reply = message.reply_to_message
                return reply is not None and (message.chat.id, reply.message_id) in index.keys

        return _RepliesToPrompt(name="replies_to_patrol_prompt")


def index(context: BotContext) -> PromptIndex:
    return context.application.bot_data[INDEX_KEY]


async def open_prompt_keys(session: AsyncSession) -> set[tuple[int, int]]:
    return {(c, m) for c, m in (await session.execute(
        select(PatrolPrompt.chat_id, PatrolPrompt.message_id))).all()}


async def prompt_for(update: Update, context: BotContext, action: str, target_id: int,
                     text: str) -> None:
    """Ask with a reply field open (ForceReply) and remember what the reply is for."""
    actor = context.actor
    chat = update.effective_chat
    if chat is None or actor is None or actor.person_id is None:
        return
    sent = await context.bot.send_message(chat.id, text, reply_markup=ForceReply(selective=True))
    async with transaction(context.services.session_factory) as session:
        session.add(PatrolPrompt(chat_id=chat.id, message_id=sent.message_id, action=action,
                                 target_id=target_id, person_id=actor.person_id,
                                 created_at=clock(context)))
    index(context).keys.add((chat.id, sent.message_id))


async def find_prompt(context: BotContext, message: Message) -> PatrolPrompt | None:
    """The open prompt this message replies to, asked of this very person."""
    reply = message.reply_to_message
    if reply is None:
        return None
    async with context.services.session_factory() as session:
        prompt = await session.scalar(select(PatrolPrompt).where(
            PatrolPrompt.chat_id == message.chat.id, PatrolPrompt.message_id == reply.message_id))
    actor = context.actor
    if prompt is None:
        index(context).keys.discard((message.chat.id, reply.message_id))
        return None
    if actor is None or prompt.person_id != actor.person_id:
        return None
    return prompt


async def close_prompt(context: BotContext, prompt: PatrolPrompt) -> None:
    async with transaction(context.services.session_factory) as session:
        await session.execute(delete(PatrolPrompt).where(PatrolPrompt.id == prompt.id))
    index(context).keys.discard((prompt.chat_id, prompt.message_id))
