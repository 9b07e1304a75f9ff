"""Callback data of /start: `lang:<code>`, the resident registration `reg:…`, the /me
screen `me:…` and the answer to free text `ft:…`.

Anything else is not ours."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.i18n import LANGUAGES

LANGUAGE_PATTERN = re.compile(r"^lang:([A-Za-z-]{2,5})$")


def choose_language(language: str) -> str:
    return f"lang:{language}"


def parse_language(data: str) -> str | None:
    """The chosen language, or None for forged or stale data."""
    match = LANGUAGE_PATTERN.match(data)
    if match is None or match.group(1) not in LANGUAGES:
        return None
    return match.group(1)


# Resident registration: choose an area (`reg:a:<id>`), a page of areas
# (`reg:p:<parent id or 0>:<page>`), stay at an area (`reg:h:<id>`), toggle a topic
# (`reg:t:<topic>`), finish (`reg:done`), or ask to share the phone (`reg:phone`).
REGISTRATION_PATTERN = re.compile(
    r"^reg:(?:(a|h):(\d{1,12})|p:(\d{1,12}):(\d{1,4})|t:([a-z_]{1,20})|(done)|(phone))$"
)


@dataclass(frozen=True)
class RegistrationPress:
    kind: str  # "area" | "here" | "page" | "topic" | "done" | "phone"
    area_id: int = 0
    page: int = 0
    topic: str = ""


def registration_area(area_id: int) -> str:
    return f"reg:a:{area_id}"


def registration_here(area_id: int) -> str:
    return f"reg:h:{area_id}"


def registration_page(parent_id: int | None, page: int) -> str:
    return f"reg:p:{parent_id or 0}:{page}"


def registration_topic(topic: str) -> str:
    return f"reg:t:{topic}"


REGISTRATION_DONE = "reg:done"
REGISTRATION_PHONE = "reg:phone"


def parse_registration(data: str | None) -> RegistrationPress | None:
    match = REGISTRATION_PATTERN.match(data or "")
    if match is None:
        return None
    kind, area_id, parent, page, topic, done, _phone = match.groups()
    if kind == "a":
        return RegistrationPress("area", area_id=int(area_id))
    if kind == "h":
        return RegistrationPress("here", area_id=int(area_id))
    if parent is not None:
        return RegistrationPress("page", area_id=int(parent), page=int(page))
    if topic is not None:
        return RegistrationPress("topic", topic=topic)
    if done:
        return RegistrationPress("done")
    return RegistrationPress("phone")


# /me: the overview (`me:show`) and what can be changed from it.
ME_PATTERN = re.compile(r"^me:(show|area|topics|lang)$")


def me(what: str) -> str:
    return f"me:{what}"


def parse_me(data: str | None) -> str | None:
    match = ME_PATTERN.match(data or "")
    return match.group(1) if match else None


# A private message outside any flow: report it, ask the committee, or help. The text
# itself is the message the bot's question quotes (Telegram sends it back with the press).
FREE_TEXT_PATTERN = re.compile(r"^ft:(report|ask|help)$")


def free_text(what: str) -> str:
    return f"ft:{what}"


def parse_free_text(data: str | None) -> str | None:
    match = FREE_TEXT_PATTERN.match(data or "")
    return match.group(1) if match else None
