# ruff: noqa: ASYNC109  -- the story API takes timeout= by design (brief), like pytest helpers
"""Test-facing people and groups: ``alice.send("/start")``, ``group.messages``.

Thin handles over records in the fake, so a test reads like a story and the
records stay the single source of truth (``FakeGroup`` keeps its own id even
after a migration; the new supergroup is a new ``FakeGroup``).
"""

from __future__ import annotations

import mimetypes
from typing import TYPE_CHECKING, Any

from .state import ChatRecord, RecordedMessage, UserRecord
from .world import CallbackAnswer

if TYPE_CHECKING:
    from .server import FakeTelegram


class FakeGroup:
    """A group or supergroup chat."""

    def __init__(self, fake: FakeTelegram, record: ChatRecord) -> None:
        self.fake = fake
        self.record = record

    @property
    def id(self) -> int:
        """The chat id (negative; ``-100…`` for supergroups)."""
        return self.record.id

    @property
    def title(self) -> str | None:
        """The group's title."""
        return self.record.title

    @property
    def messages(self) -> list[RecordedMessage]:
        """What the bot sent here, oldest first, as it stands now (deleted ones left out)."""
        return self.fake.messages_to(self.id)

    @property
    def last_message(self) -> RecordedMessage | None:
        """The bot's newest live message here."""
        msgs = self.messages
        return msgs[-1] if msgs else None

    @property
    def pinned(self) -> list[RecordedMessage]:
        """Pinned messages (any sender)."""
        return [m for m in self.record.messages.values() if m.pinned and not m.deleted]

    @property
    def bot_status(self) -> str:
        """member / administrator / left / kicked."""
        return self.record.bot_status

    def add_member(self, user: FakeUser, status: str = "member") -> None:
        """Someone joins (no update: privacy-mode bots don't see every join)."""
        self.record.members[user.id] = status

    def __repr__(self) -> str:
        return f"FakeGroup({self.title!r}, id={self.id})"


class FakeUser:
    """A person who talks to the bot; every action waits for the bot to react."""

    def __init__(self, fake: FakeTelegram, record: UserRecord) -> None:
        self.fake = fake
        self.record = record

    @property
    def id(self) -> int:
        """User id == the private chat's id."""
        return self.record.id

    @property
    def chat_id(self) -> int:
        """The private chat with the bot."""
        return self.record.id

    @property
    def first_name(self) -> str:
        """Display name."""
        return self.record.first_name

    @property
    def language_code(self) -> str | None:
        """IETF tag as the client reports it (``zh-hans``, ``en``…)."""
        return self.record.language_code

    @property
    def messages(self) -> list[RecordedMessage]:
        """What the bot sent into the private chat, as it stands now."""
        return self.fake.messages_to(self.id)

    @property
    def last_message(self) -> RecordedMessage | None:
        """The bot's newest live message in the private chat."""
        msgs = self.messages
        return msgs[-1] if msgs else None

    @property
    def last_callback_answer(self) -> CallbackAnswer | None:
        """How the bot answered this person's last press."""
        qid = self.fake.last_query_id
        return self.fake.callback_answers.get(qid) if qid else None

    def _chat(self, chat: FakeGroup | None) -> ChatRecord:
        return chat.record if chat is not None else self.fake.chats[self.id]

    async def send(
        self,
        text: str,
        chat: FakeGroup | None = None,
        reply_to: RecordedMessage | None = None,
        quiet: float | None = None,
        timeout: float = 30.0,
    ) -> list[RecordedMessage]:
        """Write a text or command; returns the bot's new messages in that chat."""
        record = self._chat(chat)
        content: dict[str, Any] = self.fake.text_content(text, record)
        if reply_to is not None:
            content["reply_to"] = reply_to
        return await self.fake.user_message(self.record, record, quiet, timeout, **content)

    async def send_photo(
        self,
        caption: str | None = None,
        image: bytes | None = None,
        as_document: bool = False,
        chat: FakeGroup | None = None,
        quiet: float | None = None,
        timeout: float = 30.0,
    ) -> list[RecordedMessage]:
        """A photo (recompressed, no EXIF) or, ``as_document``, the file with EXIF/GPS."""
        content = self.fake.photo_content(image, as_document)
        content["caption"] = caption
        return await self.fake.user_message(
            self.record, self._chat(chat), quiet, timeout, **content
        )

    async def send_album(
        self,
        count: int = 3,
        caption: str | None = None,
        chat: FakeGroup | None = None,
        quiet: float | None = None,
        timeout: float = 30.0,
    ) -> list[RecordedMessage]:
        """``count`` photos as separate updates sharing a media_group_id.

        Bots collect albums for a while: pass ``quiet`` longer than that window.
        """
        return await self.fake.album(
            self.record, chat.record if chat else None, count, caption, quiet, timeout
        )

    async def send_location(
        self,
        latitude: float,
        longitude: float,
        chat: FakeGroup | None = None,
        quiet: float | None = None,
        timeout: float = 30.0,
    ) -> list[RecordedMessage]:
        """Share a map point."""
        location = {"latitude": latitude, "longitude": longitude}
        return await self.fake.user_message(
            self.record, self._chat(chat), quiet, timeout, location=location
        )

    async def send_contact(
        self,
        phone_number: str,
        own: bool = True,
        first_name: str | None = None,
        quiet: float | None = None,
        timeout: float = 30.0,
    ) -> list[RecordedMessage]:
        """Share a contact: one's own (``contact.user_id`` == sender) or someone else's."""
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name or (self.first_name if own else "Someone"),
        }
        contact["user_id"] = self.id if own else self.id + 9_999_999
        return await self.fake.user_message(
            self.record, self._chat(None), quiet, timeout, contact=contact
        )

    async def send_document(
        self,
        data: bytes,
        file_name: str,
        caption: str | None = None,
        chat: FakeGroup | None = None,
        quiet: float | None = None,
        timeout: float = 30.0,
    ) -> list[RecordedMessage]:
        """A file (CSV, XLSX…) kept byte for byte; the MIME type follows the file name."""
        mime = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        document = self.fake.store_document(data, file_name, mime)
        return await self.fake.user_message(
            self.record, self._chat(chat), quiet, timeout, document=document, caption=caption
        )

    async def send_voice(
        self,
        duration: int = 5,
        chat: FakeGroup | None = None,
        quiet: float | None = None,
        timeout: float = 30.0,
    ) -> list[RecordedMessage]:
        """A voice note (OGG/Opus bytes are fake but downloadable)."""
        rec = self.fake.store_file(b"OggS" + bytes(64), "voice", "oga", "audio/ogg")
        voice = {
            "file_id": rec.file_id,
            "file_unique_id": rec.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(rec.data),
        }
        return await self.fake.user_message(
            self.record, self._chat(chat), quiet, timeout, voice=voice
        )

    async def press(
        self,
        text: str | None = None,
        data: str | None = None,
        message: RecordedMessage | None = None,
        chat: FakeGroup | None = None,
        quiet: float | None = None,
        timeout: float = 30.0,
        forged: bool = False,
    ) -> list[RecordedMessage]:
        """Press an inline button (by text or callback data) on the newest message with it;
        ``forged=True`` sends ``data`` whether or not such a button exists."""
        return await self.fake.press_button(
            self.record, text, data, message, chat.record if chat else None, quiet, timeout,
            forged,
        )

    def __repr__(self) -> str:
        return f"FakeUser({self.first_name!r}, id={self.id})"
