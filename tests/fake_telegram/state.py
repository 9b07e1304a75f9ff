"""Records the fake keeps: users, chats, messages, files, requests, counters.

Everything a test asserts on lives here as plain dataclasses, so assertions
read naturally (``alice.last_message.buttons``) and nothing depends on PTB.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class UserRecord:
    """A Telegram account: a fake person or the bot itself."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    started: bool = False  # wrote to the bot in private at least once
    blocked: bool = False  # blocked the bot
    deactivated: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ``User`` object (required: id, is_bot, first_name)."""
        out: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            out["last_name"] = self.last_name
        if self.username:
            out["username"] = self.username
        if self.language_code and not self.is_bot:
            out["language_code"] = self.language_code
        return out


@dataclass
class RecordedMessage:
    """One message in one chat, as it stands now (after edits / pins / deletion)."""

    message_id: int
    chat_id: int
    chat: dict[str, Any]
    date: int
    from_user: dict[str, Any]
    from_bot: bool
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    photo: list[dict[str, Any]] | None = None
    document: dict[str, Any] | None = None
    voice: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    media_group_id: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to: RecordedMessage | None = None
    forward_origin: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # service fields
    pinned: bool = False
    deleted: bool = False
    edit_date: int | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)  # earlier versions
    raw_text: str | None = None  # as the bot sent it, before entity parsing
    parse_mode: str | None = None

    def to_json(self, nested: bool = True) -> dict[str, Any]:
        """The ``Message`` object Telegram would return / put into an update."""
        out: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.from_user,
            "chat": self.chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            out["edit_date"] = self.edit_date
        if self.reply_to is not None and nested:
            out["reply_to_message"] = self.reply_to.to_json(nested=False)
        if self.forward_origin is not None:
            out["forward_origin"] = self.forward_origin
        if self.media_group_id:
            out["media_group_id"] = self.media_group_id
        for key in ("text", "caption", "photo", "document", "voice", "location", "contact"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.entities:
            out["entities"] = self.entities
        if self.caption_entities:
            out["caption_entities"] = self.caption_entities
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            out["reply_markup"] = self.reply_markup
        out.update(self.extra)
        return out

    def content_key(self) -> tuple[Any, ...]:
        """What makes two deliveries "the same message" for duplicate counting."""
        photo_id = self.photo[-1]["file_unique_id"] if self.photo else None
        doc_id = self.document["file_unique_id"] if self.document else None
        loc = (self.location["latitude"], self.location["longitude"]) if self.location else None
        return (self.text, self.caption, photo_id, doc_id, loc, self.media_group_id is not None)

    @property
    def buttons(self) -> list[list[str]]:
        """Texts of the inline (or reply) keyboard, row by row."""
        return [[b.get("text", "") for b in row] for row in self._rows()]

    @property
    def button_data(self) -> list[list[str | None]]:
        """``callback_data`` of the inline keyboard, row by row (None for URL buttons)."""
        return [[b.get("callback_data") for b in row] for row in self._rows()]

    def button(self, text: str | None = None, data: str | None = None) -> dict[str, Any] | None:
        """The first button with this text (or callback data), if any."""
        for row in self._rows():
            for b in row:
                if (text is not None and b.get("text") == text) or (
                    data is not None and b.get("callback_data") == data
                ):
                    return b
        return None

    def _rows(self) -> list[list[dict[str, Any]]]:
        markup = self.reply_markup or {}
        return markup.get("inline_keyboard") or markup.get("keyboard") or []

    @property
    def content(self) -> str | None:
        """Text or caption — whichever this message has."""
        return self.text if self.text is not None else self.caption


@dataclass
class ChatRecord:
    """A private chat with one user, or a (super)group with members."""

    id: int
    type: str  # "private" | "group" | "supergroup"
    title: str | None = None
    user: UserRecord | None = None
    username: str | None = None
    members: dict[int, str] = field(default_factory=dict)  # user id -> status
    bot_status: str = "left"  # member | administrator | creator | left | kicked
    bot_rights: dict[str, bool] = field(default_factory=dict)
    migrated_to: int | None = None
    migrated_from: int | None = None
    next_message_id: int = 1
    messages: dict[int, RecordedMessage] = field(default_factory=dict)
    is_forum: bool = False

    @property
    def is_group(self) -> bool:
        """Groups and supergroups share the 20/min limit and membership rules."""
        return self.type in ("group", "supergroup")

    def to_json(self) -> dict[str, Any]:
        """The ``Chat`` object (required: id, type)."""
        if self.type == "private" and self.user is not None:
            out: dict[str, Any] = {"id": self.id, "type": "private"}
            out["first_name"] = self.user.first_name
            if self.user.last_name:
                out["last_name"] = self.user.last_name
            if self.user.username:
                out["username"] = self.user.username
            return out
        out = {"id": self.id, "type": self.type, "title": self.title or ""}
        if self.username:
            out["username"] = self.username
        if self.is_forum:
            out["is_forum"] = True
        return out

    def new_message_id(self) -> int:
        """Message ids count up per chat, shared by users and the bot."""
        mid = self.next_message_id
        self.next_message_id += 1
        return mid


@dataclass
class FileRecord:
    """Bytes behind a file_id, downloadable through ``getFile`` + the file route."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    #: The bytes exactly as uploaded: a photo's before Telegram recompressed them (what
    #: the bot sent is what a privacy test must check); for any other file, ``data``.
    uploaded: bytes = b""


@dataclass
class RequestRecord:
    """One HTTP call the bot made: what, with which params, how it was answered."""

    method: str
    params: dict[str, Any]
    status: int = 0
    time: float = field(default_factory=time.time)
    duration: float = 0.0
    description: str | None = None


@dataclass
class Stats:
    """Counters a benchmark reads: deliveries, refusals by kind, per-method calls."""

    delivered: int = 0
    answered_429: int = 0
    answered_5xx: int = 0
    dropped: int = 0
    requests: int = 0
    per_method: Counter[str] = field(default_factory=Counter)
    per_status: Counter[int] = field(default_factory=Counter)
    first_delivery: float | None = None
    last_delivery: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (``dataclasses.asdict`` mangles Counters)."""
        return {
            "delivered": self.delivered,
            "answered_429": self.answered_429,
            "answered_5xx": self.answered_5xx,
            "dropped": self.dropped,
            "requests": self.requests,
            "per_method": dict(self.per_method),
            "per_status": {str(k): v for k, v in self.per_status.items()},
            "delivery_rate": self.delivery_rate(),
        }

    def delivery_rate(self) -> float:
        """Messages per second between the first and the last delivery."""
        if self.first_delivery is None or self.last_delivery is None:
            return 0.0
        span = self.last_delivery - self.first_delivery
        return (self.delivered - 1) / span if span > 0 else float(self.delivered)
