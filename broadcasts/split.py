"""Fit a message into Telegram's lengths: text 4,096, caption 1,024, album 10 photos.

Lengths count code points *after* entity parsing, so HTML tags count nothing and an
entity such as ``&amp;`` counts one. Text is cut on a paragraph break if one is near
the limit, else a line break, else a space, else hard; never inside a tag. Tags open
at a cut are closed at the end of the part and reopened at the start of the next, so
each part is valid HTML on its own.
"""

from __future__ import annotations

import re
from dataclasses import replace

from broadcasts.content import OutgoingMessage

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ALBUM_LIMIT = 10

_HTML_TOKEN = re.compile(r"<[^>]*>|&#?\w+;")
#: A cut this far into the window or later is good enough; earlier ones try a weaker break.
_MIN_FILL = 0.5


def _units(text: str, html: bool) -> list[tuple[str, int]]:
    """The text as (raw, visible length) units: one per character, tag or entity."""
    if not html:
        return [(ch, 1) for ch in text]
    units: list[tuple[str, int]] = []
    pos = 0
    for m in _HTML_TOKEN.finditer(text):
        units.extend((ch, 1) for ch in text[pos : m.start()])
        token = m.group()
        units.append((token, 0 if token.startswith("<") else 1))
        pos = m.end()
    units.extend((ch, 1) for ch in text[pos:])
    return units


def visible_length(text: str, *, html: bool = False) -> int:
    """Length as Telegram counts it (code points after entity parsing)."""
    if not html:
        return len(text)
    return sum(v for _, v in _units(text, html))


def _tag_name(tag: str) -> str:
    return re.split(r"[\s>/]", tag.lstrip("</"), maxsplit=1)[0].lower()


def _apply_tag(stack: list[str], token: str) -> None:
    if not token.startswith("<") or token.endswith("/>"):
        return
    if token.startswith("</"):
        name = _tag_name(token)
        for i in range(len(stack) - 1, -1, -1):
            if _tag_name(stack[i]) == name:
                del stack[i:]
                break
    else:
        stack.append(token)


def _break_level(units: list[tuple[str, int]], i: int) -> int:
    """How good a cut before unit ``i`` is: 3 paragraph, 2 line, 1 space, 0 none."""
    raw = units[i][0]
    if raw == "\n":
        return 3 if i + 1 < len(units) and units[i + 1][0] == "\n" else 2
    return 1 if raw in (" ", "\t") else 0


def _cut(
    units: list[tuple[str, int]], start: int, stack: list[str], limit: int
) -> tuple[str, int, list[str]]:
    """One part from ``units[start:]``: (its text, where the next starts, tags open there)."""
    visible, end = 0, start
    best: dict[int, int] = {}  # break level -> index of the last such separator
    while end < len(units) and visible + units[end][1] <= limit:
        level = _break_level(units, end)
        if level and end > start:
            best[level] = end
        visible += units[end][1]
        end += 1
    cut = end
    if end < len(units):
        level = _break_level(units, end)  # the next unit may itself be a good separator
        if level:
            best[level] = end
        floor = start + int((end - start) * _MIN_FILL)
        cut = next((best[lv] for lv in (3, 2, 1) if best.get(lv, -1) > floor), end)
        while cut > start + 1 and units[cut - 1][0].startswith("<") and units[cut - 1][1] == 0:
            if units[cut - 1][0].startswith("</"):
                break
            cut -= 1  # an opening tag belongs with the text it opens
    opened = list(stack)
    for raw, _ in units[start:cut]:
        _apply_tag(opened, raw)
    body = "".join(raw for raw, _ in units[start:cut])
    part = "".join(stack) + body + "".join(f"</{_tag_name(t)}>" for t in reversed(opened))
    while cut < len(units) and units[cut][0] in ("\n", " ", "\t"):
        cut += 1  # the separator itself goes with neither part
    return part, cut, opened


def _split_units(
    units: list[tuple[str, int]], first_limit: int, limit: int, html: bool
) -> list[str]:
    parts: list[str] = []
    start, stack = 0, []
    while start < len(units):
        part, start, stack = _cut(units, start, stack, first_limit if not parts else limit)
        if visible_length(part, html=html):
            parts.append(part)
        elif not parts:
            parts.append("")  # an empty caption keeps its slot
    return parts


def split_text(text: str, *, limit: int = TEXT_LIMIT, html: bool = False) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` visible code points each."""
    if limit < 1:
        raise ValueError("limit must be positive")
    units = _units(text, html)
    if sum(v for _, v in units) <= limit:
        return [text]
    return [p for p in _split_units(units, limit, limit, html) if p]


def split_caption(text: str, *, html: bool = False) -> tuple[str, list[str]]:
    """A caption of at most 1,024 and the rest as text parts of at most 4,096."""
    units = _units(text, html)
    if sum(v for _, v in units) <= CAPTION_LIMIT:
        return text, []
    parts = _split_units(units, CAPTION_LIMIT, TEXT_LIMIT, html)
    return parts[0], parts[1:]


def _text_parts(message: OutgoingMessage, texts: list[str]) -> list[OutgoingMessage]:
    """The text that did not fit in a caption, as plain messages sent like ``message``."""
    return [
        OutgoingMessage(
            text=t,
            parse_mode=message.parse_mode,
            disable_notification=message.disable_notification,
        )
        for t in texts
    ]


def split_message(message: OutgoingMessage) -> list[OutgoingMessage]:
    """Parts that each fit Telegram's limits, sent in order.

    A caption too long becomes the photo (or voice note, or file) with the first 1,024
    and the rest as text.
    Buttons go on the last part, but an album cannot carry them: then the caption
    moves to a text part after the album. ``pin`` marks the first part.
    """
    html = message.html
    text = message.text or ""
    if message.kind == "text":
        parts = [replace(message, text=t) for t in split_text(text, html=html)]
    elif message.kind in ("voice", "document"):
        caption, rest = split_caption(text, html=html)
        parts = [replace(message, text=caption or None)]
        parts.extend(_text_parts(message, rest))
    else:
        album = message.album or (message.photo,)
        if len(album) > 1 and message.buttons and text:
            caption, rest = "", split_text(text, html=html)
        else:
            caption, rest = split_caption(text, html=html)
        parts = []
        for i in range(0, len(album), ALBUM_LIMIT):
            chunk = album[i : i + ALBUM_LIMIT]
            head = (caption or None) if i == 0 else None
            if len(chunk) == 1:
                parts.append(replace(message, text=head, photo=chunk[0], album=()))
            else:
                parts.append(replace(message, text=head, photo=None, album=tuple(chunk)))
        parts.extend(_text_parts(message, rest))
    last = len(parts) - 1
    return [
        replace(
            part,
            pin=message.pin and i == 0,
            buttons=message.buttons if i == last and part.kind != "album" else (),
        )
        for i, part in enumerate(parts)
    ]
