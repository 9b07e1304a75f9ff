# ruff: noqa: ASYNC109  -- the story API takes timeout= by design (brief), like pytest helpers
"""Story operations: what people do in Telegram, turned into the updates the bot gets.

These are the verbs behind ``FakeUser`` / ``FakeGroup`` and ``fake.add_bot``
etc. Each enqueues the update(s) Telegram would send; operations a person
performs towards the bot (send, press) then wait until the bot fetched them
and went quiet, and return what the bot sent to that chat meanwhile.
"""

from __future__ import annotations

from typing import Any

from .objects import make_jpeg
from .state import ChatRecord, RecordedMessage, UserRecord
from .textparse import command_entities
from .world import PendingQuery, World


class Story(World):
    """People's actions; ``settle`` / ``is_polling`` come from the server half."""

    quiet: float = 0.15

    async def settle(self, quiet: float | None = None, timeout: float = 30.0) -> None:
        """Implemented by the server: wait until the bot is quiet."""
        raise NotImplementedError

    def is_polling(self) -> bool:
        """Implemented by the server: whether a bot is consuming getUpdates."""
        raise NotImplementedError

    async def _after(
        self, update_id: int | None, must_wait: bool, quiet: float | None, timeout: float
    ) -> None:
        """Wait for the bot to fetch ``update_id`` and settle (if a bot is there)."""
        if update_id is None:
            return
        if must_wait or self.is_polling():
            await self.wait_fetched(update_id, timeout)
            await self.settle(quiet, timeout)

    # -- the bot's memberships ---------------------------------------------------
    async def add_bot_to(
        self, chat: ChatRecord, by: UserRecord, admin: bool = False, can_pin: bool = False,
        rights: dict[str, bool] | None = None,
    ) -> None:
        """``by`` adds the bot: my_chat_member, then the new_chat_members service message."""
        rights = dict(rights or {})
        if admin:
            rights.setdefault("can_pin_messages", can_pin)
            rights.setdefault("can_delete_messages", True)
        self.set_bot_status(chat, by, "administrator" if admin else "member", rights)
        msg = self.record_user_message(by, chat, extra={"new_chat_members": [self.bot.to_json()]})
        uid = self.enqueue("message", msg.to_json())
        await self._after(uid, False, None, 10.0)

    async def promote_bot_in(
        self, chat: ChatRecord, by: UserRecord, can_pin: bool = True, **rights: bool
    ) -> None:
        """Make the bot an administrator (or change its rights)."""
        rights["can_pin_messages"] = can_pin
        uid = self.set_bot_status(chat, by, "administrator", rights)
        await self._after(uid, False, None, 10.0)

    async def remove_bot_from(self, chat: ChatRecord, by: UserRecord, kicked: bool = True) -> None:
        """``by`` removes the bot: kicked (403 "was kicked") or left ("not a member")."""
        uid = self.set_bot_status(chat, by, "kicked" if kicked else "left")
        await self._after(uid, False, None, 10.0)

    async def migrate_chat(self, chat: ChatRecord, by: UserRecord | None = None) -> ChatRecord:
        """Upgrade a group to a supergroup; the old id then answers 400 + migrate_to_chat_id."""
        if chat.type != "group":
            raise ValueError("only basic groups migrate")
        creator_id = next((u for u, s in chat.members.items() if s == "creator"), None)
        actor = by or (self.users[creator_id] if creator_id else self.bot)
        new = ChatRecord(
            -next(self._supergroup_ids), "supergroup", title=chat.title,
            members=dict(chat.members), bot_status=chat.bot_status,
            bot_rights=dict(chat.bot_rights), migrated_from=chat.id,
        )
        self.chats[new.id] = new
        last = None
        if chat.bot_status not in ("left", "kicked"):
            old_msg = self.record_user_message(actor, chat, extra={"migrate_to_chat_id": new.id})
            self.enqueue("message", old_msg.to_json())
            new_msg = RecordedMessage(
                message_id=new.new_message_id(), chat_id=new.id, chat=new.to_json(),
                date=self.now(), from_user=actor.to_json(), from_bot=False,
                extra={"migrate_from_chat_id": chat.id},
            )
            new.messages[new_msg.message_id] = new_msg
            last = self.enqueue("message", new_msg.to_json())
        chat.migrated_to = new.id
        await self._after(last, False, None, 10.0)
        return new

    async def block_bot(self, user: UserRecord) -> None:
        """The person blocks the bot: my_chat_member kicked; sends get 403 afterwards."""
        chat = self.chats[user.id]
        old = self.bot_member_json(chat, "member")
        user.blocked = True
        uid = self.emit_my_chat_member(chat, user, old, self.bot_member_json(chat, "kicked"))
        await self._after(uid, False, None, 10.0)

    async def unblock_bot(self, user: UserRecord) -> None:
        """The person unblocks (restarts) the bot: my_chat_member back to member."""
        chat = self.chats[user.id]
        user.blocked = False
        uid = self.emit_my_chat_member(
            chat, user, self.bot_member_json(chat, "kicked"), self.bot_member_json(chat, "member")
        )
        await self._after(uid, False, None, 10.0)

    # -- messages from people ----------------------------------------------------
    def _bot_messages_since(self, chat: ChatRecord, first_id: int) -> list[RecordedMessage]:
        return [m for m in chat.messages.values() if m.from_bot and m.message_id >= first_id]

    def bot_sees(self, chat: ChatRecord, msg: RecordedMessage) -> bool:
        """Privacy mode: in groups only commands, replies to the bot and service messages."""
        if not self.bot_can_see(chat):
            return False
        if chat.type == "private" or not self.privacy_mode:
            return True
        content = msg.text or msg.caption or ""
        if content.startswith("/"):
            head = content.split()[0]
            return "@" not in head or head.endswith("@" + (self.bot.username or ""))
        if msg.reply_to is not None and msg.reply_to.from_bot:
            return True
        return bool(msg.extra)

    async def user_message(
        self,
        user: UserRecord,
        chat: ChatRecord | None = None,
        quiet: float | None = None,
        timeout: float = 30.0,
        wait: bool = True,
        **content: Any,
    ) -> list[RecordedMessage]:
        """Post a message as ``user``; wait for the bot; return what it sent to that chat.

        ``wait=False`` only queues the update (a person typing while no bot runs).
        """
        chat = chat or self.chats[user.id]
        if chat.type == "private":
            if user.blocked:
                await self.unblock_bot(user)
            user.started = True
        first = chat.next_message_id
        msg = self.record_user_message(user, chat, **content)
        if not self.bot_sees(chat, msg):
            return []
        uid = self.enqueue("message", msg.to_json())
        await self._after(uid, wait, quiet, timeout)
        return self._bot_messages_since(chat, first)

    def text_content(self, text: str, chat: ChatRecord) -> dict[str, Any]:
        """Text with bot_command entities; in groups commands get ``@botname`` appended."""
        if chat.is_group and text.startswith("/"):
            head, _, rest = text.partition(" ")
            if "@" not in head:
                text = f"{head}@{self.bot.username}" + (f" {rest}" if rest else "")
        return {"text": text, "entities": command_entities(text)}

    def photo_content(self, image: bytes | None, as_document: bool) -> dict[str, Any]:
        """A photo as Telegram delivers it: recompressed sizes, or the file as sent."""
        if as_document:
            data = image if image is not None else make_jpeg(exif_gps=True)
            return {"document": self.store_document(data, "IMG_0001.jpg", "image/jpeg")}
        return {"photo": self.store_photo(image if image is not None else make_jpeg())}

    async def album(
        self, user: UserRecord, chat: ChatRecord | None, count: int, caption: str | None,
        quiet: float | None, timeout: float,
    ) -> list[RecordedMessage]:
        """``count`` photo messages sharing one media_group_id, caption on the first."""
        chat = chat or self.chats[user.id]
        if chat.type == "private":
            user.started = True
        first = chat.next_message_id
        group_id = self.new_media_group_id()
        last = None
        for i in range(count):
            photo = self.store_photo(make_jpeg(64 + i, 48, (40 * i % 255, 120, 60)))
            msg = self.record_user_message(
                user, chat, photo=photo, media_group_id=group_id,
                caption=caption if i == 0 else None,
            )
            if self.bot_sees(chat, msg):
                last = self.enqueue("message", msg.to_json())
        await self._after(last, True, quiet, timeout)
        return self._bot_messages_since(chat, first)

    def find_button_message(
        self, chat: ChatRecord, text: str | None, data: str | None
    ) -> RecordedMessage:
        """The newest live bot message in ``chat`` carrying the wanted inline button."""
        for msg in reversed(list(chat.messages.values())):
            if (
                msg.from_bot and not msg.deleted and msg.reply_markup
                and "inline_keyboard" in msg.reply_markup
                and ((text is None and data is None) or msg.button(text, data))
            ):
                return msg
        raise LookupError(f"no message in chat {chat.id} has a button {text or data!r}")

    async def press_button(
        self,
        user: UserRecord,
        text: str | None = None,
        data: str | None = None,
        message: RecordedMessage | None = None,
        chat: ChatRecord | None = None,
        quiet: float | None = None,
        timeout: float = 30.0,
        forged: bool = False,
    ) -> list[RecordedMessage]:
        """A callback_query for the button; returns the bot's new messages in that chat.

        ``forged=True`` sends ``data`` from the newest bot message with any inline
        keyboard, as a modified client can: the bot must not trust callback data.
        """
        if message is None:
            chat = chat or self.chats[user.id]
            message = (self.find_button_message(chat, None, None) if forged
                       else self.find_button_message(chat, text, data))
        else:
            chat = self.chats[message.chat_id]
        button = {"callback_data": data} if forged else message.button(text, data)
        if button is None:
            raise LookupError(f"message {message.message_id} has no button {text or data!r}")
        if "callback_data" not in button:
            raise LookupError(f"button {button.get('text')!r} is not a callback button")
        qid = self.new_callback_query_id()
        self.pending_queries[qid] = PendingQuery(qid, user.id)
        first = chat.next_message_id
        uid = self.enqueue(
            "callback_query",
            {
                "id": qid,
                "from": user.to_json(),
                "message": message.to_json(),
                "chat_instance": self.chat_instance(chat.id),
                "data": button["callback_data"],
            },
        )
        self.last_query_id = qid
        await self._after(uid, True, quiet, timeout)
        return self._bot_messages_since(chat, first)

    last_query_id: str | None = None
