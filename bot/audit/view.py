"""Reading the audit log (/audit): the latest entries a staff member or admin may see, by
kind or person. No Telegram here.

Staff see the entries made by people of their area (themselves included); admins see all.
A person who sent an anonymous report is never named: as the one who acted they show as
"a resident" and are not offered as a filter, and as the object of an entry their id is
left out — so the log cannot be used to work out who reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit.models import AuditEntry
from bot.directory.models import Area, Person
from bot.tipoffs.models import TipOff

PAGE = 15
EXPORT_LIMIT = 5000
MAX_PEOPLE = 8


@dataclass(frozen=True)
class Line:
    at: datetime
    #: None: not in the directory, or someone to keep unnamed (an anonymous reporter).
    who: str | None
    action: str
    object_type: str
    object_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


def kind_of(action: str) -> str:
    """The group an action belongs to: "tipoff" for "tipoff.claim"."""
    return action.split(".", 1)[0]


def _anonymous_reporters() -> Select[tuple[int]]:
    return select(TipOff.reporter_id).where(TipOff.anonymous.is_(True))


def _in_scope(scope: str | None) -> ColumnElement[bool]:
    """Staff: entries made by people of their area; admins (scope None): all."""
    if scope is None:
        return true()
    return AuditEntry.actor_id.in_(
        select(Person.id).join(Area, Area.id == Person.area_id)
        .where(Area.path.startswith(scope, autoescape=True)))


async def latest(session: AsyncSession, *, scope: str | None, kind: str | None = None,
                 actor_id: int | None = None, limit: int = PAGE) -> list[Line]:
    hidden = set(await session.scalars(_anonymous_reporters()))
    stmt = (select(AuditEntry, Person.name).outerjoin(Person, Person.id == AuditEntry.actor_id)
            .where(_in_scope(scope)).order_by(AuditEntry.id.desc()).limit(limit))
    if kind is not None:
        stmt = stmt.where(AuditEntry.action.startswith(f"{kind}.", autoescape=True))
    if actor_id is not None:
        if actor_id in hidden:
            return []
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    lines = []
    for entry, name in (await session.execute(stmt)).all():
        person_object = entry.object_type == "person" and entry.object_id in hidden
        lines.append(Line(
            entry.at, None if entry.actor_id in hidden else name, entry.action,
            entry.object_type, None if person_object else entry.object_id,
            entry.before, entry.after, entry.reason))
    return lines


async def kinds(session: AsyncSession, *, scope: str | None) -> list[str]:
    actions = await session.scalars(select(AuditEntry.action).where(_in_scope(scope))
                                    .distinct())
    return sorted({kind_of(a) for a in actions})


async def people(session: AsyncSession, *, scope: str | None) -> list[tuple[int, str]]:
    """Who acted most recently (never an anonymous reporter), for the person buttons."""
    rows = (await session.execute(
        select(Person.id, Person.name).join(AuditEntry, AuditEntry.actor_id == Person.id)
        .where(_in_scope(scope), Person.id.not_in(_anonymous_reporters()))
        .group_by(Person.id, Person.name).order_by(func.max(AuditEntry.id).desc())
        .limit(MAX_PEOPLE))).all()
    return [(person_id, name) for person_id, name in rows]


def change(value: dict[str, Any] | None) -> str:
    """A state as short text: key=value pairs."""
    if not value:
        return "–"
    return ", ".join(f"{key}={json.dumps(v, ensure_ascii=False)}" for key, v in value.items())
