"""Who may do what: one place that every command and every button press asks.

Roles nest: admin (everything, everywhere) > staff (their community and below) >
team leader (their teams) > member > resident. Area scope is a materialized path
prefix: staff whose area is `/1/4/` may act on `/1/4/17/` but not on `/1/5/`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from bot.directory.models import Role


class Permission(enum.StrEnum):
    USE_BOT = "use_bot"
    MANAGE_DIRECTORY = "manage_directory"
    MANAGE_TEAM = "manage_team"
    BROADCAST = "broadcast"
    SEND_ALERT = "send_alert"
    HANDLE_TIPOFF = "handle_tipoff"
    REVEAL_REPORTER = "reveal_reporter"
    VIEW_FIGURES = "view_figures"


class Standing(enum.IntEnum):
    """Roles in order, with leadership (which comes from a membership) between staff and member."""

    STRANGER = 0
    RESIDENT = 1
    MEMBER = 2
    LEADER = 3
    STAFF = 4
    ADMIN = 5


@dataclass(frozen=True)
class Actor:
    """A snapshot of the person behind an update, loaded once per update."""

    telegram_id: int
    name: str
    language: str
    person_id: int | None = None
    role: Role | None = None
    area_path: str | None = None
    team_ids: frozenset[int] = field(default_factory=frozenset)
    led_team_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def standing(self) -> Standing:
        if self.role is Role.ADMIN:
            return Standing.ADMIN
        if self.role is Role.STAFF:
            return Standing.STAFF
        if self.led_team_ids:
            return Standing.LEADER
        if self.role is Role.MEMBER or self.team_ids:
            return Standing.MEMBER
        if self.role is Role.RESIDENT:
            return Standing.RESIDENT
        return Standing.STRANGER

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


MINIMUM_STANDING: dict[Permission, Standing] = {
    Permission.USE_BOT: Standing.STRANGER,
    Permission.MANAGE_DIRECTORY: Standing.STAFF,
    Permission.MANAGE_TEAM: Standing.LEADER,
    Permission.BROADCAST: Standing.STAFF,
    Permission.SEND_ALERT: Standing.LEADER,
    Permission.HANDLE_TIPOFF: Standing.MEMBER,
    Permission.REVEAL_REPORTER: Standing.ADMIN,
    Permission.VIEW_FIGURES: Standing.LEADER,
}


def in_scope(actor: Actor, area_path: str | None) -> bool:
    """Whether an area lies within the actor's area (admins: everywhere)."""
    if actor.is_admin:
        return True
    if actor.area_path is None or area_path is None:
        return False
    return area_path.startswith(actor.area_path)


def can(
    actor: Actor | None,
    permission: Permission,
    *,
    area_path: str | None = None,
    team_id: int | None = None,
) -> bool:
    """The one authorization decision.

    Standing is checked first; then the object's place: staff must have the area
    in scope; a leader may act only on a team they lead (or a member on a team
    they belong to), unless they are staff of its area.
    """
    if actor is None:
        return permission is Permission.USE_BOT
    if actor.standing < MINIMUM_STANDING[permission]:
        return False
    if actor.is_admin:
        return True
    if team_id is not None:
        if actor.standing >= Standing.STAFF and area_path is not None:
            return in_scope(actor, area_path)
        if permission in {Permission.MANAGE_TEAM, Permission.SEND_ALERT,
                          Permission.VIEW_FIGURES}:
            return team_id in actor.led_team_ids
        return team_id in actor.team_ids
    if area_path is not None:
        return actor.standing >= Standing.STAFF and in_scope(actor, area_path)
    return True


def directory_scope(actor: Actor | None) -> str | None:
    """The area subtree whose people and teams the actor manages: everything for an admin,
    their own area for staff, nothing for anyone else (and for staff without an area)."""
    if actor is None:
        return None
    if actor.is_admin:
        return "/"
    if actor.standing >= Standing.STAFF:
        return actor.area_path
    return None
