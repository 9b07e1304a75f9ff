"""The Telegram side of the broadcasts engine: a PTB ``Sender`` and one shared budget.

``TelegramSender`` sends what the dispatcher hands it and classifies PTB's errors in
exactly one place (``classify``). ``SharedRateLimiter`` plugs the engine's ``Limiter``
into PTB, so the bot's direct replies draw on the same budget as the dispatcher;
the dispatcher's own calls say ``already_limited`` and pass straight through.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
)
from telegram import error as tg
from telegram.ext import BaseRateLimiter

from broadcasts import (
    Limiter,
    Migrated,
    OutgoingMessage,
    PermanentError,
    RetryAfter,
    SendError,
    TransientError,
    Unreachable,
)

logger = logging.getLogger(__name__)

#: Key in ``rate_limit_args`` marking a call whose slot was already taken.
ALREADY_LIMITED = "already_limited"
#: Methods that send into a chat and so spend its budget.
_LIMITED_PREFIXES = ("send", "edit", "copy", "forward")
#: 400s that mean the chat itself is gone for us, not that the request is wrong.
_UNREACHABLE_400 = ("chat not found", "user not found", "peer_id_invalid")


#: PTB's wording (``httpx.<error>``) for a connection lost while awaiting the answer.
_ANSWER_LOST = ("httpx.ReadError", "httpx.RemoteProtocolError")


def _seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def classify(exc: tg.TelegramError) -> SendError:
    """PTB's exception as the engine's; the order matters (see FACTS.md).

    ``BadRequest`` and ``TimedOut`` subclass ``NetworkError``: they are matched first,
    or a permanent error would be retried forever and a timeout not counted as a
    possible duplicate.
    """
    message = exc.message
    match exc:
        case tg.RetryAfter():
            return RetryAfter(_seconds(exc.retry_after), message)
        case tg.ChatMigrated():
            return Migrated(exc.new_chat_id, message)
        case tg.Forbidden():
            return Unreachable(message)
        case tg.BadRequest():
            if any(m in message.lower() for m in _UNREACHABLE_400):
                return Unreachable(message)
            return PermanentError(message)
        case tg.TimedOut():
            # A pool timeout never left the machine; any other timeout may have arrived.
            return TransientError(message, maybe_delivered="pool timeout" not in message.lower())
        case tg.NetworkError():
            # The connection broke after the request went out: it may have arrived.
            return TransientError(message, maybe_delivered=message.startswith(_ANSWER_LOST))
        case _:
            # InvalidToken, Conflict, EndPointNotFound …: a setup problem; retry with
            # backoff so rows survive a fix, and give up at the retry cap.
            return TransientError(f"{type(exc).__name__}: {message}")


def keyboard(message: OutgoingMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row]
         for row in message.buttons]
    )


class TelegramSender:
    """``broadcasts.Sender`` over a PTB ``Bot`` (or the Application's ``ExtBot``)."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        # Only an ExtBot with a rate limiter takes ``rate_limit_args``.
        limited = getattr(bot, "rate_limiter", None) is not None
        self._extra: dict[str, Any] = (
            {"rate_limit_args": {ALREADY_LIMITED: True}} if limited else {}
        )

    async def send(self, chat_id: int, message: OutgoingMessage) -> list[int]:
        try:
            return await self._send(chat_id, message)
        except tg.TelegramError as exc:
            raise classify(exc) from exc

    async def _send(self, chat_id: int, message: OutgoingMessage) -> list[int]:
        common: dict[str, Any] = {
            "chat_id": chat_id,
            "parse_mode": message.parse_mode,
            "disable_notification": message.disable_notification,
            **self._extra,
        }
        sent: Message | tuple[Message, ...]
        match message.kind:
            case "text":
                sent = await self._bot.send_message(
                    text=message.text or "", reply_markup=keyboard(message), **common
                )
            case "photo":
                sent = await self._bot.send_photo(
                    photo=message.photo or "",
                    caption=message.text,
                    reply_markup=keyboard(message),
                    **common,
                )
            case "album":
                del common["parse_mode"]
                media = [
                    InputMediaPhoto(
                        photo,
                        caption=message.text if i == 0 else None,
                        parse_mode=message.parse_mode if i == 0 else None,
                    )
                    for i, photo in enumerate(message.album)
                ]
                sent = await self._bot.send_media_group(media=media, **common)
        if isinstance(sent, Message):
            return [sent.message_id]
        return [m.message_id for m in sent]

    async def pin(self, chat_id: int, message_id: int) -> None:
        try:
            await self._bot.pin_chat_message(
                chat_id, message_id, disable_notification=True, **self._extra
            )
        except tg.TelegramError as exc:
            raise classify(exc) from exc


class SharedRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """PTB rate limiter drawing on the engine's ``Limiter``: one budget per bot.

    Direct replies (``send*``/``edit*``/… to a chat) wait for their slot; a 429 pauses
    that chat in the shared limiter too, and the reply is tried again ``max_retries``
    times. Calls marked ``{"already_limited": True}`` (the dispatcher's) pass
    straight through; other methods (getUpdates, answerCallbackQuery …) too.
    """

    def __init__(self, limiter: Limiter, max_retries: int = 1) -> None:
        self.limiter = limiter
        self.max_retries = max_retries

    async def initialize(self) -> None:
        """Nothing to set up: the limiter is plain state."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if (rate_limit_args or {}).get(ALREADY_LIMITED) or not endpoint.lower().startswith(
            _LIMITED_PREFIXES
        ):
            return await callback(*args, **kwargs)
        raw = data.get("chat_id")
        if raw is None and "inline_message_id" in data:
            return await callback(*args, **kwargs)  # an inline message: no chat to count
        try:
            chat_id: int | None = int(raw) if raw is not None else None
        except (TypeError, ValueError):
            chat_id = None  # @channelusername: the overall budget only
        for attempt in range(self.max_retries + 1):
            await self.limiter.acquire(chat_id)
            try:
                return await callback(*args, **kwargs)
            except tg.RetryAfter as exc:
                seconds = _seconds(exc.retry_after)
                if chat_id is not None:
                    self.limiter.retry_after(chat_id, seconds)
                if attempt == self.max_retries:
                    raise
                logger.info(
                    "direct reply hit flood control; retrying",
                    extra={"chat_id": chat_id, "retry_after": seconds, "endpoint": endpoint},
                )
                if chat_id is None:
                    await asyncio.sleep(seconds)
        raise AssertionError("unreachable")
