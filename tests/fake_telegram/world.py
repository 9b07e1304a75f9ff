# ruff: noqa: ASYNC109  -- the story API takes timeout= by design (brief), like pytest helpers
"""The simulated Telegram world: people, chats, messages, files and the update queue.

:class:`World` is the state half of ``FakeTelegram`` (the HTTP half is in
``server.py``). It holds what Telegram would know and offers the story
operations a test narrates — add the bot to a group, migrate it, block the
bot — each producing the updates Telegram would send.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .objects import chat_member, photo_variants
from .state import ChatRecord, FileRecord, RecordedMessage, Stats, UserRecord

DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
PAST_MEMBER = ("left", "kicked")


@dataclass
class CallbackAnswer:
    """What the bot answered to one button press."""

    query_id: str
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int = 0
    time: float = field(default_factory=time.time)


@dataclass
class PendingQuery:
    """A callback query Telegram waits to see answered."""

    query_id: str
    user_id: int
    created: float = field(default_factory=time.monotonic)
    answered: bool = False

    def is_too_old(self, timeout: float) -> bool:
        """Telegram stops accepting an answer after a while."""
        return time.monotonic() - self.created > timeout


def _token(prefix: str, n: int, salt: str) -> str:
    digest = hashlib.sha256(f"{salt}:{n}".encode()).digest()[:18]
    return prefix + base64.urlsafe_b64encode(digest).decode().rstrip("=")


class World:
    """Users, chats, messages and files, plus the operations that change them."""

    #: seconds after which answerCallbackQuery says "query is too old"
    callback_timeout: float = 15.0

    def __init__(
        self, bot_username: str, bot_id: int, bot_name: str, privacy_mode: bool
    ) -> None:
        self.bot = UserRecord(bot_id, bot_name, username=bot_username, is_bot=True)
        self.privacy_mode = privacy_mode
        self._user_ids = itertools.count(700_000_001)
        self._group_ids = itertools.count(4_000_000_001)
        self._supergroup_ids = itertools.count(1_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(4_200_000_000_000_000_001)
        self._album_ids = itertools.count(13_000_000_000_000_001)
        self.next_update_id = 100_000_001  # never reset: PTB keeps its offset across tests
        self.updates_changed = asyncio.Event()
        self.clear_world()

    # -- bookkeeping -------------------------------------------------------------
    def clear_world(self) -> None:
        """Forget every person, chat, message, file and pending update."""
        self.users: dict[int, UserRecord] = {}
        self.chats: dict[int, ChatRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.photo_sets: dict[str, list[dict[str, Any]]] = {}
        self.updates: list[dict[str, Any]] = []
        self.handled_update_id = self.next_update_id - 1
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.pending_queries: dict[str, PendingQuery] = {}
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.webhook: dict[str, Any] | None = None
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.delivery_counts: dict[int, Counter[tuple[Any, ...]]] = {}
        self.stats = Stats()
        self.bot_private_status: dict[int, str] = {}

    def now(self) -> int:
        """Message dates are integer Unix seconds."""
        return int(time.time())

    # -- updates ---------------------------------------------------------------
    def enqueue(self, kind: str, payload: dict[str, Any]) -> int:
        """Queue one update for getUpdates; returns its update_id."""
        update_id = self.next_update_id
        self.next_update_id += 1
        self.updates.append({"update_id": update_id, kind: payload})
        self.updates_changed.set()
        return update_id

    async def wait_fetched(self, update_id: int, timeout: float = 30.0) -> None:
        """Until the bot has fetched (or been denied by allowed_updates) ``update_id``."""
        deadline = time.monotonic() + timeout
        while self.handled_update_id < update_id:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the bot did not fetch update {update_id} within {timeout}s "
                    "(is it polling this fake's base_url?)"
                )
            await asyncio.sleep(0.005)

    # -- people and chats ------------------------------------------------------
    def add_user(
        self,
        first_name: str,
        language_code: str | None = "zh-hans",
        username: str | None = None,
        last_name: str | None = None,
    ) -> UserRecord:
        """A new person with a unique id and a private chat with the bot."""
        user = UserRecord(
            next(self._user_ids), first_name, last_name, username, language_code
        )
        self.users[user.id] = user
        self.chats[user.id] = ChatRecord(user.id, "private", user=user)
        return user

    def add_group(
        self, title: str, members: list[UserRecord], supergroup: bool = False
    ) -> ChatRecord:
        """A group (bot not yet a member); the first member is its creator."""
        if supergroup:
            chat_id = -next(self._supergroup_ids)
            chat = ChatRecord(chat_id, "supergroup", title=title)
        else:
            chat = ChatRecord(-next(self._group_ids), "group", title=title)
        for i, member in enumerate(members):
            chat.members[member.id] = "creator" if i == 0 else "member"
        self.chats[chat.id] = chat
        return chat

    def bot_member_json(self, chat: ChatRecord, status: str | None = None) -> dict[str, Any]:
        """The bot's ChatMember object in ``chat``."""
        return chat_member(self.bot, status or chat.bot_status, chat.bot_rights)

    def emit_my_chat_member(
        self, chat: ChatRecord, by: UserRecord, old: dict[str, Any], new: dict[str, Any]
    ) -> int:
        """A ``my_chat_member`` update: the bot's own status changed."""
        return self.enqueue(
            "my_chat_member",
            {
                "chat": chat.to_json(),
                "from": by.to_json(),
                "date": self.now(),
                "old_chat_member": old,
                "new_chat_member": new,
            },
        )

    def set_bot_status(
        self, chat: ChatRecord, by: UserRecord, status: str, rights: dict[str, bool] | None = None
    ) -> int:
        """Change the bot's membership and tell the bot about it."""
        old = self.bot_member_json(chat)
        chat.bot_status = status
        chat.bot_rights = dict(rights or {})
        return self.emit_my_chat_member(chat, by, old, self.bot_member_json(chat))

    def bot_can_see(self, chat: ChatRecord) -> bool:
        """Whether the bot is in ``chat`` and so receives its updates."""
        if chat.type == "private":
            return chat.user is not None and not chat.user.blocked
        return chat.bot_status not in PAST_MEMBER and chat.migrated_to is None

    def record_user_message(
        self, user: UserRecord, chat: ChatRecord, **content: Any
    ) -> RecordedMessage:
        """Store a message a person wrote (not yet an update)."""
        msg = RecordedMessage(
            message_id=chat.new_message_id(),
            chat_id=chat.id,
            chat=chat.to_json(),
            date=self.now(),
            from_user=user.to_json(),
            from_bot=False,
            **content,
        )
        chat.messages[msg.message_id] = msg
        return msg

    def record_bot_message(self, chat: ChatRecord, **content: Any) -> RecordedMessage:
        """Store a message the bot sent and count the delivery (duplicates too)."""
        msg = RecordedMessage(
            message_id=chat.new_message_id(),
            chat_id=chat.id,
            chat=chat.to_json(),
            date=self.now(),
            from_user=self.bot.to_json(),
            from_bot=True,
            **content,
        )
        chat.messages[msg.message_id] = msg
        self.delivery_counts.setdefault(chat.id, Counter())[msg.content_key()] += 1
        now = time.monotonic()
        self.stats.delivered += 1
        if self.stats.first_delivery is None:
            self.stats.first_delivery = now
        self.stats.last_delivery = now
        return msg

    def messages_to(self, chat_id: int, include_deleted: bool = False) -> list[RecordedMessage]:
        """Messages the bot sent into a chat, oldest first, as they stand now."""
        chat = self.chats.get(chat_id)
        if chat is None:
            return []
        return [
            m
            for m in chat.messages.values()
            if m.from_bot and (include_deleted or not m.deleted)
        ]

    def duplicates(self) -> int:
        """Extra deliveries: for each (chat, identical content) delivered k>1 times, k-1."""
        return sum(
            count - 1
            for counter in self.delivery_counts.values()
            for count in counter.values()
            if count > 1
        )

    def duplicate_details(self) -> dict[int, dict[tuple[Any, ...], int]]:
        """Which content reached which chat more than once, and how often."""
        return {
            chat_id: {key: n for key, n in counter.items() if n > 1}
            for chat_id, counter in self.delivery_counts.items()
            if any(n > 1 for n in counter.values())
        }

    # -- files -----------------------------------------------------------------
    def store_file(
        self,
        data: bytes,
        folder: str,
        ext: str,
        mime_type: str | None = None,
        file_name: str | None = None,
        uploaded: bytes | None = None,
    ) -> FileRecord:
        """Keep bytes under a fresh file_id / file_unique_id / file_path.

        ``uploaded`` is what was sent when Telegram keeps something else (``data``).
        """
        n = next(self._file_ids)
        record = FileRecord(
            file_id=_token("AgACAgUAAxk", n, "id"),
            file_unique_id=_token("AQAD", n, "uid")[:16],
            data=data,
            file_path=f"{folder}/file_{n}.{ext}",
            mime_type=mime_type,
            file_name=file_name,
            uploaded=data if uploaded is None else uploaded,
        )
        self.files[record.file_id] = record
        self.files_by_path[record.file_path] = record
        return record

    def store_photo(self, data: bytes) -> list[dict[str, Any]]:
        """A photo as Telegram keeps it: several recompressed sizes (PhotoSize list).

        Every size also keeps the bytes as uploaded (``FileRecord.uploaded``).
        """
        sizes = []
        for width, height, jpeg in photo_variants(data):
            record = self.store_file(jpeg, "photos", "jpg", "image/jpeg", uploaded=data)
            sizes.append(
                {
                    "file_id": record.file_id,
                    "file_unique_id": record.file_unique_id,
                    "file_size": len(jpeg),
                    "width": width,
                    "height": height,
                }
            )
        for size in sizes:
            self.photo_sets[size["file_id"]] = sizes
        return sizes

    def store_document(
        self, data: bytes, file_name: str, mime_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """A document as Telegram keeps it: bytes untouched (EXIF survives)."""
        ext = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        record = self.store_file(data, "documents", ext, mime_type, file_name)
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }

    def record_callback_answer(
        self, query_id: str, text: str | None, show_alert: bool, url: str | None, cache_time: int
    ) -> CallbackAnswer:
        """Keep what the bot answered to a press, by query id."""
        answer = CallbackAnswer(query_id, text, show_alert, url, cache_time)
        self.callback_answers[query_id] = answer
        return answer

    def drop_pending_updates(self) -> None:
        """Forget queued updates (deleteWebhook / setWebhook drop_pending_updates)."""
        if self.updates:
            self.handled_update_id = max(self.handled_update_id, self.updates[-1]["update_id"])
        self.updates.clear()

    def new_callback_query_id(self) -> str:
        """Callback query ids are opaque strings of digits."""
        return str(next(self._query_ids))

    def new_media_group_id(self) -> str:
        """Media group ids are opaque strings of digits."""
        return str(next(self._album_ids))

    def chat_instance(self, chat_id: int) -> str:
        """A stable per-chat ``chat_instance`` for callback queries."""
        return str(int(hashlib.sha256(f"{self.bot.id}:{chat_id}".encode()).hexdigest()[:15], 16))
