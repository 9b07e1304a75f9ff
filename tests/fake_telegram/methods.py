"""The Bot API methods the fake really implements, with Telegram's refusals.

Each handler takes the fake and the request's :class:`Params`, validates like
Telegram (and in Telegram's order: parameters, then the chat, then flood
limits), and returns the ``result`` object. Sends call ``fake.spend`` just
before they record anything, so a 429 delivers nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .errors import MESSAGE_NOT_MODIFIED as NOT_MODIFIED
from .errors import QUERY_TOO_OLD, ApiError, bad_request, forbidden
from .objects import chat_full_info, chat_member, file_json, image_size, make_jpeg
from .params import (
    Params,
    Upload,
    parse_caption,
    parse_message_text,
    parse_reply_markup,
)
from .state import ChatRecord, RecordedMessage

if TYPE_CHECKING:
    from .server import FakeTelegram

Handler = Callable[["FakeTelegram", Params], Awaitable[Any]]
METHODS: dict[str, Handler] = {}

#: Required parameters per implemented method (api.json), checked in this order.
REQUIRED: dict[str, tuple[str, ...]] = {}
#: Telegram's wording when a required parameter is missing; default 'parameter "x" is required'.
MISSING = {
    "chat_id": "chat_id is empty",
    "text": "message text is empty",
    "message_id": "message identifier is not specified",
    "from_chat_id": "chat_id is empty",
    "latitude": "latitude is empty",
    "longitude": "longitude is empty",
    "photo": "there is no photo in the request",
    "document": "there is no document in the request",
    "voice": "there is no voice in the request",
    "user_id": "invalid user_id specified",
    "callback_query_id": QUERY_TOO_OLD,
    "file_id": "invalid file_id specified",
}
PHOTO_LIMIT = 10 * 1024 * 1024
DOCUMENT_LIMIT = 50 * 1024 * 1024
DOWNLOAD_LIMIT = 20 * 1024 * 1024
COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def method(name: str, *required: str) -> Callable[[Handler], Handler]:
    """Register a handler under its lower-case name with its required params."""

    def register(fn: Handler) -> Handler:
        METHODS[name.lower()] = fn
        REQUIRED[name.lower()] = required
        return fn

    return register


def check_required(name: str, p: Params) -> None:
    """Refuse a request that lacks a required parameter, in Telegram's words."""
    for param in REQUIRED.get(name, ()):
        if not p.has(param):
            raise bad_request(MISSING.get(param, f'parameter "{param}" is required'))


# -- chats ------------------------------------------------------------------------
def lookup_chat(fake: FakeTelegram, p: Params, name: str = "chat_id") -> ChatRecord:
    """The chat a request names; unknown → 400 chat not found, migrated → 400 + new id."""
    raw = p.str(name)
    if raw is None:
        raise bad_request("chat_id is empty")
    chat: ChatRecord | None = None
    if raw.startswith("@"):
        chat = next((c for c in fake.chats.values() if c.username == raw[1:]), None)
    else:
        try:
            chat = fake.chats.get(int(raw))
        except ValueError:
            chat = None
    if chat is None:
        raise bad_request("chat not found")
    if chat.migrated_to is not None:
        raise bad_request(
            "group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": chat.migrated_to},
        )
    return chat


def check_access(fake: FakeTelegram, chat: ChatRecord, initiating: bool = True) -> None:
    """403s for chats the bot cannot write to: blocked, never started, kicked, left."""
    if chat.type == "private":
        user = chat.user
        assert user is not None
        if user.deactivated:
            raise forbidden("user is deactivated")
        if user.blocked:
            raise forbidden("bot was blocked by the user")
        if initiating and not user.started:
            raise forbidden("bot can't initiate conversation with a user")
        return
    kind = "supergroup" if chat.type == "supergroup" else "group"
    if chat.bot_status == "kicked":
        raise forbidden(f"bot was kicked from the {kind} chat")
    if chat.bot_status == "left":
        raise forbidden(f"bot is not a member of the {kind} chat")


def send_target(fake: FakeTelegram, p: Params, name: str = "chat_id") -> ChatRecord:
    """Lookup plus access check: the chat a send goes to."""
    chat = lookup_chat(fake, p, name)
    check_access(fake, chat)
    return chat


