"""Callback data of /figures: `fg:<action>:<target>[:<period>]`, one anchored pattern.

- target: `a<area id>` (an area; `a0` everywhere, for administrators), `t<team id>`
  (one team; `t0` every team the person leads)
- actions: `p` show the figures for a period, `k` pick a month, `w` pick a place below,
  `s` choose the target (then the period)
- period: `tm` this month, `lm` last month, `ty` this year, `m<YYYYMM>` a given month
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

PATTERN = re.compile(r"^fg:([pkws]):([at])(\d{1,12})(?::(tm|lm|ty|m\d{6}))?$")


class Action(enum.StrEnum):
    SHOW = "p"
    PICK_MONTH = "k"
    PICK_PLACE = "w"
    SELECT = "s"


@dataclass(frozen=True)
class Target:
    kind: str  # "a" area or "t" team
    id: int  # 0: everywhere (area) or all the person's teams (team)

    def encode(self) -> str:
        return f"{self.kind}{self.id}"


@dataclass(frozen=True)
class Press:
    action: Action
    target: Target
    period: str | None


def encode(action: Action, target: Target, period: str | None = None) -> str:
    data = f"fg:{action.value}:{target.encode()}"
    return data if period is None else f"{data}:{period}"


def parse(data: str) -> Press | None:
    match = PATTERN.match(data)
    if match is None:
        return None
    action = Action(match.group(1))
    period = match.group(4)
    if (action is Action.SHOW) != (period is not None):
        return None
    if period is not None and period.startswith("m") and not 1 <= int(period[5:]) <= 12:
        return None
    return Press(action, Target(match.group(2), int(match.group(3))), period)
