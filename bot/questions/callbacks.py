"""Callback data of questions: `qa:<what>:<number>`.

- the asker's choice: `qa:anon:1` (anonymous) or `qa:anon:0` (with my name); the question
  is the message the choice quotes;
- the card: `qa:reply:<question id>` (unnamed) or `qa:named:<question id>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PATTERN = re.compile(r"^qa:(anon|reply|named):(\d{1,12})$")


@dataclass(frozen=True)
class QuestionPress:
    what: str
    number: int


def encode(what: str, number: int) -> str:
    return f"qa:{what}:{number}"


def decode(data: str | None) -> QuestionPress | None:
    match = PATTERN.match(data or "")
    if match is None:
        return None
    press = QuestionPress(match.group(1), int(match.group(2)))
    if press.what == "anon" and press.number not in (0, 1):
        return None
    return press