def find_message(chat: ChatRecord, message_id: int | None, what: str) -> RecordedMessage:
    """A live message of ``chat`` or 400 "message to <what> not found"."""
    if message_id is None:
        raise bad_request("message identifier is not specified")
    msg = chat.messages.get(message_id)
    if msg is None or msg.deleted:
        raise bad_request(f"message to {what} not found")
    return msg


def reply_target(chat: ChatRecord, p: Params) -> RecordedMessage | None:
    """``reply_parameters`` / ``reply_to_message_id``; a missing target is refused."""
    reply = p.obj("reply_parameters")
    mid = p.int("reply_to_message_id")
    allow = p.bool("allow_sending_without_reply")
    if isinstance(reply, dict):
        mid = reply.get("message_id")
        allow = allow or bool(reply.get("allow_sending_without_reply"))
    if mid is None:
        return None
    msg = chat.messages.get(int(mid))
    if msg is None or msg.deleted:
        if allow:
            return None
        raise bad_request("message to be replied not found")
    return msg


def has_admin_right(chat: ChatRecord, right: str) -> bool:
    """Whether the bot holds ``right`` in a group (creators hold all)."""
    if chat.bot_status == "creator":
        return True
    return chat.bot_status == "administrator" and bool(chat.bot_rights.get(right))


# -- files ------------------------------------------------------------------------
def photo_from_input(fake: FakeTelegram, value: Upload | str | None) -> Upload | list[dict]:
    """A photo upload (validated, stored later) or the PhotoSize list of a known file_id."""
    if value is None:
        raise bad_request("there is no photo in the request")
    if isinstance(value, Upload):
        if len(value.data) > PHOTO_LIMIT:
            raise bad_request("PHOTO_INVALID_DIMENSIONS")
        if image_size(value.data) is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        return value
    if value.startswith(("http://", "https://")):
        return Upload(make_jpeg(320, 240, (90, 90, 200)), "url.jpg", "image/jpeg")
    if value in fake.photo_sets:
        return fake.photo_sets[value]
    if value in fake.files:
        raise bad_request("can't use file of type Document as Photo")
    raise bad_request("wrong file identifier/HTTP URL specified")


def document_from_input(fake: FakeTelegram, value: Upload | str | None) -> Upload | dict:
    """A document upload or the Document object of a known file_id."""
    if value is None:
        raise bad_request("there is no document in the request")
    if isinstance(value, Upload):
        if len(value.data) > DOCUMENT_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        return value
    if value.startswith(("http://", "https://")):
        name = value.rsplit("/", 1)[-1] or "file"
        return Upload(b"%PDF-1.4 fake\n", name, "application/pdf")
    if value in fake.photo_sets:
        raise bad_request("can't use file of type Photo as Document")
    record = fake.files.get(value)
    if record is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "file_name": record.file_name or record.file_path.rsplit("/", 1)[-1],
        "mime_type": record.mime_type or "application/octet-stream",
        "file_size": len(record.data),
    }


def voice_from_input(fake: FakeTelegram, p: Params) -> dict:
    """The Voice object of an upload (stored now), a URL, or a known file_id."""
    value = p.input_file("voice")
    if value is None:
        raise bad_request("there is no voice in the request")
    duration = p.int("duration")
    if isinstance(value, Upload) or value.startswith(("http://", "https://")):
        data = value.data if isinstance(value, Upload) else b"OggS" + bytes(64)
        if len(data) > DOCUMENT_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        record = fake.store_file(data, "voice", "oga", "audio/ogg")
    else:
        if value in fake.photo_sets:
            raise bad_request("can't use file of type Photo as Voice")
        record = fake.files.get(value)
        if record is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        # A known file keeps the duration it was first sent with.
        earlier = next((m.voice for c in fake.chats.values() for m in c.messages.values()
                        if m.voice and m.voice["file_id"] == value), None)
        if earlier is not None and duration is None:
            duration = earlier.get("duration")
    return {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "duration": duration or 0,
        "mime_type": record.mime_type or "audio/ogg",
        "file_size": len(record.data),
    }


