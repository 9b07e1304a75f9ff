"""The typed context every handler receives: services, the acting person, their language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import Application, CallbackContext, ExtBot

from bot.auth import Actor
from bot.i18n import Translate, translator
from bot.settings import Settings

if TYPE_CHECKING:
    from broadcasts import Dispatcher


@dataclass
class Services:
    """What handlers need besides the update; lives in `bot_data["services"]` only."""

    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    dispatcher: Dispatcher | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    # Features' start-up work, run by post_init once the dispatcher is up, in order.
    on_start: list[Callable[[Application[Any, Any, Any, Any, Any, Any]], Awaitable[None]]] = field(
        default_factory=list
    )


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB builds one context per update and reuses it across handler groups, so the
    actor loaded in group -1 is there for every later handler of the same update."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any],
                 chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.actor: Actor | None = None
        self.chat_language: str | None = None

    @property
    def services(self) -> Services:
        return self.bot_data["services"]

    @property
    def language(self) -> str:
        """The language to answer in: the person's in a private chat, the group's in a group."""
        if self.chat_language:
            return self.chat_language
        if self.actor is not None:
            return self.actor.language
        return self.services.settings.default_language

    @property
    def _(self) -> Translate:
        return translator(self.language)

    def tr(self, language: str) -> Translate:
        return translator(language)
