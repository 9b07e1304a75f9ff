"""Callback data of patrol, one anchored pattern: `pt:<action>[:<id>[:<id>[:<id>]]]`.

- the leader's notice of a missed sign-in: `pt:cv:<duty>` (who covered?),
  `pt:cb:<duty>:<person>` (covered by), `pt:ex:<duty>` (excused)
- the evening all-clear: `pt:ok:<report>` (all normal), `pt:is:<report>` (something to report)
- on duty: `pt:fs:<duty>` (found something), `pt:out:<duty>` (sign out)
- /posts: `pt:pp:<team>` (the team's posts), `pt:ps:<post>` (a post), `pt:pq:<post>` (its
  sign), `pt:pn:<team>` (a new post), `pt:pl:<post>` (its location), `pt:pr:<post>:<metres>`
- /shifts: `pt:rs:<shift>:<weekday>` (who, that day), `pt:rp:<shift>:<weekday>:<person>`
  (put on / take off), `pt:ri:<team>` (import a 排班表), `pt:re:<team>` (export),
  `pt:ry:<upload>` / `pt:rn:<upload>` (import the checked file, or not); a shift:
  `pt:sa:<team>` / `pt:sp:<post>` (a new one), `pt:sh:<shift>` (its screen),
  `pt:sd:<shift>:<weekday>` (a day on / off), `pt:sf:<shift>` (sensitive periods only),
  `pt:sn:<shift>` (rename), `pt:st:<shift>` (times), `pt:sx:<shift>` / `pt:sy:<shift>`
  (remove?, remove); `pt:et:<community>` (the community's evening times)
- swapping a duty: `pt:wo:<duty>` (offer it), `pt:wt:<duty>:<person>` (to this teammate),
  `pt:wy:<duty>` / `pt:wn:<duty>` (the teammate accepts, declines)

Everything fits in 64 bytes (ids have at most 12 digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PATTERN = re.compile(r"^pt:([a-z]{2,3})((?::\d{1,12}){0,3})$")


@dataclass(frozen=True)
class Press:
    action: str
    ids: tuple[int, ...]

    def id(self, index: int = 0) -> int | None:
        return self.ids[index] if index < len(self.ids) else None


def data(action: str, *ids: int) -> str:
    return ":".join(["pt", action, *(str(i) for i in ids)])


def parse(raw: str) -> Press | None:
    match = PATTERN.match(raw)
    if match is None:
        return None
    ids = tuple(int(part) for part in match.group(2).split(":") if part)
    return Press(match.group(1), ids)
