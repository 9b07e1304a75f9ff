"""Roster import (dry run, then confirm) and export. No Telegram.

Columns: name, phone, team, role, area, optional telegram (username or numeric id).
A dry run names every bad row with its reason and writes nothing; the import
checks the good rows again, since the directory may have changed meanwhile.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import phonenumbers
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit import record
from bot.directory.areas import ancestor_ids, split_path, subtree
from bot.directory.models import (
    Area,
    Membership,
    Person,
    PersonStatus,
    Role,
    Team,
)
from bot.directory.tables import TableRow, write_xlsx

REQUIRED_COLUMNS = ("name", "phone", "team")


class Problem(enum.StrEnum):
    """Why a row was refused; the handler words each one for people."""

    MISSING_NAME = "missing_name"
    BAD_PHONE = "bad_phone"
    MISSING_TEAM = "missing_team"
    UNKNOWN_TEAM = "unknown_team"
    AMBIGUOUS_TEAM = "ambiguous_team"
    UNKNOWN_AREA = "unknown_area"
    AMBIGUOUS_AREA = "ambiguous_area"
    BAD_ROLE = "bad_role"
    BAD_TELEGRAM = "bad_telegram"
    DUPLICATE_IN_FILE = "duplicate_in_file"
    ALREADY_PRESENT = "already_present"


class RosterRole(enum.StrEnum):
    MEMBER = "member"
    LEADER = "leader"
    STAFF = "staff"


ROLE_WORDS = {
    "": RosterRole.MEMBER, "member": RosterRole.MEMBER, "队员": RosterRole.MEMBER,
    "隊員": RosterRole.MEMBER, "成员": RosterRole.MEMBER, "成員": RosterRole.MEMBER,
    "leader": RosterRole.LEADER, "组长": RosterRole.LEADER, "組長": RosterRole.LEADER,
    "队长": RosterRole.LEADER, "隊長": RosterRole.LEADER,
    "staff": RosterRole.STAFF, "cadre": RosterRole.STAFF, "干部": RosterRole.STAFF,
    "幹部": RosterRole.STAFF, "社区干部": RosterRole.STAFF, "社區幹部": RosterRole.STAFF,
}


def normalize_phone(text: str, region: str = "CN") -> str | None:
    """The number in E.164 (`+8613812345678`), or None if it is not a valid phone number."""
    text = text.strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_telegram(text: str) -> tuple[str | None, int | None] | None:
    """(username, id) from `@name`, `name` or a numeric id; None if it is neither."""
    text = text.strip().removeprefix("https://t.me/").removeprefix("@")
    if not text:
        return None, None
    if text.isdigit():
        return None, int(text)
    if 4 <= len(text) <= 32 and text.replace("_", "").isalnum() and text.isascii():
        return text, None
    return None


@dataclass(frozen=True)
class GoodRow:
    line: int
    name: str
    phone: str
    team_id: int
    team_name: str
    area_id: int
    role: RosterRole
    username: str | None = None
    telegram_id: int | None = None


@dataclass(frozen=True)
class BadRow:
    line: int
    name: str
    problem: Problem
    detail: str = ""


@dataclass
class RosterPreview:
    good: list[GoodRow] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)


async def _resolve_area(
    session: AsyncSession, text: str, scope_path: str
) -> Area | Problem | None:
    """An area named by its name or a tail of its path (`龙江路社区/3网格`), inside the scope."""
    names = split_path(text)
    if not names:
        return None
    candidates = list(await session.scalars(
        select(Area).where(Area.name == names[-1], Area.archived.is_(False),
                           subtree(Area.path, scope_path))
    ))
    if len(names) > 1 and candidates:
        ids = {i for a in candidates for i in ancestor_ids(a.path)}
        id_names = dict((await session.execute(
            select(Area.id, Area.name).where(Area.id.in_(ids)))).all())
        wanted = names[:-1]
        candidates = [a for a in candidates
                      if [id_names[i] for i in ancestor_ids(a.path)][-len(names):-1] == wanted]
    if not candidates:
        return Problem.UNKNOWN_AREA
    if len(candidates) > 1:
        return Problem.AMBIGUOUS_AREA
    return candidates[0]


async def _resolve_team(
    session: AsyncSession, name: str, area: Area | None, scope_path: str
) -> tuple[Team, Area] | Problem:
    """The team of that name in scope; with an area given, the one whose zone holds it."""
    rows = (await session.execute(
        select(Team, Area).join(Area, Area.id == Team.area_id)
        .where(Team.name == name, Team.archived.is_(False), subtree(Area.path, scope_path))
    )).all()
    if area is not None:
        rows = [(t, a) for t, a in rows if area.path.startswith(a.path)
                or a.path.startswith(area.path)]
    if not rows:
        return Problem.UNKNOWN_TEAM
    if len(rows) > 1:
        return Problem.AMBIGUOUS_TEAM
    return rows[0]


async def check_roster(
    session: AsyncSession, *, rows: Sequence[TableRow], scope_path: str
) -> RosterPreview:
    """The dry run: every row either good (with its team resolved) or bad with a reason."""
    preview = RosterPreview()
    present = {key for row in rows for key in row.values}
    preview.missing_columns = [c for c in REQUIRED_COLUMNS if c not in present]
    if preview.missing_columns:
        return preview
    seen_phones: dict[str, int] = {}
    seen_ids: dict[int, int] = {}
    for row in rows:
        v = row.values
        name = " ".join(v.get("name", "").split())
        if not name or len(name) > 100:
            preview.bad.append(BadRow(row.line, name, Problem.MISSING_NAME))
            continue
        phone = normalize_phone(v.get("phone", ""))
        if phone is None:
            preview.bad.append(BadRow(row.line, name, Problem.BAD_PHONE, v.get("phone", "")))
            continue
        role = ROLE_WORDS.get(v.get("role", "").strip().lower())
        if role is None:
            preview.bad.append(BadRow(row.line, name, Problem.BAD_ROLE, v.get("role", "")))
            continue
        telegram = parse_telegram(v.get("telegram", ""))
        if telegram is None:
            preview.bad.append(BadRow(row.line, name, Problem.BAD_TELEGRAM, v.get("telegram", "")))
            continue
        username, telegram_id = telegram
        team_name = " ".join(v.get("team", "").split())
        if not team_name:
            preview.bad.append(BadRow(row.line, name, Problem.MISSING_TEAM))
            continue
        area = await _resolve_area(session, v.get("area", ""), scope_path)
        if isinstance(area, Problem):
            preview.bad.append(BadRow(row.line, name, area, v.get("area", "")))
            continue
        team = await _resolve_team(session, team_name, area, scope_path)
        if isinstance(team, Problem):
            preview.bad.append(BadRow(row.line, name, team, team_name))
            continue
        if phone in seen_phones or (telegram_id is not None and telegram_id in seen_ids):
            first = seen_phones.get(phone) or seen_ids.get(telegram_id or 0)
            preview.bad.append(BadRow(row.line, name, Problem.DUPLICATE_IN_FILE, str(first)))
            continue
        seen_phones[phone] = row.line
        if telegram_id is not None:
            seen_ids[telegram_id] = row.line
        if await _already_present(session, phone=phone, telegram_id=telegram_id):
            preview.bad.append(BadRow(row.line, name, Problem.ALREADY_PRESENT, phone))
            continue
        team_row, team_area = team
        preview.good.append(GoodRow(
            line=row.line, name=name, phone=phone, team_id=team_row.id, team_name=team_row.name,
            area_id=(area or team_area).id, role=role, username=username,
            telegram_id=telegram_id,
        ))
    return preview


async def _already_present(session: AsyncSession, *, phone: str, telegram_id: int | None) -> bool:
    condition = Person.phone == phone
    if telegram_id is not None:
        condition = or_(condition, Person.telegram_id == telegram_id)
    return await session.scalar(select(Person.id).where(condition).limit(1)) is not None


def to_json(rows: Sequence[GoodRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


def from_json(rows: Sequence[dict[str, Any]]) -> list[GoodRow]:
    return [GoodRow(**{**r, "role": RosterRole(r["role"])}) for r in rows]


@dataclass(frozen=True)
class ImportResult:
    created: int
    skipped: list[GoodRow]


async def import_roster(
    session: AsyncSession, *, rows: Sequence[GoodRow], scope_path: str, actor_id: int | None
) -> ImportResult:
    """Create the people of the good rows; a row that became a duplicate meanwhile is skipped."""
    created = 0
    skipped: list[GoodRow] = []
    for row in rows:
        team_area = (await session.execute(
            select(Team, Area).join(Area, Area.id == Team.area_id).where(Team.id == row.team_id)
        )).first()
        if (team_area is None or team_area[0].archived
                or not team_area[1].path.startswith(scope_path)
                or await _already_present(session, phone=row.phone, telegram_id=row.telegram_id)):
            skipped.append(row)
            continue
        person = Person(
            name=row.name, phone=row.phone, username=row.username, telegram_id=row.telegram_id,
            role=Role.STAFF if row.role is RosterRole.STAFF else Role.MEMBER,
            status=PersonStatus.ACTIVE if row.telegram_id else PersonStatus.PENDING,
            area_id=row.area_id,
        )
        session.add(person)
        await session.flush()
        session.add(Membership(person_id=person.id, team_id=row.team_id,
                               is_leader=row.role is RosterRole.LEADER))
        await record(session, actor_id=actor_id, action="roster.import", object_type="person",
                     object_id=person.id,
                     after={"name": row.name, "phone": row.phone, "team_id": row.team_id,
                            "role": row.role.value, "status": person.status.value})
        created += 1
    await session.flush()
    return ImportResult(created=created, skipped=skipped)


# -- export --------------------------------------------------------------------------

EXPORT_HEADER = ["name", "phone", "team", "role", "area", "telegram", "status"]


async def export_rows(session: AsyncSession, *, scope_path: str) -> list[list[object]]:
    """One row per membership (people without a team get one row), for people in scope."""
    from bot.directory.areas import labels

    team_area = Area.__table__.alias("team_area")
    rows = (await session.execute(
        select(Person, Team.name, Membership.is_leader, Area.path, team_area.c.path)
        .outerjoin(Membership, Membership.person_id == Person.id)
        .outerjoin(Team, Team.id == Membership.team_id)
        .outerjoin(Area, Area.id == Person.area_id)
        .outerjoin(team_area, team_area.c.id == Team.area_id)
        .where(or_(subtree(Area.path, scope_path), subtree(team_area.c.path, scope_path)))
        .order_by(Person.name, Person.id)
    )).all()
    names = await labels(session, paths=sorted({r[3] for r in rows if r[3]}), sep="/")
    out: list[list[object]] = []
    for person, team_name, is_leader, area_path, _team_path in rows:
        if person.role is Role.STAFF:
            role = "staff"
        elif is_leader:
            role = "leader"
        elif team_name:
            role = "member"
        else:
            role = person.role.value
        telegram = f"@{person.username}" if person.username else (person.telegram_id or "")
        out.append([person.name, person.phone or "", team_name or "", role,
                    names.get(area_path or "", ""), telegram, person.status.value])
    return out


async def export_roster(session: AsyncSession, *, scope_path: str) -> bytes:
    return write_xlsx(EXPORT_HEADER, await export_rows(session, scope_path=scope_path),
                      title="roster")
