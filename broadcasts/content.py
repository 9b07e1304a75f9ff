"""What a delivery sends: a small serialisable message, one per language.

A broadcast's ``content`` column holds ``{language: OutgoingMessage.to_dict()}``; a
delivery picks its language and falls back to the first one, so a recipient whose
language has no translation still gets something readable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

ParseMode = Literal["HTML"] | None
#: Rows of ``(label, callback_data)``.
Buttons = tuple[tuple[tuple[str, str], ...], ...]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A text, a photo, an album, a voice note or a file, with optional inline buttons.

    ``text`` is the caption when ``photo``, ``album``, ``voice`` or ``document`` is set (on the
    album's first photo). ``photo`` is a file id or a URL; ``album`` lists photo file
    ids; ``voice`` is a voice note's file id (or a URL of an OGG/Opus file).
    Callback data may hold placeholders (``{delivery_id}``) filled per delivery.
    """

    text: str | None = None
    photo: str | None = None
    album: tuple[str, ...] = ()
    voice: str | None = None
    #: A file (file id, URL, or a local path the bot wrote: uploaded with each send).
    document: str | None = None
    parse_mode: ParseMode = None
    buttons: Buttons = ()
    pin: bool = False
    disable_notification: bool = False

    def __post_init__(self) -> None:
        if sum(bool(media) for media in (self.photo, self.album, self.voice,
                                         self.document)) > 1:
            raise ValueError("a message is a photo, an album, a voice note or a file, only one")
        if not (self.text or self.photo or self.album or self.voice or self.document):
            raise ValueError("an empty message")
        if self.parse_mode not in ("HTML", None):
            raise ValueError(f"unsupported parse mode {self.parse_mode!r}")
        # Accept lists (as JSON gives them back) but keep the frozen value hashable.
        object.__setattr__(self, "album", tuple(self.album))
        object.__setattr__(
            self, "buttons", tuple(tuple((str(a), str(b)) for a, b in row) for row in self.buttons)
        )

    @property
    def kind(self) -> Literal["text", "photo", "album", "voice", "document"]:
        if self.album:
            return "album"
        if self.document:
            return "document"
        return "photo" if self.photo else "voice" if self.voice else "text"

    @property
    def html(self) -> bool:
        return self.parse_mode == "HTML"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict without defaults, so stored content stays small."""
        out: dict[str, Any] = {}
        if self.text is not None:
            out["text"] = self.text
        if self.photo is not None:
            out["photo"] = self.photo
        if self.album:
            out["album"] = list(self.album)
        if self.voice is not None:
            out["voice"] = self.voice
        if self.document is not None:
            out["document"] = self.document
        if self.parse_mode:
            out["parse_mode"] = self.parse_mode
        if self.buttons:
            out["buttons"] = [[list(b) for b in row] for row in self.buttons]
        if self.pin:
            out["pin"] = True
        if self.disable_notification:
            out["disable_notification"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutgoingMessage:
        return cls(
            text=data.get("text"),
            photo=data.get("photo"),
            album=tuple(data.get("album") or ()),
            voice=data.get("voice"),
            document=data.get("document"),
            parse_mode=data.get("parse_mode"),
            buttons=tuple(tuple((a, b) for a, b in row) for row in data.get("buttons") or ()),
            pin=bool(data.get("pin", False)),
            disable_notification=bool(data.get("disable_notification", False)),
        )

    @property
    def has_placeholders(self) -> bool:
        return any("{" in data for row in self.buttons for _, data in row)

    def fill(self, **values: object) -> OutgoingMessage:
        """Replace ``{name}`` in callback data (not in text, where braces are prose)."""
        if not self.has_placeholders:
            return self

        def sub(data: str) -> str:
            for key, value in values.items():
                data = data.replace("{" + key + "}", str(value))
            return data

        return replace(
            self, buttons=tuple(tuple((label, sub(d)) for label, d in row) for row in self.buttons)
        )


Content = Mapping[str, OutgoingMessage]


def content_to_json(content: Mapping[str, OutgoingMessage | Mapping[str, Any]]) -> dict[str, Any]:
    """Validate and serialise ``{language: message}``; the first language is the fallback."""
    if not content:
        raise ValueError("a broadcast needs content in at least one language")
    out: dict[str, Any] = {}
    for language, message in content.items():
        if not isinstance(message, OutgoingMessage):
            message = OutgoingMessage.from_dict(message)
        out[language] = message.to_dict()
    return out


def content_from_json(data: Mapping[str, Any]) -> dict[str, OutgoingMessage]:
    return {language: OutgoingMessage.from_dict(m) for language, m in data.items()}


def pick(content: Mapping[str, OutgoingMessage], language: str) -> OutgoingMessage:
    """The message in ``language``, or in the content's first language."""
    try:
        return content[language]
    except KeyError:
        return next(iter(content.values()))