def store_photo(fake: FakeTelegram, photo: Upload | list[dict]) -> list[dict]:
    """PhotoSize list for a validated photo input."""
    return fake.store_photo(photo.data) if isinstance(photo, Upload) else photo


def store_document(fake: FakeTelegram, doc: Upload | dict) -> dict:
    """Document object for a validated document input."""
    if isinstance(doc, Upload):
        return fake.store_document(
            doc.data, doc.filename or "file", doc.content_type or "application/octet-stream"
        )
    return doc


# -- identity and updates ---------------------------------------------------------
@method("getMe")
async def get_me(fake: FakeTelegram, p: Params) -> Any:
    """The bot's own User with the bot-only capability flags."""
    out = fake.bot.to_json()
    out.update(
        can_join_groups=True,
        can_read_all_group_messages=not fake.privacy_mode,
        supports_inline_queries=False,
        can_connect_to_business=False,
        has_main_web_app=False,
    )
    return out


@method("logOut")
@method("close")
async def log_out(fake: FakeTelegram, p: Params) -> Any:
    """Accepted and ignored."""
    return True


# -- sending ----------------------------------------------------------------------
@method("sendMessage", "chat_id", "text")
async def send_message(fake: FakeTelegram, p: Params) -> Any:
    """Text with entity parsing, keyboard validation, reply target and flood limits."""
    chat = send_target(fake, p)
    text, entities, raw = parse_message_text(p)
    markup = parse_reply_markup(p)
    reply_to = reply_target(chat, p)
    fake.spend(chat)
    msg = fake.record_bot_message(
        chat, text=text, entities=entities, reply_markup=markup, reply_to=reply_to,
        raw_text=raw, parse_mode=p.str("parse_mode"),
    )
    return msg.to_json()


@method("sendPhoto", "chat_id", "photo")
async def send_photo(fake: FakeTelegram, p: Params) -> Any:
    """A photo (upload, file_id or URL), recompressed into PhotoSizes."""
    chat = send_target(fake, p)
    photo = photo_from_input(fake, p.input_file("photo"))
    caption, caption_entities = parse_caption(p)
    markup = parse_reply_markup(p)
    reply_to = reply_target(chat, p)
    fake.spend(chat)
    msg = fake.record_bot_message(
        chat, photo=store_photo(fake, photo), caption=caption,
        caption_entities=caption_entities, reply_markup=markup, reply_to=reply_to,
    )
    return msg.to_json()


@method("sendDocument", "chat_id", "document")
async def send_document(fake: FakeTelegram, p: Params) -> Any:
    """A file kept byte for byte."""
    chat = send_target(fake, p)
    doc = document_from_input(fake, p.input_file("document"))
    caption, caption_entities = parse_caption(p)
    markup = parse_reply_markup(p)
    reply_to = reply_target(chat, p)
    fake.spend(chat)
    msg = fake.record_bot_message(
        chat, document=store_document(fake, doc), caption=caption,
        caption_entities=caption_entities, reply_markup=markup, reply_to=reply_to,
    )
    return msg.to_json()


@method("sendVoice", "chat_id", "voice")
async def send_voice(fake: FakeTelegram, p: Params) -> Any:
    """A voice note (upload, file_id or URL) with an optional caption."""
    chat = send_target(fake, p)
    voice = voice_from_input(fake, p)
    caption, caption_entities = parse_caption(p)
    markup = parse_reply_markup(p)
    reply_to = reply_target(chat, p)
    fake.spend(chat)
    msg = fake.record_bot_message(
        chat, voice=voice, caption=caption, caption_entities=caption_entities,
        reply_markup=markup, reply_to=reply_to,
    )
    return msg.to_json()


@method("sendLocation", "chat_id", "latitude", "longitude")
async def send_location(fake: FakeTelegram, p: Params) -> Any:
    """A map point."""
    chat = send_target(fake, p)
    lat, lon = p.float("latitude"), p.float("longitude")
    assert lat is not None and lon is not None
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise bad_request("wrong location specified")
    markup = parse_reply_markup(p)
    reply_to = reply_target(chat, p)
    fake.spend(chat)
    location: dict[str, Any] = {"latitude": lat, "longitude": lon}
    msg = fake.record_bot_message(chat, location=location, reply_markup=markup, reply_to=reply_to)
    return msg.to_json()


