"""Builders for Telegram JSON objects that are not plain records: members, files, photos.

Every builder fills all fields the Bot API marks required for its type
(checked by tests/test_fake_spec.py against api.json), so PTB's ``de_json``
sees what it would see from Telegram.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from .state import ChatRecord, FileRecord, UserRecord

ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
RESTRICTED_RIGHTS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_edit_tag",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)
PHOTO_SIDES = (90, 320, 800, 1280)


def chat_member(
    user: UserRecord, status: str, rights: dict[str, bool] | None = None
) -> dict[str, Any]:
    """A ``ChatMember*`` object for ``status`` with every required field."""
    out: dict[str, Any] = {"status": status, "user": user.to_json()}
    if status == "creator":
        out["is_anonymous"] = False
    elif status == "administrator":
        rights = rights or {}
        out["can_be_edited"] = False
        out["is_anonymous"] = False
        for name in ADMIN_RIGHTS:
            out[name] = bool(rights.get(name, name in ("can_manage_chat", "can_invite_users")))
        out["can_pin_messages"] = bool(rights.get("can_pin_messages", False))
    elif status == "kicked":
        out["until_date"] = 0
    elif status == "restricted":
        out["is_member"] = True
        out["until_date"] = 0
        for name in RESTRICTED_RIGHTS:
            out[name] = False
    return out


def chat_full_info(chat: ChatRecord) -> dict[str, Any]:
    """``ChatFullInfo`` for getChat: the Chat fields plus the required extras."""
    out = chat.to_json()
    out["accent_color_id"] = 0
    out["max_reaction_count"] = 11
    out["accepted_gift_types"] = {
        "unlimited_gifts": False,
        "limited_gifts": False,
        "unique_gifts": False,
        "premium_subscription": False,
        "gifts_from_channels": False,
    }
    return out


def file_json(record: FileRecord, with_path: bool = True) -> dict[str, Any]:
    """The ``File`` object getFile returns (file_path only below 20 MB)."""
    out: dict[str, Any] = {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "file_size": len(record.data),
    }
    if with_path:
        out["file_path"] = record.file_path
    return out


def make_jpeg(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 40, 40),
              exif_gps: bool = False) -> bytes:
    """A small generated JPEG; with ``exif_gps`` it carries EXIF with a GPS block."""
    image = Image.new("RGB", (width, height), color)
    buf = io.BytesIO()
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "FakeCam"  # Make
        gps = exif.get_ifd(0x8825)
        gps[1] = "N"
        gps[2] = (31.0, 13.0, 48.0)
        gps[3] = "E"
        gps[4] = (121.0, 28.0, 12.0)
        image.save(buf, "JPEG", exif=exif)
    else:
        image.save(buf, "JPEG")
    return buf.getvalue()


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height if Pillow can read ``data`` as an image, else None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:
        return None


def photo_variants(data: bytes) -> list[tuple[int, int, bytes]]:
    """Recompressed sizes Telegram keeps of a photo (EXIF is gone, like on Telegram)."""
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        width, height = image.size
        variants: list[tuple[int, int, bytes]] = []
        for side in PHOTO_SIDES:
            scale = min(1.0, side / max(width, height))
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            if variants and (w, h) == variants[-1][:2]:
                break
            buf = io.BytesIO()
            image.resize((w, h)).save(buf, "JPEG", quality=85)
            variants.append((w, h, buf.getvalue()))
            if scale == 1.0:
                break
        return variants
