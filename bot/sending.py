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
from pathlib import Path
from typing import Any, cast

import aiohttp
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
)
from telegram import error as tg
from telegram.ext import BaseRateLimiter
from telegram.request import BaseRequest, RequestData

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
_ANSWER_LOST = (
    "httpx.ReadError",
    "httpx.RemoteProtocolError",
    "aiohttp.ServerDisconnectedError",
    "aiohttp.ClientPayloadError",
    "aiohttp.ClientOSError",
)


def _seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _album_item(photo: str) -> str | bytes:
    """An album's photo: a file the bot wrote (an absolute path) is read and uploaded — PTB
    would turn a path inside InputMediaPhoto into a `file://` URI, which only a local Bot
    API server takes; anything else is a file id or URL, passed as is."""
    path = Path(photo)
    return path.read_bytes() if path.is_absolute() and path.is_file() else photo


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
            case "voice":
                sent = await self._bot.send_voice(
                    voice=message.voice or "",
                    caption=message.text,
                    reply_markup=keyboard(message),
                    **common,
                )
            case "document":
                sent = await self._bot.send_document(
                    document=message.document or "",
                    caption=message.text,
                    reply_markup=keyboard(message),
                    **common,
                )
            case "album":
                del common["parse_mode"]
                media = [
                    InputMediaPhoto(
                        _album_item(photo),
                        caption=message.text if i == 0 else None,
                        parse_mode=message.parse_mode if i == 0 else None,
                        filename=Path(photo).name,
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


class AiohttpRequest(BaseRequest):
    """PTB's HTTP transport on aiohttp: the same API calls at a fraction of the CPU.

    PTB's default ``HTTPXRequest`` spends about 2 ms of CPU per call here (httpcore
    polls every pooled connection on every request); a broadcast is nothing but
    calls, so the bot uses this instead. Errors come out as PTB's own: a timeout
    while waiting for a connection or connecting says "Pool timeout" (never sent),
    one while awaiting the answer is a plain ``TimedOut`` (may have arrived).
    """

    def __init__(
        self,
        connection_pool_size: int = 64,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        media_write_timeout: float | None = 20.0,
        proxy: str | None = None,
    ) -> None:
        """`proxy`: an http:// or socks5:// URL every call goes through (names resolved by
        the proxy: a blocked network's DNS may lie about Telegram)."""
        self._proxy = proxy
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector: aiohttp.BaseConnector
            if self._proxy:
                from aiohttp_socks import ProxyConnector

                connector = ProxyConnector.from_url(self._proxy, rdns=True,
                                                    limit=self._pool_size)
            else:
                connector = aiohttp.TCPConnector(limit=self._pool_size)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        data: Any = request_data.json_parameters if request_data else None
        if files:
            form = aiohttp.FormData()
            for name, value in (data or {}).items():
                form.add_field(name, value)
            for name, (filename, content, mime) in files.items():
                form.add_field(name, content, filename=filename, content_type=mime)
            data = form
        default_write = self._media_write_timeout if files else self._write_timeout
        read = _given(read_timeout, self._read_timeout)
        write = _given(write_timeout, default_write)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, None)
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if pool is None and connect is None else (pool or 0) + (connect or 0),
            sock_connect=connect,
            # aiohttp has no write timeout: an upload may take its write time to answer.
            sock_read=max(filter(None, (read, write)), default=None) if files else read,
        )
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as res:
                return res.status, await res.read()
        except aiohttp.ConnectionTimeoutError as err:
            raise tg.TimedOut("Pool timeout: no connection in time; not sent") from err
        except (TimeoutError, aiohttp.ServerTimeoutError) as err:
            raise tg.TimedOut from err
        except aiohttp.ClientError as err:
            raise tg.NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err


def _given(value: Any, default: float | None) -> float | None:
    """PTB passes ``DEFAULT_NONE`` (a ``DefaultValue``) for "use your own default"."""
    if isinstance(value, type(BaseRequest.DEFAULT_NONE)):
        return default
    return cast("float | None", value)