@method("sendMediaGroup", "chat_id", "media")
async def send_media_group(fake: FakeTelegram, p: Params) -> Any:
    """2–10 photos/documents as an album; costs one flood token per item."""
    chat = send_target(fake, p)
    media = p.obj("media")
    if not isinstance(media, list):
        raise bad_request("Expected an Array of InputMedia")
    if not 2 <= len(media) <= 10:
        raise bad_request("wrong number of media in the album: 2-10 items are allowed")
    kinds = set()
    prepared: list[tuple[str, Any, str | None, list[dict]]] = []
    for item in media:
        if not isinstance(item, dict) or item.get("type") not in ("photo", "document"):
            raise bad_request("Can't parse InputMedia: unsupported media type in the fake")
        kinds.add(item["type"])
        value = p.upload(item.get("media"))
        if isinstance(value, str) and value.startswith("attach://"):
            value = None
        caption, entities = parse_caption(p, item.get("caption"), item.get("parse_mode"))
        if item["type"] == "photo":
            prepared.append(("photo", photo_from_input(fake, value), caption, entities))
        else:
            prepared.append(("document", document_from_input(fake, value), caption, entities))
    if len(kinds) > 1:
        raise bad_request("can't use the media of the specified type in the album")
    reply_to = reply_target(chat, p)
    fake.spend(chat, cost=len(media))
    group_id = fake.new_media_group_id()
    out = []
    for kind, value, caption, entities in prepared:
        content: dict[str, Any] = {
            "caption": caption, "caption_entities": entities, "media_group_id": group_id,
            "reply_to": reply_to,
        }
        if kind == "photo":
            content["photo"] = store_photo(fake, value)
        else:
            content["document"] = store_document(fake, value)
        out.append(fake.record_bot_message(chat, **content).to_json())
    return out


COPIED = ("text", "entities", "caption", "caption_entities", "photo", "document", "voice",
          "location", "contact")


def _source(fake: FakeTelegram, p: Params, what: str) -> RecordedMessage:
    src_chat = lookup_chat(fake, p, "from_chat_id")
    if src_chat.type != "private":
        check_access(fake, src_chat)
    return find_message(src_chat, p.int("message_id"), what)


@method("copyMessage", "chat_id", "from_chat_id", "message_id")
async def copy_message(fake: FakeTelegram, p: Params) -> Any:
    """Re-send a message's content without a link to the original."""
    chat = send_target(fake, p)
    src = _source(fake, p, "copy")
    content = {k: getattr(src, k) for k in COPIED}
    if all(v in (None, []) for v in content.values()):
        raise bad_request("message can't be copied")
    if p.has("caption"):
        if content["photo"] is None and content["document"] is None:
            raise bad_request("message caption can't be changed for this message")
        content["caption"], content["caption_entities"] = parse_caption(p)
    content["reply_markup"] = parse_reply_markup(p)
    content["reply_to"] = reply_target(chat, p)
    fake.spend(chat)
    msg = fake.record_bot_message(chat, **content)
    return {"message_id": msg.message_id}


@method("forwardMessage", "chat_id", "from_chat_id", "message_id")
async def forward_message(fake: FakeTelegram, p: Params) -> Any:
    """Re-send with ``forward_origin`` naming the original sender."""
    chat = send_target(fake, p)
    src = _source(fake, p, "forward")
    content = {k: getattr(src, k) for k in COPIED}
    if all(v in (None, []) for v in content.values()):
        raise bad_request("message can't be forwarded")
    fake.spend(chat)
    origin = {"type": "user", "date": src.date, "sender_user": src.from_user}
    msg = fake.record_bot_message(chat, forward_origin=origin, **content)
    return msg.to_json()


@method("sendChatAction", "chat_id", "action")
async def send_chat_action(fake: FakeTelegram, p: Params) -> Any:
    """Typing indicators: access-checked, not counted."""
    send_target(fake, p)
    return True


