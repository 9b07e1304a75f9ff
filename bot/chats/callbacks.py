"""Callback data of this feature, one anchored pattern per button kind.

- `chl:t:<id>` / `chl:a:<id>`: link this group to team / area `<id>`
- `chl:p:<page>`: show another page of the choices
- `chl:x`: close the choices without linking
- `chlang:<code>`: the group's language

Anything that does not match exactly (forged, or from an older version) is not ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.chats.service import TargetKind
from bot.i18n import LANGUAGES

LINK_PATTERN = re.compile(r"^chl:(?:([ta]):(\d{1,12})|p:(\d{1,4})|(x))$")
LANGUAGE_PATTERN = re.compile(r"^chlang:([A-Za-z-]{2,5})$")


@dataclass(frozen=True)
class LinkChoice:
    target_kind: TargetKind | None = None
    target_id: int | None = None
    page: int | None = None
    cancel: bool = False


def link_to(kind: TargetKind, target_id: int) -> str:
    return f"chl:{kind.value}:{target_id}"


def page(number: int) -> str:
    return f"chl:p:{number}"


CANCEL = "chl:x"


def parse_link(data: str) -> LinkChoice | None:
    match = LINK_PATTERN.match(data)
    if match is None:
        return None
    kind, target_id, page_number, cancel = match.groups()
    if kind is not None:
        return LinkChoice(target_kind=TargetKind(kind), target_id=int(target_id))
    if page_number is not None:
        return LinkChoice(page=int(page_number))
    return LinkChoice(cancel=cancel is not None)


def choose_language(language: str) -> str:
    return f"chlang:{language}"


def parse_language(data: str) -> str | None:
    match = LANGUAGE_PATTERN.match(data)
    if match is None or match.group(1) not in LANGUAGES:
        return None
    return match.group(1)
