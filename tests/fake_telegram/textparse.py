"""Entity parsing the way Telegram does it, so lengths are counted like Telegram.

Telegram counts text limits in Unicode code points of the text *after*
entity parsing (tags stripped, ``&lt;`` etc. unescaped) and reports entity
offsets in UTF-16 code units. A bot that counts the raw HTML would split
wrongly; one that sends broken HTML gets ``can't parse entities``.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import bad_request

HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (what MessageEntity offsets use)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _parse_error(message: str) -> Exception:
    return bad_request(f"can't parse entities: {message}")


ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);")


def _entity(match: re.Match[str]) -> str:
    """What an HTML entity stands for, as Telegram reads it (an unknown name stays as is)."""
    name = match.group(1)
    if name.startswith("#x"):
        return chr(int(name[2:], 16))
    if name.startswith("#"):
        return chr(int(name[1:]))
    return NAMED.get(name, match.group(0))


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Strip Telegram-HTML tags and unescape entities; return (text, entities)."""
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, dict[str, Any]]] = []  # (tag, utf16 start, extra)
    pos16 = 0
    i = 0
    n = len(source)
    while i < n:
        c = source[i]
        if c == "&":
            m = ENTITY.match(source, i)
            if m:
                ch = _entity(m)
                out.append(ch)
                pos16 += utf16_len(ch)
                i += len(m.group(0))
                continue
            out.append(c)
            pos16 += 1
            i += 1
            continue
        if c != "<":
            out.append(c)
            pos16 += utf16_len(c)
            i += 1
            continue
        close = source.find(">", i)
        if close < 0:
            raise _parse_error(f"Unclosed start tag at byte offset {_byte_offset(source, i)}")
        inner = source[i + 1 : close]
        if inner.startswith("/"):
            name = inner[1:].strip().lower()
            if not stack:
                raise _parse_error(
                    f"Unexpected end tag at byte offset {_byte_offset(source, i)}"
                )
            tag, start, extra = stack.pop()
            if name and name != tag:
                raise _parse_error(
                    f'Unmatched end tag at byte offset {_byte_offset(source, i)}, '
                    f'expected "</{tag}>", found "</{name}>"'
                )
            if pos16 > start:
                entity = {"type": HTML_TAGS[tag], "offset": start, "length": pos16 - start}
                entity.update(extra)
                entities.append(entity)
        else:
            m = re.match(r"([a-zA-Z][a-zA-Z0-9-]*)(.*)$", inner, re.S)
            name = m.group(1).lower() if m else ""
            if name not in HTML_TAGS:
                raise _parse_error(
                    f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, i)}'
                )
            attrs = {key: ENTITY.sub(_entity, value) for key, value in
                     re.findall(r'([a-zA-Z-]+)\s*=\s*["\']([^"\']*)["\']', m.group(2))}
            extra: dict[str, Any] = {}
            if name == "a":
                href = attrs.get("href", "")
                if href.startswith("tg://user?id="):
                    extra = {"type": "text_mention"}
                extra["url"] = href
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise _parse_error(
                    f'Unsupported start tag "span" at byte offset {_byte_offset(source, i)}'
                )
            if name == "code" and stack and stack[-1][0] == "pre" and "class" in attrs:
                stack[-1][2]["language"] = attrs["class"].removeprefix("language-")
            stack.append((name, pos16, extra))
        i = close + 1
    if stack:
        raise _parse_error(
            f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"'
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def parse_markdown_v2(source: str) -> tuple[str, list[dict[str, Any]]]:
    """A simplified MarkdownV2: escapes, toggles and ``[text](url)``; reserved chars checked."""
    out: list[str] = []
    i = 0
    toggles = {"*": 0, "_": 0, "~": 0, "||": 0, "__": 0, "`": 0}
    while i < len(source):
        c = source[i]
        if c == "\\" and i + 1 < len(source):
            out.append(source[i + 1])
            i += 2
            continue
        if source.startswith("```", i):
            end = source.find("```", i + 3)
            if end < 0:
                raise _parse_error(
                    f"Can't find end of PreCode entity at byte offset {_byte_offset(source, i)}"
                )
            body = source[i + 3 : end]
            out.append(body.split("\n", 1)[1] if "\n" in body else body)
            i = end + 3
            continue
        two = source[i : i + 2]
        if two in ("||", "__"):
            toggles[two] ^= 1
            i += 2
            continue
        if c in "*_~`":
            toggles[c] ^= 1
            i += 1
            continue
        if c == "[":
            m = re.match(r"\[((?:\\.|[^\]\\])*)\]\(((?:\\.|[^)\\])*)\)", source[i:])
            if m:
                out.append(re.sub(r"\\(.)", r"\1", m.group(1)))
                i += len(m.group(0))
                continue
        if c in MDV2_RESERVED:
            raise _parse_error(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(c)
        i += 1
    for mark, open_ in toggles.items():
        if open_:
            raise _parse_error(f"Can't find end of the entity starting with '{mark}'")
    return "".join(out), []


def parse_markdown(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Legacy Markdown: ``*bold*``, ``_italic_``, `` `code` ``, ``[text](url)``."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", source)
    for mark in ("```", "*", "_", "`"):
        if text.count(mark) % 2:
            raise _parse_error(f"Can't find end of the entity starting at byte offset 0 ({mark})")
        text = text.replace(mark, "")
    return text, []


def parse_text(source: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Dispatch on ``parse_mode`` (case-insensitive; unknown modes → 400)."""
    mode = (parse_mode or "").lower()
    if not mode:
        return source, []
    if mode == "html":
        return parse_html(source)
    if mode == "markdownv2":
        return parse_markdown_v2(source)
    if mode == "markdown":
        return parse_markdown(source)
    raise bad_request(f"unsupported parse_mode: {parse_mode}")


def command_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities for every ``/command[@bot]`` in a user's text."""
    found = []
    for m in re.finditer(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?", text):
        found.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
        )
    return found