# -- editing ----------------------------------------------------------------------
def _edit_target(fake: FakeTelegram, p: Params) -> RecordedMessage:
    if p.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat = lookup_chat(fake, p)
    check_access(fake, chat, initiating=False)
    msg = find_message(chat, p.int("message_id"), "edit")
    if not msg.from_bot:
        raise bad_request("message can't be edited")
    return msg


def _apply_edit(fake: FakeTelegram, msg: RecordedMessage, **changes: Any) -> Any:
    if all(getattr(msg, k) == v for k, v in changes.items()):
        raise bad_request(NOT_MODIFIED)
    msg.edits.append(msg.to_json())
    for k, v in changes.items():
        setattr(msg, k, v)
    msg.edit_date = fake.now()
    return msg.to_json()


@method("editMessageText")
async def edit_message_text(fake: FakeTelegram, p: Params) -> Any:
    """New text (and keyboard: omitting reply_markup removes it, as on Telegram)."""
    msg = _edit_target(fake, p)
    text, entities, raw = parse_message_text(p)
    markup = parse_reply_markup(p)
    if msg.text is None:
        raise bad_request("there is no text in the message to edit")
    return _apply_edit(
        fake, msg, text=text, entities=entities, reply_markup=markup, raw_text=raw
    )


@method("editMessageCaption")
async def edit_message_caption(fake: FakeTelegram, p: Params) -> Any:
    """New caption on a media message."""
    msg = _edit_target(fake, p)
    caption, entities = parse_caption(p)
    markup = parse_reply_markup(p)
    if msg.photo is None and msg.document is None and msg.voice is None:
        raise bad_request("there is no caption in the message to edit")
    return _apply_edit(fake, msg, caption=caption, caption_entities=entities, reply_markup=markup)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(fake: FakeTelegram, p: Params) -> Any:
    """Swap the inline keyboard (none = remove it)."""
    msg = _edit_target(fake, p)
    return _apply_edit(fake, msg, reply_markup=parse_reply_markup(p))


@method("deleteMessage", "chat_id", "message_id")
async def delete_message(fake: FakeTelegram, p: Params) -> Any:
    """Own messages anywhere; others' in private chats, or with can_delete_messages."""
    chat = lookup_chat(fake, p)
    check_access(fake, chat, initiating=False)
    msg = find_message(chat, p.int("message_id"), "delete")
    if chat.is_group and not msg.from_bot and not has_admin_right(chat, "can_delete_messages"):
        raise bad_request("message can't be deleted")
    msg.deleted = True
    return True


