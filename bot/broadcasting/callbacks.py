"""Callback data of /broadcast and /broadcasts, one anchored pattern each.

- `bc:<draft>:<action>[:<arg>]` — a step of the composer. `<draft>` is the draft's
  random tag, so a keyboard from an earlier (or someone else's) draft never acts on
  the current one. Actions: `k` kind, `s` section, `t`/`a`/`c` toggle team/area/chat,
  `r` toggle role, `res:<area>` all residents of that area, `p` page, `ok` audience done,
  `lib` next tip from the library, `cat` tip category, `go` send now, `urg` send at once
  in quiet hours, `sch` schedule it instead (continues in the schedules feature's trigger
  steps), `x` cancel.
- `bcl:<action>[:<id>]` — the /broadcasts list: `x:<id>` cancel what is pending, `r` refresh.

Anything that does not match exactly is not ours (forged or from an older version).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PATTERN = re.compile(
    r"^bc:([0-9a-f]{8}):(k|s|t|a|c|r|res|p|ok|lib|cat|go|urg|sch|x)(?::([a-z0-9_]{1,24}))?$")
LIST_PATTERN = re.compile(r"^bcl:(?:x:(\d{1,12})|(r))$")
ANY_PATTERN = re.compile(r"^bcl?:")


@dataclass(frozen=True)
class Press:
    draft: str
    action: str
    arg: str | None = None

    @property
    def number(self) -> int | None:
        return int(self.arg) if self.arg is not None and self.arg.isdigit() else None


def encode(draft: str, action: str, arg: object = None) -> str:
    data = f"bc:{draft}:{action}" + (f":{arg}" if arg is not None else "")
    if not PATTERN.match(data):
        raise ValueError(f"bad callback data {data!r}")
    return data


def decode(data: str | None) -> Press | None:
    match = PATTERN.match(data or "")
    if match is None:
        return None
    return Press(match.group(1), match.group(2), match.group(3))


def cancel_broadcast(broadcast_id: int) -> str:
    return f"bcl:x:{broadcast_id}"


REFRESH = "bcl:r"


def decode_list(data: str | None) -> tuple[str, int | None] | None:
    """`("x", id)` or `("r", None)`."""
    match = LIST_PATTERN.match(data or "")
    if match is None:
        return None
    if match.group(1) is not None:
        return "x", int(match.group(1))
    return "r", None
