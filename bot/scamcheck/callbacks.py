"""Callback data of the scam check: `sc:tell` (tell the community) and `sc:tip:<tip id>`
under an answer; `scw:<ask|go|no>:<warning id>:<round>` under an early warning to staff."""

from __future__ import annotations

import re
from dataclasses import dataclass

PATTERN = re.compile(r"^sc:(tell|tip)(?::([a-z0-9-]{1,48}))?$")
WARNING_PATTERN = re.compile(r"^scw:(ask|go|no):(\d{1,12}):(\d{1,6})$")


@dataclass(frozen=True)
class Press:
    what: str
    tip: str | None


@dataclass(frozen=True)
class WarningPress:
    #: ask: show the send button with the count; go: send; no: back to the suggestion.
    what: str
    warning_id: int
    round: int


def tell() -> str:
    return "sc:tell"


def tip(tip_id: str) -> str:
    return f"sc:tip:{tip_id}"


def warning(what: str, warning_id: int, round_number: int) -> str:
    return f"scw:{what}:{warning_id}:{round_number}"


def parse(data: str) -> Press | None:
    match = PATTERN.match(data)
    if match is None or (match.group(1) == "tip") != (match.group(2) is not None):
        return None
    return Press(match.group(1), match.group(2))


def parse_warning(data: str) -> WarningPress | None:
    match = WARNING_PATTERN.match(data)
    if match is None:
        return None
    return WarningPress(match.group(1), int(match.group(2)), int(match.group(3)))