# -- callbacks --------------------------------------------------------------------
@method("answerCallbackQuery", "callback_query_id")
async def answer_callback_query(fake: FakeTelegram, p: Params) -> Any:
    """Answer a press once, in time, with ≤200 characters."""
    qid = p.str("callback_query_id") or ""
    text = p.str("text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    pending = fake.pending_queries.get(qid)
    if pending is None or pending.answered or pending.is_too_old(fake.callback_timeout):
        raise bad_request(QUERY_TOO_OLD)
    pending.answered = True
    fake.record_callback_answer(qid, text, p.bool("show_alert"), p.str("url"),
                                p.int("cache_time") or 0)
    return True


# -- pins -------------------------------------------------------------------------
def _pin_rights(chat: ChatRecord) -> None:
    if chat.is_group and not has_admin_right(chat, "can_pin_messages"):
        raise bad_request("not enough rights to manage pinned messages in the chat")


@method("pinChatMessage", "chat_id", "message_id")
async def pin_chat_message(fake: FakeTelegram, p: Params) -> Any:
    """Pin: always in private chats, with can_pin_messages in groups."""
    chat = lookup_chat(fake, p)
    check_access(fake, chat, initiating=False)
    _pin_rights(chat)
    msg = find_message(chat, p.int("message_id"), "pin")
    msg.pinned = True
    return True


@method("unpinChatMessage", "chat_id")
async def unpin_chat_message(fake: FakeTelegram, p: Params) -> Any:
    """Unpin the given or the most recent pinned message."""
    chat = lookup_chat(fake, p)
    check_access(fake, chat, initiating=False)
    _pin_rights(chat)
    mid = p.int("message_id")
    if mid is not None:
        find_message(chat, mid, "unpin").pinned = False
        return True
    pinned = [m for m in chat.messages.values() if m.pinned and not m.deleted]
    if pinned:
        pinned[-1].pinned = False
    return True


@method("unpinAllChatMessages", "chat_id")
async def unpin_all(fake: FakeTelegram, p: Params) -> Any:
    """Unpin everything in the chat."""
    chat = lookup_chat(fake, p)
    check_access(fake, chat, initiating=False)
    _pin_rights(chat)
    for m in chat.messages.values():
        m.pinned = False
    return True


# -- files ------------------------------------------------------------------------
@method("getFile", "file_id")
async def get_file(fake: FakeTelegram, p: Params) -> Any:
    """File with a file_path for the download route (≤20 MB)."""
    record = fake.files.get(p.str("file_id") or "")
    if record is None:
        raise bad_request("wrong file_id or the file is temporarily unavailable")
    if len(record.data) > DOWNLOAD_LIMIT:
        raise bad_request("file is too big")
    return file_json(record)


# -- commands ---------------------------------------------------------------------
def _scope_key(fake: FakeTelegram, p: Params) -> str:
    scope = p.obj("scope") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope JSON object")
    kind = scope["type"]
    if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
        return kind
    if kind in ("chat", "chat_administrators", "chat_member"):
        chat = lookup_chat(fake, Params({"chat_id": scope.get("chat_id")}))
        if kind == "chat_member":
            return f"chat_member:{chat.id}:{scope.get('user_id')}"
        return f"{kind}:{chat.id}"
    raise bad_request(f"can't parse BotCommandScope: unsupported type {kind}")


def _language(p: Params) -> str:
    code = p.str("language_code") or ""
    if code and not re.fullmatch(r"[a-z]{2}", code):
        raise bad_request("invalid language code specified")
    return code


@method("setMyCommands", "commands")
async def set_my_commands(fake: FakeTelegram, p: Params) -> Any:
    """Store commands per (scope, language_code) after Telegram's checks."""
    commands = p.obj("commands")
    if not isinstance(commands, list):
        raise bad_request("Expected an Array of BotCommand")
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    clean = []
    for c in commands:
        if not isinstance(c, dict):
            raise bad_request("Can't parse BotCommand: expected an Object")
        command = str(c.get("command", "")).removeprefix("/")
        description = str(c.get("description", ""))
        if not COMMAND_RE.match(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        clean.append({"command": command, "description": description})
    key = (_scope_key(fake, p), _language(p))
    if clean:
        fake.commands[key] = clean
    else:
        fake.commands.pop(key, None)
    return True


@method("getMyCommands")
async def get_my_commands(fake: FakeTelegram, p: Params) -> Any:
    """Exactly the list stored for this scope and language (no fallback)."""
    return fake.commands.get((_scope_key(fake, p), _language(p)), [])


@method("deleteMyCommands")
async def delete_my_commands(fake: FakeTelegram, p: Params) -> Any:
    """Forget the list for this scope and language."""
    fake.commands.pop((_scope_key(fake, p), _language(p)), None)
    return True


@method("setChatMenuButton")
async def set_chat_menu_button(fake: FakeTelegram, p: Params) -> Any:
    """Recorded per chat (None = default for all private chats)."""
    chat_id = lookup_chat(fake, p).id if p.has("chat_id") else None
    button = p.obj("menu_button") or {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app",
                                                                   "default"):
        raise bad_request("can't parse menu button JSON object")
    fake.menu_buttons[chat_id] = button
    return True


@method("getChatMenuButton")
async def get_chat_menu_button(fake: FakeTelegram, p: Params) -> Any:
    """What setChatMenuButton stored, else the default."""
    chat_id = lookup_chat(fake, p).id if p.has("chat_id") else None
    return fake.menu_buttons.get(chat_id) or fake.menu_buttons.get(None) or {"type": "commands"}


# -- webhooks ---------------------------------------------------------------------
@method("setWebhook")
async def set_webhook(fake: FakeTelegram, p: Params) -> Any:
    """Recorded only (no delivery); an empty url removes the webhook, as on Telegram."""
    url = p.str("url") or ""
    if not url:
        fake.webhook = None
        return True
    m = re.match(r"^https://[^/:]+(?::(\d+))?(/.*)?$", url)
    if not m:
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if m.group(1) and m.group(1) not in ("80", "88", "443", "8443"):
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    secret = p.str("secret_token")
    if secret is not None:
        if len(secret) > 256:
            raise bad_request("secret token is too long")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", secret):
            raise bad_request("secret token contains unallowed characters")
    if p.bool("drop_pending_updates"):
        fake.drop_pending_updates()
    fake.webhook = {
        "url": url,
        "secret_token": secret,
        "max_connections": p.int("max_connections") or 40,
        "allowed_updates": p.obj("allowed_updates"),
    }
    fake.abort_long_poll("Conflict: terminated by setWebhook request")
    return True


@method("deleteWebhook")
async def delete_webhook(fake: FakeTelegram, p: Params) -> Any:
    """Back to getUpdates; optionally drop what is queued."""
    fake.webhook = None
    if p.bool("drop_pending_updates"):
        fake.drop_pending_updates()
    return True


@method("getWebhookInfo")
async def get_webhook_info(fake: FakeTelegram, p: Params) -> Any:
    """WebhookInfo with the required url / has_custom_certificate / pending_update_count."""
    hook = fake.webhook or {}
    out: dict[str, Any] = {
        "url": hook.get("url", ""),
        "has_custom_certificate": False,
        "pending_update_count": len(fake.updates),
    }
    if hook:
        out["max_connections"] = hook["max_connections"]
        if hook.get("allowed_updates"):
            out["allowed_updates"] = hook["allowed_updates"]
    return out


# -- chat info --------------------------------------------------------------------
@method("getChat", "chat_id")
async def get_chat(fake: FakeTelegram, p: Params) -> Any:
    """ChatFullInfo of a chat the bot can see."""
    chat = lookup_chat(fake, p)
    check_access(fake, chat, initiating=False)
    return chat_full_info(chat)


def _member(fake: FakeTelegram, chat: ChatRecord, user_id: int) -> dict[str, Any]:
    if user_id == fake.bot.id:
        status = "member" if chat.type == "private" else chat.bot_status
        return chat_member(fake.bot, status, chat.bot_rights)
    user = fake.users.get(user_id)
    if user is None:
        raise bad_request("user not found")
    if chat.type == "private":
        if chat.user is not user:
            raise bad_request("user not found")
        return chat_member(user, "member")
    return chat_member(user, chat.members.get(user_id, "left"))


@method("getChatMember", "chat_id", "user_id")
async def get_chat_member(fake: FakeTelegram, p: Params) -> Any:
    """A ChatMember of the right subtype for the person's status."""
    chat = lookup_chat(fake, p)
    check_access(fake, chat, initiating=False)
    user_id = p.int("user_id")
    assert user_id is not None
    return _member(fake, chat, user_id)


@method("getChatAdministrators", "chat_id")
async def get_chat_administrators(fake: FakeTelegram, p: Params) -> Any:
    """Creator and administrators (the bot included when it is one)."""
    chat = lookup_chat(fake, p)
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    check_access(fake, chat)
    out = [
        _member(fake, chat, uid)
        for uid, status in chat.members.items()
        if status in ("creator", "administrator")
    ]
    if chat.bot_status in ("creator", "administrator"):
        out.append(_member(fake, chat, fake.bot.id))
    return out


@method("getChatMemberCount", "chat_id")
async def get_chat_member_count(fake: FakeTelegram, p: Params) -> Any:
    """Members present, the bot included."""
    chat = lookup_chat(fake, p)
    check_access(fake, chat, initiating=False)
    if chat.type == "private":
        return 2
    present = sum(1 for s in chat.members.values() if s not in ("left", "kicked"))
    return present + 1


@method("leaveChat", "chat_id")
async def leave_chat(fake: FakeTelegram, p: Params) -> Any:
    """The bot leaves a group (and gets its my_chat_member update)."""
    chat = lookup_chat(fake, p)
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats")
    check_access(fake, chat)
    fake.set_bot_status(chat, fake.bot, "left")
    return True
