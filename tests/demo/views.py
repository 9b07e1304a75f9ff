"""What the page shows of the fake's records: messages as JSON the browser draws, with the
bot's formatting turned back into (escaped) HTML from Telegram's entities."""

from __future__ import annotations

import html
from typing import Any

from tests.fake_telegram.state import ChatRecord, RecordedMessage, UserRecord

#: Entity type → (opening tag, closing tag); text_link and pre are built below.
TAGS = {
    "bold": ("<b>", "</b>"), "italic": ("<i>", "</i>"), "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"), "code": ("<code>", "</code>"),
    "spoiler": ('<span class="spoiler">', "</span>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote>", "</blockquote>"),
}


def _tags(entity: dict[str, Any]) -> tuple[str, str] | None:
    kind = entity.get("type")
    if kind == "text_link":
        url = str(entity.get("url", ""))
        if not url.startswith(("http://", "https://", "tg://")):
            return None
        return f'<a href="{html.escape(url)}" target="_blank" rel="noopener">', "</a>"
    if kind == "pre":
        return "<pre>", "</pre>"
    return TAGS.get(str(kind))


def entities_html(text: str, entities: list[dict[str, Any]]) -> str:
    """Escaped text with the entities' tags; offsets count UTF-16 code units, as Telegram's."""
    units = text.encode("utf-16-le")
    opens: dict[int, list[tuple[int, str]]] = {}
    closes: dict[int, list[tuple[int, str]]] = {}
    for order, entity in enumerate(entities):
        tags = _tags(entity)
        if tags is None:
            continue
        start, end = int(entity["offset"]), int(entity["offset"]) + int(entity["length"])
        opens.setdefault(start, []).append((-(end - start) * 1000 + order, tags[0]))
        closes.setdefault(end, []).append((-(end - start) * 1000 + order, tags[1]))
    out: list[str] = []
    length = len(units) // 2
    position = 0
    while position <= length:
        for _, tag in sorted(closes.get(position, []), reverse=True):
            out.append(tag)
        for _, tag in sorted(opens.get(position, [])):
            out.append(tag)
        if position == length:
            break
        step = 2 if 0xD800 <= int.from_bytes(units[position * 2:position * 2 + 2], "little") \
            <= 0xDBFF else 1
        out.append(html.escape(units[position * 2:(position + step) * 2].decode("utf-16-le")))
        position += step
    return "".join(out)


def _service(msg: RecordedMessage) -> str | None:
    """A line for service messages (someone joined, a group was upgraded…)."""
    extra = msg.extra
    if "new_chat_members" in extra:
        names = "、".join(m.get("first_name", "") for m in extra["new_chat_members"])
        return f"{msg.from_user.get('first_name', '')} 添加了 {names}"
    if "left_chat_member" in extra:
        return f"{extra['left_chat_member'].get('first_name', '')} 离开了群组"
    if "migrate_to_chat_id" in extra or "migrate_from_chat_id" in extra:
        return "群组已升级为超级群组"
    return None


def message_view(msg: RecordedMessage) -> dict[str, Any]:
    """One message as the page draws it."""
    view: dict[str, Any] = {
        "chat_id": msg.chat_id, "message_id": msg.message_id, "date": msg.date,
        "from_bot": msg.from_bot, "from_id": msg.from_user.get("id"),
        "from_name": msg.from_user.get("first_name", ""), "pinned": msg.pinned,
        "edited": msg.edit_date is not None, "deleted": msg.deleted,
        "media_group_id": msg.media_group_id,
        "reply_to": msg.reply_to.message_id if msg.reply_to is not None else None,
    }
    if msg.text is not None:
        view["html"] = entities_html(msg.text, msg.entities)
    if msg.caption:
        view["caption_html"] = entities_html(msg.caption, msg.caption_entities)
    if msg.photo:
        view["photo"] = msg.photo[-1]["file_id"]
    if msg.document:
        view["document"] = {"file_id": msg.document["file_id"],
                            "name": msg.document.get("file_name") or "file",
                            "mime": msg.document.get("mime_type") or ""}
    if msg.voice:
        view["voice"] = {"file_id": msg.voice["file_id"], "duration": msg.voice.get("duration", 0)}
    if msg.location:
        view["location"] = {"latitude": msg.location["latitude"],
                            "longitude": msg.location["longitude"]}
    if msg.contact:
        view["contact"] = {"name": msg.contact.get("first_name", ""),
                           "phone": msg.contact.get("phone_number", "")}
    if msg.forward_origin:
        origin = msg.forward_origin
        sender = origin.get("sender_user") or {}
        view["forwarded_from"] = sender.get("first_name") or origin.get("sender_user_name") or ""
    if (service := _service(msg)) is not None:
        view["service"] = service
    markup = msg.reply_markup or {}
    if "inline_keyboard" in markup:
        view["buttons"] = [[{"text": b.get("text", ""), "data": b.get("callback_data"),
                             "url": b.get("url")} for b in row]
                           for row in markup["inline_keyboard"]]
    return view


def reply_keyboard(chat: ChatRecord) -> list[list[dict[str, Any]]] | None:
    """The reply keyboard the bot's newest message with one left showing (None: hidden).

    A one-time keyboard hides once the person has sent something, as Telegram's apps do."""
    answered = False
    for msg in reversed(list(chat.messages.values())):
        markup = msg.reply_markup or {}
        if not msg.from_bot:
            answered = True
            continue
        if msg.deleted:
            continue
        if markup.get("remove_keyboard") or (markup.get("one_time_keyboard") and answered):
            return None
        if "keyboard" in markup:
            return [[{"text": b.get("text", ""), "contact": bool(b.get("request_contact")),
                      "location": bool(b.get("request_location"))}
                     if isinstance(b, dict) else {"text": str(b)} for b in row]
                    for row in markup["keyboard"]]
    return None


def chats_of(chats: dict[int, ChatRecord], user: UserRecord) -> list[ChatRecord]:
    """The person's private chat with the bot, then the groups they are in (not upgraded)."""
    private = chats.get(user.id)
    groups = [c for c in chats.values() if c.is_group and user.id in c.members
              and c.migrated_to is None and c.members[user.id] not in ("left", "kicked")]
    return ([private] if private else []) + groups


def chat_view(chat: ChatRecord, bot_name: str) -> dict[str, Any]:
    """A chat with its messages (oldest first), its reply keyboard and its pinned message."""
    messages = [message_view(m) for m in chat.messages.values() if not m.deleted]
    pinned = [m["message_id"] for m in messages if m["pinned"]]
    return {"id": chat.id, "type": chat.type,
            "title": chat.title if chat.is_group else bot_name,
            "members": len(chat.members), "messages": messages,
            "keyboard": reply_keyboard(chat), "pinned": pinned[-1] if pinned else None}
