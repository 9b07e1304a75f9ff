"""Callback data of tip-offs, one anchored pattern per family; anything else is not ours.

- reporter's draft: `tr:<what>[:<value>]` (`tr:new` starts one, from /start's menu)
- team card:        `tp:<action>:<tipoff id>[:<team id>]`
- routing (staff):  `tq:<step>:<category>[:<area id>[:<team id>]]` (area 0 = everywhere)
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from bot.tipoffs.categories import Category, parse_category

DRAFT_PATTERN = re.compile(
    r"^tr:(new|cat|done|skip|area|anon|send|cancel|add|back|type|voice)(?::([a-z_0-9]{1,24}))?$"
)
CARD_PATTERN = re.compile(r"^tp:([cspxrt]):(\d{1,12})(?::(\d{1,12}))?$")
ROUTING_PATTERN = re.compile(r"^tq:(cat|area|team):([a-z_]{1,24})(?::(\d{1,12}))?(?::(\d{1,12}))?$")


# -- the reporter's draft ------------------------------------------------------------
@dataclass(frozen=True)
class DraftPress:
    what: str
    value: str | None


def draft(what: str, value: object | None = None) -> str:
    return f"tr:{what}" if value is None else f"tr:{what}:{value}"


def parse_draft(data: str) -> DraftPress | None:
    match = DRAFT_PATTERN.match(data)
    if match is None:
        return None
    return DraftPress(match.group(1), match.group(2))


# -- the team's card -----------------------------------------------------------------
class CardAction(enum.StrEnum):
    CLAIM = "c"
    RESOLVE = "s"
    REFER = "p"
    REJECT = "x"
    REASSIGN = "r"
    REASSIGN_TO = "t"


@dataclass(frozen=True)
class CardPress:
    action: CardAction
    tipoff_id: int
    team_id: int | None = None


def card(action: CardAction, tipoff_id: int, team_id: int | None = None) -> str:
    base = f"tp:{action.value}:{tipoff_id}"
    return base if team_id is None else f"{base}:{team_id}"


def parse_card(data: str) -> CardPress | None:
    match = CARD_PATTERN.match(data)
    if match is None:
        return None
    action = CardAction(match.group(1))
    team = int(match.group(3)) if match.group(3) else None
    if (action is CardAction.REASSIGN_TO) != (team is not None):
        return None
    return CardPress(action, int(match.group(2)), team)


# -- routing edits -------------------------------------------------------------------
@dataclass(frozen=True)
class RoutingPress:
    step: str
    category: Category
    area_id: int | None  # 0 in the data means "everywhere"
    team_id: int | None


def routing(step: str, category: str, area_id: int | None = None,
            team_id: int | None = None) -> str:
    parts = ["tq", step, category]
    if area_id is not None or team_id is not None:
        parts.append(str(area_id or 0))
    if team_id is not None:
        parts.append(str(team_id))
    return ":".join(parts)


def parse_routing(data: str) -> RoutingPress | None:
    match = ROUTING_PATTERN.match(data)
    if match is None:
        return None
    category = parse_category(match.group(2))
    if category is None:
        return None
    area = int(match.group(3)) if match.group(3) else None
    team = int(match.group(4)) if match.group(4) else None
    step = match.group(1)
    if (step == "team") != (team is not None) or (step == "cat" and area is not None):
        return None
    return RoutingPress(step, category, area, team)
