"""Callback data of the scam check: `sc:tell` (tell the community) and `sc:tip:<tip id>`."""

from __future__ import annotations

import re
from dataclasses import dataclass

PATTERN = re.compile(r"^sc:(tell|tip)(?::([a-z0-9-]{1,48}))?$")


@dataclass(frozen=True)
class Press:
    what: str
    tip: str | None


def tell() -> str:
    return "sc:tell"


def tip(tip_id: str) -> str:
    return f"sc:tip:{tip_id}"


def parse(data: str) -> Press | None:
    match = PATTERN.match(data)
    if match is None or (match.group(1) == "tip") != (match.group(2) is not None):
        return None
    return Press(match.group(1), match.group(2))
