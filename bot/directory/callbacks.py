"""Callback data of the directory: `dir:<action>[:<id>[:<id>]]`, ids only (≤ 64 bytes).

Anything that does not match, or names an action we do not know, is not valid; the
handlers still load every id afresh and ask bot.auth.can, since data can be forged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PATTERN = re.compile(r"^dir:([a-z]{1,8})(?::(\d{1,12}))?(?::(\d{1,12}))?$")

ACTIONS = frozenset({
    # areas: browse, page, add child, rename, archive (ask), archive (yes), import confirm
    "ab", "aa", "ar", "ax", "axy", "aok",
    # teams: list page, view, add member (ask), pick person, remove, make leader,
    # unset leader, new team (ask), rename (ask), archive (ask), archive (yes),
    # zone (list page), zone (set)
    "tl", "tv", "tad", "tap", "trm", "tld", "tun", "tnew", "tar", "tax", "taxy", "tz", "tzs",
    # invites: pick team, pick role (team, role index), staff invite for an area,
    # options (team or staff link's area, packed choice), make the link (the same),
    # active links (team, page), revoke (ask), revoke (yes), which community for a
    # staff link (0, page), an area's active staff links (area, page)
    "it", "ir", "is", "io", "ig", "il", "ix", "ixy", "isp", "isl",
    # roster: confirm import, cancel; answer a question (upload, choice·1000 + question tag):
    # this team, a new team, skip the rows, this role, this area
    "rok", "rno", "rmt", "rmn", "rms", "rmr", "rma",
    # leave: yes, no
    "lvy", "lvn",
    # a role from a roster matched by username: confirm, keep as member
    "pcf", "pcx",
})


@dataclass(frozen=True)
class DirCallback:
    action: str
    a: int = 0
    b: int = 0


def encode(action: str, a: int | None = None, b: int | None = None) -> str:
    assert action in ACTIONS
    parts = ["dir", action]
    if a is not None:
        parts.append(str(a))
        if b is not None:
            parts.append(str(b))
    data = ":".join(parts)
    assert len(data.encode()) <= 64
    return data


def decode(data: str | None) -> DirCallback | None:
    """The parsed press, or None for forged or stale data."""
    match = PATTERN.match(data or "")
    if match is None or match.group(1) not in ACTIONS:
        return None
    return DirCallback(match.group(1), int(match.group(2) or 0), int(match.group(3) or 0))


@dataclass(frozen=True)
class InviteChoice:
    """The options of an invite being made, packed into one callback number:
    role index (hundreds), lifetime index (tens), use-limit index (units)."""

    role: int
    lifetime: int
    uses: int

    def pack(self) -> int:
        return self.role * 100 + self.lifetime * 10 + self.uses

    @classmethod
    def unpack(cls, value: int, *, roles: int, lifetimes: int, uses: int) -> InviteChoice | None:
        """The choice, or None when any part is out of range (forged data)."""
        choice = cls(value // 100, value // 10 % 10, value % 10)
        if value >= 1000 or choice.role >= roles or choice.lifetime >= lifetimes \
                or choice.uses >= uses:
            return None
        return choice
