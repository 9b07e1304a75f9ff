"""Who has a draft, told by the database for each private message, so that with several
instances any of them can take a person's next message.

Tip-off and alert drafts live in the database; the sync filters that let a message
continue one read an in-memory set of who has a draft (`DraftIndex`). One instance keeps
that set exact itself; with several (PostgreSQL), a draft begun on another instance is
not in it. This check, before the features, brings the set up to date for the sender
of each private message: one indexed read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from telegram import Update
from telegram.ext import Application, TypeHandler

from bot.alerts.handlers import DRAFTS_KEY
from bot.alerts.models import AlertDraftRow
from bot.tipoffs.models import TipOffDraft

if TYPE_CHECKING:
    from bot.context import BotContext

#: After the replay check (-100), before the cross-cutting checks (-2, -1).
GROUP = -50
TIPOFF_DRAFTS_KEY = "tipoff_drafts"


async def refresh(update: Update, context: BotContext) -> None:
    message, user = update.message, update.effective_user
    if message is None or user is None or message.chat.type != "private":
        return
    async with context.services.session_factory() as session:
        tip = await session.scalar(
            select(TipOffDraft.telegram_id).where(TipOffDraft.telegram_id == user.id))
        alert = await session.scalar(select(AlertDraftRow.sender_telegram_id)
                                     .where(AlertDraftRow.sender_telegram_id == user.id))
    for key, has in ((TIPOFF_DRAFTS_KEY, tip is not None), (DRAFTS_KEY, alert is not None)):
        index = context.application.bot_data.get(key)
        if index is not None:
            (index.ids.add if has else index.ids.discard)(user.id)


def install(application: Application[Any, Any, Any, Any, Any, Any], *, shared: bool) -> None:
    """Only where instances share the database (`shared`): alone, the sets are exact."""
    if shared:
        application.add_handler(TypeHandler(Update, refresh), group=GROUP)
