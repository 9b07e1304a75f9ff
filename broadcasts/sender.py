"""The one seam between the engine and a chat platform: the ``Sender`` protocol.

A sender sends one message that already fits the platform's limits (the dispatcher
splits first, see ``split.py``) and translates its library's errors into the classes
below, so the dispatcher decides retries without knowing any Telegram library.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from broadcasts.content import OutgoingMessage


class SendError(Exception):
    """Base of every error a ``Sender`` raises."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryAfter(SendError):
    """Flood control (429): this chat must wait ``seconds``. Normal, never a loss."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"retry after {seconds:g}s")
        self.seconds = float(seconds)


class Unreachable(SendError):
    """The chat will not take messages from us (blocked, kicked, never started, gone)."""


class Migrated(SendError):
    """The group became a supergroup with a new id; send there instead."""

    def __init__(self, new_chat_id: int, reason: str = "") -> None:
        super().__init__(reason or f"migrated to {new_chat_id}")
        self.new_chat_id = new_chat_id


class PermanentError(SendError):
    """The request itself is wrong (bad HTML, file gone …): retrying will not help."""


class TransientError(SendError):
    """Network trouble or a server error: retry with backoff.

    ``maybe_delivered`` is true when the request may have reached the platform
    (a timeout after sending): a retry can then duplicate the message.
    """

    def __init__(self, reason: str, *, maybe_delivered: bool = False) -> None:
        super().__init__(reason)
        self.maybe_delivered = maybe_delivered


@runtime_checkable
class Sender(Protocol):
    """Sends on the engine's behalf; the dispatcher has already taken a rate-limit slot."""

    async def send(self, chat_id: int, message: OutgoingMessage) -> list[int]:
        """Send one message (a text, a photo or an album); return its message ids."""
        ...

    async def pin(self, chat_id: int, message_id: int) -> None:
        """Pin a message the engine sent, without notifying the members again."""
        ...
