"""Request parameters as Telegram reads them, plus the shared validations.

Bodies come form-encoded (PTB JSON-encodes nested values inside form
fields), multipart (uploads; ``attach://name`` points at a part) or JSON.
:class:`Params` hides the difference so handlers read ``p.int("chat_id")``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import bad_request
from .textparse import parse_text

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
MAX_BUTTONS = 100
BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "web_app",
    "copy_text",
    "callback_game",
    "pay",
)


@dataclass
class Upload:
    """One uploaded multipart file."""

    data: bytes
    filename: str | None
    content_type: str | None


class Params:
    """Typed access to a request's parameters, whatever the encoding."""

    def __init__(self, values: dict[str, Any], files: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.files = files or {}

    def has(self, name: str) -> bool:
        """Present and non-empty (Telegram treats "" as absent)."""
        if name in self.files:
            return True
        value = self.values.get(name)
        return value is not None and value != ""

    def str(self, name: str) -> str | None:
        """A string parameter (numbers in JSON bodies become strings)."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return value

    def int(self, name: str) -> int | None:
        """An integer parameter; garbage → 400 like Telegram's ``invalid ... specified``."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def float(self, name: str) -> float | None:
        """A float parameter."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def bool(self, name: str) -> bool:
        """A boolean parameter ("true"/"1" in forms, true in JSON)."""
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1")

    def obj(self, name: str) -> Any:
        """A JSON-serialized object or array parameter."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    def upload(self, value: Any) -> Upload | str | None:
        """Resolve an InputFile: an upload part, ``attach://name``, or a file_id / URL."""
        if isinstance(value, str) and value.startswith("attach://"):
            return self.files.get(value.removeprefix("attach://"))
        return value or None

    def input_file(self, name: str) -> Upload | str | None:
        """The file parameter ``name``: its own part, an attach:// reference or a string."""
        if name in self.files:
            return self.files[name]
        return self.upload(self.str(name))


def parse_message_text(p: Params, field: str = "text") -> tuple[str, list[dict[str, Any]], str]:
    """Validate message text: non-empty, ≤4096 code points after entity parsing."""
    raw = p.str(field)
    if raw is None:
        raise bad_request("message text is empty")
    text, entities = parse_text(raw, p.str("parse_mode"))
    given = p.obj("entities")
    if isinstance(given, list):
        entities = given
    if not text.strip():
        raise bad_request("message text is empty")
    if len(text) > TEXT_LIMIT:
        raise bad_request("message is too long")
    return text, entities, raw


def parse_caption(p: Params, raw: str | None = None, parse_mode: str | None = None
                  ) -> tuple[str | None, list[dict[str, Any]]]:
    """Validate a caption: ≤1024 code points after entity parsing (empty = none)."""
    if raw is None:
        raw = p.str("caption")
        parse_mode = p.str("parse_mode")
    if not raw:
        return None, []
    text, entities = parse_text(raw, parse_mode)
    if len(text) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")
    return (text or None), entities


def parse_reply_markup(p: Params) -> dict[str, Any] | None:
    """Validate ``reply_markup`` the way Telegram refuses bad keyboards."""
    markup = p.obj("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request("can't parse inline keyboard markup: expected an Array of Array")
        if sum(len(r) for r in rows) > MAX_BUTTONS:
            raise bad_request("reply markup is too long")
        for row in rows:
            for button in row:
                _check_inline_button(button)
    elif "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list):
            raise bad_request("can't parse keyboard markup: expected an Array of Array")
        if sum(len(r) for r in rows) > MAX_BUTTONS * 3:
            raise bad_request("reply markup is too long")
    elif not ("remove_keyboard" in markup or "force_reply" in markup):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            "can't parse inline keyboard button: Field \"text\" must be of type String"
        )
    if not any(k in button for k in BUTTON_ACTIONS):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not re.match(r"^(https?|tg)://\S+$", str(button["url"])):
        raise bad_request("BUTTON_URL_INVALID")
