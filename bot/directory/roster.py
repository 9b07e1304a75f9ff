"""Roster import (dry run, then confirm) and export. No Telegram.

Columns: name, phone, team, role, area, optional telegram (username or numeric id).
A dry run names every bad row with its reason and writes nothing. Team names, roles and
areas that match nothing are asked once (`Question`); the answers ride with the upload and,
on Confirm, are kept as aliases for the next file. Confirm checks the file again against
the directory and writes everything in the caller's one transaction.
"""

from __future__ import annotations

import asyncio
import enum
import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

import phonenumbers
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit import record_many
from bot.directory.areas import ancestor_ids, split_path, subtree
from bot.directory.models import (
    Area,
    ImportAlias,
    ImportAliasKind,
    Membership,
    Person,
    PersonStatus,
    Role,
    Team,
    TeamKind,
)
from bot.directory.tables import TableRow, write_xlsx
from bot.directory.teams import create_team
from bot.i18n import N_, Translate

REQUIRED_COLUMNS = ("name", "phone")
KEPT_COLUMNS = ("name", "phone", "team", "role", "area", "telegram")


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
    OUTSIDE_SCOPE = "outside_scope"
    HAS_LEFT = "has_left"
    NO_BUILDING_HEADS = "no_building_heads"
    STAFF_NOT_ALLOWED = "staff_not_allowed"
    SKIPPED = "skipped"


class RosterRole(enum.StrEnum):
    MEMBER = "member"
    LEADER = "leader"
    STAFF = "staff"
    BUILDING_HEAD = "building_head"  # a member of the community's building heads' team


MapKind = ImportAliasKind  # what a name in the file may need mapping to

SKIP = "skip"  # a choice: refuse the rows with this name
NEW_TEAM = "new"  # a choice: create a team of this name on Confirm
NO_AREA = "none"  # a choice: leave the area empty (the team's area is used)

ROLE_WORDS = {
    "": RosterRole.MEMBER, "member": RosterRole.MEMBER, "volunteer": RosterRole.MEMBER,
    "队员": RosterRole.MEMBER, "隊員": RosterRole.MEMBER, "成员": RosterRole.MEMBER,
    "成員": RosterRole.MEMBER, "志愿者": RosterRole.MEMBER, "志願者": RosterRole.MEMBER,
    "leader": RosterRole.LEADER, "组长": RosterRole.LEADER, "組長": RosterRole.LEADER,
    "队长": RosterRole.LEADER, "隊長": RosterRole.LEADER, "负责人": RosterRole.LEADER,
    "負責人": RosterRole.LEADER,
    "staff": RosterRole.STAFF, "cadre": RosterRole.STAFF, "干部": RosterRole.STAFF,
    "幹部": RosterRole.STAFF, "社区干部": RosterRole.STAFF, "社區幹部": RosterRole.STAFF,
    "网格员": RosterRole.STAFF, "網格員": RosterRole.STAFF,
    "楼长": RosterRole.BUILDING_HEAD, "楼栋长": RosterRole.BUILDING_HEAD,
    "樓長": RosterRole.BUILDING_HEAD, "樓棟長": RosterRole.BUILDING_HEAD,
    "buildinghead": RosterRole.BUILDING_HEAD,
    # What /export writes in English.
    "teammember": RosterRole.MEMBER, "communitystaff": RosterRole.STAFF,
}
# Endings of team names that say "a team" in many words: 法制宣传志愿服务队 is 法制宣传.
_TEAM_ENDINGS = ("志愿者服务队", "志愿服务队", "志願服務隊", "志愿者队", "志愿队", "志願隊",
                 "服务队", "服務隊", "小分队", "分队", "队伍", "小组", "隊伍", "小組", "队", "隊",
                 "组", "組")
_NUMERALS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5,
             "六": 6, "七": 7, "八": 8, "九": 9}
_CHINESE_NUMBER = re.compile(r"[零〇一二两兩三四五六七八九十]+")
_BUILDING = re.compile(r"(号楼|號樓|幢|号|號|楼|樓)$")


def name_key(text: str) -> str:
    """A name as compared: full-width folded, no spaces, lower case."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def _chinese_number(text: str) -> str:
    """三 → 3, 十二 → 12, 二十一 → 21 (what grids and buildings are numbered up to)."""
    if "十" not in text:
        return "".join(str(_NUMERALS[ch]) for ch in text)
    tens, _, units = text.partition("十")
    return str((_NUMERALS.get(tens, 1) if tens else 1) * 10 + (_NUMERALS.get(units, 0)
                                                              if units else 0))


def area_key(name: str) -> str:
    """第三网格, 三网格, 第3网格 and 3网格 are one; 12号楼 and 12幢 are 12栋."""
    key = name_key(name).removeprefix("第")
    key = _CHINESE_NUMBER.sub(lambda m: _chinese_number(m.group()), key)
    if key[:1].isdigit():
        key = _BUILDING.sub("栋", key)
    return key


def team_core(name: str) -> str:
    key = name_key(name)
    for ending in _TEAM_ENDINGS:
        if key.endswith(ending) and len(key) > len(ending):
            return key[: -len(ending)]
    return key


def normalize_phone(text: str, region: str = "CN") -> str | None:
    """The number in E.164 (`+8613812345678`), or None if it is not a valid phone number."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    """A stored number as a committee writes it: a mainland number without +86
    (`13812345678`, `01012345678`), others in E.164. A spreadsheet also reads it as text
    then, with no apostrophe in front (a leading + needs one, see `tables.as_text`)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if number.country_code != 86:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL).replace(
        " ", "")


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
    """A row that will be written: a new person (`person_id` None) or an update of the
    person who already has this phone. `team_id` None with `new_team` set: the team is
    created on Confirm, in `new_team_area_id`."""

    line: int
    name: str
    phone: str
    team_id: int | None
    area_id: int | None
    role: RosterRole
    username: str | None = None
    telegram_id: int | None = None
    person_id: int | None = None
    new_team: str | None = None
    new_team_area_id: int | None = None
    also_team_id: int | None = None  # the building heads' team, for a 楼栋长


@dataclass(frozen=True)
class BadRow:
    line: int
    name: str
    problem: Problem
    detail: str = ""


@dataclass
class Question:
    """A name the file uses that matches nothing we know: asked once, with buttons."""

    kind: MapKind
    text: str
    lines: list[int] = field(default_factory=list)
    suggestion: tuple[int, str] | None = None  # closest team or area: (id, label)
    can_create: bool = False  # a new team of this name can be made

    @property
    def tag(self) -> int:
        """A short fingerprint, so a press answers the question it was shown with."""
        return zlib.crc32(f"{self.kind}:{self.text}".encode()) % 1000


@dataclass
class RosterPreview:
    good: list[GoodRow] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    # What check_roster planned from: the directory as read, the choices, staff_allowed.
    basis: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    @property
    def added(self) -> list[GoodRow]:
        return [g for g in self.good if g.person_id is None]

    @property
    def updated(self) -> list[GoodRow]:
        return [g for g in self.good if g.person_id is not None]


Choices = dict[str, dict[str, Any]]  # kind → the file's text → team/area id or a word


@dataclass(frozen=True)
class _AreaInfo:
    id: int
    name: str
    path: str


@dataclass(frozen=True)
class _TeamInfo:
    id: int
    name: str
    kind: TeamKind
    area: _AreaInfo


@dataclass(frozen=True)
class _Known:
    """A person who already has a phone or Telegram id the file uses."""

    id: int
    phone: str | None
    telegram_id: int | None
    status: PersonStatus
    in_scope: bool


@dataclass
class _Directory:
    """What a check needs, loaded at once, so 5,000 rows take a few queries, not 15,000."""

    scope_path: str
    areas: dict[int, _AreaInfo]
    names: dict[int, str]  # every area's name, ancestors of the scope included
    teams: list[_TeamInfo]
    aliases: dict[tuple[str, str], str]
    by_phone: dict[str, _Known]
    by_telegram: dict[int, _Known]
    # The file's phones and Telegram ids the people above were looked up by.
    phones: frozenset[str] = frozenset()
    telegram_ids: frozenset[int] = frozenset()

    def area_label(self, area: _AreaInfo) -> str:
        return "/".join(self.names.get(i, "?") for i in ancestor_ids(area.path))


def raw_rows(rows: Sequence[TableRow]) -> list[dict[str, Any]]:
    """What an upload keeps of a file until Confirm: the line and our columns only."""
    return [{"line": r.line, "values": {k: v for k, v in r.values.items() if k in KEPT_COLUMNS}}
            for r in rows]


def _file_keys(rows: Sequence[dict[str, Any]]) -> tuple[frozenset[str], frozenset[int]]:
    """The phones and Telegram ids a file uses, to look their people up."""
    phones = {p for p in (normalize_phone(str(r["values"].get("phone", ""))) for r in rows) if p}
    ids = set()
    for r in rows:
        parsed = parse_telegram(str(r["values"].get("telegram", "")))
        if parsed and parsed[1] is not None:
            ids.add(parsed[1])
    return frozenset(phones), frozenset(ids)


async def _load(session: AsyncSession, scope_path: str, phones: frozenset[str],
                ids: frozenset[int]) -> _Directory:
    area_rows = (await session.execute(
        select(Area.id, Area.name, Area.path)
        .where(Area.archived.is_(False), subtree(Area.path, scope_path)))).all()
    areas = {i: _AreaInfo(i, n, p) for i, n, p in area_rows}
    names = {i: n for i, n, _p in area_rows}
    above = [i for i in ancestor_ids(scope_path) if i not in names]
    if above:
        names.update(dict((await session.execute(
            select(Area.id, Area.name).where(Area.id.in_(above)))).all()))
    teams = [_TeamInfo(t.id, t.name, t.kind, areas[t.area_id]) for t in await session.scalars(
        select(Team).where(Team.archived.is_(False), Team.area_id.in_(list(areas)))
        .order_by(Team.id))
        if t.area_id in areas] if areas else []
    ids_above = ancestor_ids(scope_path)
    prefixes = ["/", *("/" + "/".join(map(str, ids_above[:n])) + "/"
                       for n in range(1, len(ids_above) + 1))]
    aliases = {(a.kind.value, a.text): a.target for a in await session.scalars(
        select(ImportAlias).where(ImportAlias.scope_path.in_(prefixes))
        .order_by(func.length(ImportAlias.scope_path)))}  # the closest scope's alias wins
    by_phone: dict[str, _Known] = {}
    by_telegram: dict[int, _Known] = {}
    team_area = Area.__table__.alias("team_area")
    for chunk in _chunks(sorted(phones), 500):
        await _known_people(session, Person.phone.in_(chunk), scope_path, team_area,
                            by_phone, by_telegram)
    for chunk_ids in _chunks(sorted(ids), 500):
        await _known_people(session, Person.telegram_id.in_(chunk_ids), scope_path, team_area,
                            by_phone, by_telegram)
    return _Directory(scope_path, areas, names, teams, aliases, by_phone, by_telegram,
                      phones, ids)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


async def _known_people(session: AsyncSession, condition: Any, scope_path: str,
                        team_area: Any, by_phone: dict[str, _Known],
                        by_telegram: dict[int, _Known]) -> None:
    rows = (await session.execute(
        select(Person, Area.path).outerjoin(Area, Area.id == Person.area_id).where(condition)
    )).all()
    team_paths: dict[int, list[str]] = {}
    if rows:
        for person_id, path in (await session.execute(
                select(Membership.person_id, team_area.c.path)
                .join(Team, Team.id == Membership.team_id)
                .join(team_area, team_area.c.id == Team.area_id)
                .where(Membership.person_id.in_([p.id for p, _ in rows])))).all():
            team_paths.setdefault(person_id, []).append(path)
    for person, path in rows:
        paths = [p for p in [path, *team_paths.get(person.id, [])] if p]
        in_scope = person.role is not Role.ADMIN and (
            any(p.startswith(scope_path) for p in paths) or (not paths and scope_path == "/"))
        known = _Known(person.id, person.phone, person.telegram_id, person.status, in_scope)
        if person.phone:
            by_phone[person.phone] = known
        if person.telegram_id is not None:
            by_telegram[person.telegram_id] = known


def _resolve_area(directory: _Directory, text: str) -> _AreaInfo | Problem:
    """An area named by its name or a tail of its path (`龙江路社区/第三网格`), in scope."""
    keys = [area_key(n) for n in split_path(text)]
    candidates = [a for a in directory.areas.values() if area_key(a.name) == keys[-1]]
    if len(keys) > 1:
        candidates = [a for a in candidates
                      if [area_key(directory.names.get(i, "")) for i in ancestor_ids(a.path)]
                      [-len(keys):-1] == keys[:-1]]
    if not candidates:
        return Problem.UNKNOWN_AREA
    if len(candidates) > 1:
        return Problem.AMBIGUOUS_AREA
    return candidates[0]


def _closest_area(directory: _Directory, text: str) -> _AreaInfo | None:
    key = area_key(split_path(text)[-1]) if split_path(text) else ""
    best = max(directory.areas.values(), default=None,
               key=lambda a: (SequenceMatcher(None, key, area_key(a.name)).ratio(), -a.id))
    if best is None or SequenceMatcher(None, key, area_key(best.name)).ratio() < 0.5:
        return None
    return best


def _resolve_team(directory: _Directory, name: str,
                  area: _AreaInfo | None) -> _TeamInfo | Problem:
    """The team of that name in scope; with an area given, the one whose zone holds it."""
    key = name_key(name)
    found = [t for t in directory.teams if name_key(t.name) == key]
    if area is not None:
        found = [t for t in found if area.path.startswith(t.area.path)
                 or t.area.path.startswith(area.path)]
    if not found:
        return Problem.UNKNOWN_TEAM
    if len(found) > 1:
        return Problem.AMBIGUOUS_TEAM
    return found[0]


def _closest_team(directory: _Directory, name: str) -> _TeamInfo | None:
    core = team_core(name)

    def score(team: _TeamInfo) -> tuple[float, int]:
        other = team_core(team.name)
        same = 1.0 if other == core else SequenceMatcher(None, core, other).ratio()
        return same, -team.id

    best = max((t for t in directory.teams if t.kind is not TeamKind.BUILDING_HEADS),
               key=score, default=None)
    return best if best is not None and score(best)[0] >= 0.5 else None


def _building_heads(directory: _Directory, area: _AreaInfo | None) -> _TeamInfo | None:
    """The building heads' team of the row's community (the deepest one holding its area),
    or the only one in scope."""
    teams = [t for t in directory.teams if t.kind is TeamKind.BUILDING_HEADS]
    if area is not None:
        holding = [t for t in teams if area.path.startswith(t.area.path)]
        if holding:
            return max(holding, key=lambda t: len(t.area.path))
    return teams[0] if len(teams) == 1 else None


def _scope_area(directory: _Directory) -> _AreaInfo | None:
    ids = ancestor_ids(directory.scope_path)
    return directory.areas.get(ids[-1]) if ids else None


def _community(directory: _Directory, area: _AreaInfo | None) -> _AreaInfo | None:
    if area is None:
        return None
    ids = ancestor_ids(area.path)
    return directory.areas.get(ids[1]) if len(ids) > 1 else area


def plan_roster(directory: _Directory, rows: Sequence[dict[str, Any]], choices: Choices,
                *, staff_allowed: bool = True) -> RosterPreview:
    """The dry run, in memory: every row good, bad with a reason, or waiting on a question."""
    preview = RosterPreview()
    present = {key for row in rows for key, value in row["values"].items()}
    preview.missing_columns = [c for c in REQUIRED_COLUMNS if c not in present]
    if "team" not in present and "role" not in present:
        preview.missing_columns.append("team")
    if preview.missing_columns:
        return preview
    questions: dict[tuple[MapKind, str], Question] = {}
    seen_phones: dict[str, int] = {}
    seen_ids: dict[int, int] = {}
    waiting: set[int] = set()  # lines with a question open

    def ask(kind: MapKind, text: str, line: int, **extra: Any) -> None:
        question = questions.setdefault((kind, text), Question(kind, text, **extra))
        question.lines.append(line)
        waiting.add(line)

    def chosen(kind: MapKind, text: str) -> Any:
        made = choices.get(kind.value, {})
        if text in made:
            return made[text]
        return directory.aliases.get((kind.value, name_key(text)))

    for row in rows:
        line, v = row["line"], {k: str(x) for k, x in row["values"].items()}
        name = " ".join(v.get("name", "").split())
        if not name or len(name) > 100:
            preview.bad.append(BadRow(line, name, Problem.MISSING_NAME))
            continue
        phone = normalize_phone(v.get("phone", ""))
        if phone is None:
            preview.bad.append(BadRow(line, name, Problem.BAD_PHONE, v.get("phone", "")))
            continue
        telegram = parse_telegram(v.get("telegram", ""))
        if telegram is None:
            preview.bad.append(BadRow(line, name, Problem.BAD_TELEGRAM, v.get("telegram", "")))
            continue
        username, telegram_id = telegram
        first = seen_phones.get(phone) or (seen_ids.get(telegram_id)
                                           if telegram_id is not None else None)
        if first is not None:
            preview.bad.append(BadRow(line, name, Problem.DUPLICATE_IN_FILE, str(first)))
            continue
        seen_phones[phone] = line
        if telegram_id is not None:
            seen_ids[telegram_id] = line
        outcome = _plan_row(directory, v, line, name, ask, chosen)
        if line in waiting:
            continue
        if isinstance(outcome, BadRow):
            preview.bad.append(outcome)
            continue
        role, area, team, new_team, new_team_area, also = outcome
        if role is RosterRole.STAFF and not staff_allowed:
            preview.bad.append(BadRow(line, name, Problem.STAFF_NOT_ALLOWED))
            continue
        known = directory.by_phone.get(phone)
        by_id = directory.by_telegram.get(telegram_id) if telegram_id is not None else None
        if by_id is not None and (known is None or by_id.id != known.id):
            preview.bad.append(BadRow(line, name, Problem.ALREADY_PRESENT, str(telegram_id)))
            continue
        if known is not None:
            if not known.in_scope:
                preview.bad.append(BadRow(line, name, Problem.OUTSIDE_SCOPE, phone))
                continue
            if known.status is PersonStatus.LEFT:
                preview.bad.append(BadRow(line, name, Problem.HAS_LEFT, phone))
                continue
            if telegram_id is not None and known.telegram_id not in (None, telegram_id):
                preview.bad.append(BadRow(line, name, Problem.ALREADY_PRESENT, phone))
                continue
        home = area or (team.area if team else new_team_area)
        preview.good.append(GoodRow(
            line=line, name=name, phone=phone, team_id=team.id if team else None,
            area_id=home.id if home else None, role=role, username=username,
            telegram_id=telegram_id, person_id=known.id if known else None,
            new_team=new_team, new_team_area_id=new_team_area.id if new_team_area else None,
            also_team_id=also.id if also else None))
    preview.questions = sorted(questions.values(), key=lambda q: (
        list(MapKind).index(q.kind), q.lines[0]))
    return preview


def _plan_row(directory: _Directory, v: dict[str, str], line: int, name: str,
              ask: Any, chosen: Any) -> Any:
    """Role, area and team of one row, asking about every name that needs mapping (the
    row then waits, whatever is returned); a BadRow when the row cannot be taken."""
    role_text = v.get("role", "").strip()
    role = ROLE_WORDS.get(name_key(role_text))
    if role is None:
        picked = chosen(MapKind.ROLE, role_text)
        if picked == SKIP:
            return BadRow(line, name, Problem.SKIPPED, role_text)
        if picked is None or picked not in set(RosterRole):
            ask(MapKind.ROLE, role_text, line)
            picked = RosterRole.MEMBER  # until answered
        role = RosterRole(picked)
    area_text = v.get("area", "").strip()
    area: _AreaInfo | None = None
    if area_text:
        picked = chosen(MapKind.AREA, area_text)
        if picked == SKIP:
            return BadRow(line, name, Problem.SKIPPED, area_text)
        if picked is not None and picked != NO_AREA and int(picked) in directory.areas:
            area = directory.areas[int(picked)]
        elif picked is None:
            found = _resolve_area(directory, area_text)
            if found is Problem.AMBIGUOUS_AREA:
                return BadRow(line, name, found, area_text)
            if found is Problem.UNKNOWN_AREA:
                closest = _closest_area(directory, area_text)
                ask(MapKind.AREA, area_text, line, suggestion=(
                    (closest.id, directory.area_label(closest)) if closest else None))
            else:
                area = found
    also = None
    if role is RosterRole.BUILDING_HEAD:
        also = _building_heads(directory, area)
        if also is None:
            return BadRow(line, name, Problem.NO_BUILDING_HEADS)
    team_text = " ".join(v.get("team", "").split())
    if not team_text:
        if also is None:
            return BadRow(line, name, Problem.MISSING_TEAM)
        return role, area, also, None, None, None
    new_area = _scope_area(directory) or _community(directory, area)
    picked = chosen(MapKind.TEAM, team_text)
    if picked == SKIP:
        return BadRow(line, name, Problem.SKIPPED, team_text)
    if picked == NEW_TEAM and new_area is not None:
        return role, area, None, team_text, new_area, also
    if picked is not None and picked != NEW_TEAM:
        team = next((t for t in directory.teams if t.id == int(picked)), None)
        if team is not None:
            return role, area, team, None, None, also if also != team else None
    found = _resolve_team(directory, team_text, area)
    if found is Problem.AMBIGUOUS_TEAM:
        return BadRow(line, name, found, team_text)
    if found is Problem.UNKNOWN_TEAM:
        closest = _closest_team(directory, team_text)
        ask(MapKind.TEAM, team_text, line, can_create=new_area is not None,
            suggestion=(closest.id, closest.name) if closest else None)
        return None
    return role, area, found, None, None, also if also != found else None


async def check_roster(
    session: AsyncSession, *, rows: Sequence[TableRow] | Sequence[dict[str, Any]],
    scope_path: str, choices: Choices | None = None, staff_allowed: bool = True,
    against: RosterPreview | None = None,
) -> RosterPreview:
    """The dry run: every row good, bad with a reason, or waiting on a question.

    The rows are read and planned in a worker thread (5,000 take seconds), so other
    updates go on meanwhile. `against` is a check of the same rows made earlier, in
    another session (one that did not hold the write lock): when nothing it was checked
    against has changed, it is the answer, and the rows are not planned again while the
    caller's transaction holds the lock."""
    raw = [r if isinstance(r, dict) else raw_rows([r])[0] for r in rows]
    choices = choices or {}
    if against is not None and against.basis:
        known = against.basis[0]
        directory = await _load(session, scope_path, known.phones, known.telegram_ids)
        if (directory, choices, staff_allowed) == against.basis:
            return against
    else:
        directory = await _load(session, scope_path, *await asyncio.to_thread(_file_keys, raw))
    preview = await asyncio.to_thread(plan_roster, directory, raw, choices,
                                      staff_allowed=staff_allowed)
    preview.basis = (directory, choices, staff_allowed)
    return preview


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    teams_created: int


async def import_roster(
    session: AsyncSession, *, preview: RosterPreview, scope_path: str, actor_id: int | None,
    choices: Choices | None = None,
) -> ImportResult:
    """Write a checked preview (checked against the directory in this same transaction, or
    found unchanged there by check_roster's `against`):
    the new teams, the new people, the updates, and the choices as aliases for next time.
    The caller's transaction holds it all, so a failure leaves nothing half-written."""
    new_teams: dict[tuple[str, int], int] = {}
    for row in preview.good:
        if row.new_team is not None and row.new_team_area_id is not None:
            key = (row.new_team, row.new_team_area_id)
            if key not in new_teams:
                area = await session.get(Area, row.new_team_area_id)
                assert area is not None
                new_teams[key] = (await create_team(session, area=area, name=row.new_team,
                                                    actor_id=actor_id)).id
    fresh = [r for r in preview.good if r.person_id is None]
    # Batched INSERTs, not 15,000 ORM objects: the write lock is held while they run. The
    # new people's ids come back by phone (a file has each phone once) among the rows added
    # now.
    fresh_ids: list[int] = []
    if fresh:
        before = await session.scalar(select(func.max(Person.id))) or 0
        await session.execute(insert(Person.__table__), [
            {"name": r.name, "phone": r.phone, "username": r.username,
             "telegram_id": r.telegram_id,
             "role": Role.STAFF if r.role is RosterRole.STAFF else Role.MEMBER,
             "status": _status(r), "area_id": r.area_id} for r in fresh])
        by_phone: dict[str, int] = {}
        for chunk in _chunks([r.phone for r in fresh], 500):
            by_phone.update((await session.execute(
                select(Person.phone, Person.id).where(Person.phone.in_(chunk),
                                                      Person.id > before))).all())
        fresh_ids = [by_phone[r.phone] for r in fresh]
    existing = {r.person_id: r for r in preview.good if r.person_id is not None}
    current: set[tuple[int, int]] = set()
    if existing:
        for chunk in _chunks(list(existing), 500):
            current.update((await session.execute(select(
                Membership.person_id, Membership.team_id).where(
                    Membership.person_id.in_(chunk)))).all())
    memberships: list[dict[str, Any]] = []
    for row, person_id in [*zip(fresh, fresh_ids, strict=True),
                           *((r, pid) for pid, r in existing.items())]:
        team_id = row.team_id if row.team_id is not None else new_teams.get(
            (row.new_team or "", row.new_team_area_id or 0))
        for tid, lead in ((team_id, row.role is RosterRole.LEADER), (row.also_team_id, False)):
            if tid is None:
                continue
            if (person_id, tid) in current:
                if lead:
                    await session.execute(update(Membership).where(
                        Membership.person_id == person_id, Membership.team_id == tid)
                        .values(is_leader=True))
                continue
            memberships.append({"person_id": person_id, "team_id": tid, "is_leader": lead})
            current.add((person_id, tid))
    if memberships:
        await session.execute(insert(Membership.__table__), memberships)
    await record_many(session, actor_id=actor_id, action="roster.import", object_type="person",
                      entries=[(person_id, None, {"name": row.name, "phone": row.phone,
                                                  "team_id": row.team_id,
                                                  "role": row.role.value,
                                                  "status": _status(row).value})
                               for row, person_id in zip(fresh, fresh_ids, strict=True)])
    await _update_people(session, existing, actor_id=actor_id)
    await _remember(session, choices or {}, new_teams, preview, scope_path, actor_id)
    await session.flush()
    return ImportResult(created=len(fresh), updated=len(existing), teams_created=len(new_teams))


def _status(row: GoodRow) -> PersonStatus:
    return PersonStatus.ACTIVE if row.telegram_id else PersonStatus.PENDING


async def _update_people(session: AsyncSession, rows: dict[int, GoodRow], *,
                         actor_id: int | None) -> None:
    """The same phones already in the directory: the roster's name, area and role (never
    lower than the person has), and a Telegram account where none was known. One batched
    UPDATE and one batched audit INSERT, however many people."""
    changes: list[dict[str, Any]] = []
    entries: list[tuple[int | None, dict[str, Any] | None, dict[str, Any]]] = []
    for chunk in _chunks(list(rows), 500):
        for person_id, name, role, area_id, telegram_id, username in (await session.execute(
                select(Person.id, Person.name, Person.role, Person.area_id, Person.telegram_id,
                       Person.username).where(Person.id.in_(chunk)))).all():
            row = rows[person_id]
            if row.role is RosterRole.STAFF and role in (Role.RESIDENT, Role.MEMBER):
                new_role = Role.STAFF
            else:
                new_role = Role.MEMBER if role is Role.RESIDENT else role
            change = {"id": person_id, "name": row.name, "role": new_role,
                      "area_id": row.area_id if row.area_id is not None else area_id,
                      "telegram_id": telegram_id if telegram_id is not None else row.telegram_id,
                      "username": username if username is not None else row.username}
            changes.append(change)
            entries.append((person_id, {"name": name, "role": role.value, "area_id": area_id},
                            {"name": row.name, "role": new_role.value,
                             "area_id": change["area_id"], "team_id": row.team_id}))
    if changes:
        await session.execute(update(Person), changes)
    await record_many(session, actor_id=actor_id, action="roster.update", object_type="person",
                      entries=entries)


async def _remember(session: AsyncSession, choices: Choices, new_teams: dict[tuple[str, int], int],
                    preview: RosterPreview, scope_path: str, actor_id: int | None) -> None:
    """Every mapping the uploader chose, kept as an alias for their next file."""
    made_names = {name: team_id for (name, _area), team_id in new_teams.items()}
    for kind, mapping in choices.items():
        if kind not in set(MapKind):
            continue  # the handler's own notes
        for text, target in mapping.items():
            if target in (SKIP, NO_AREA):
                continue
            if target == NEW_TEAM:
                if text not in made_names:
                    continue
                target = made_names[text]
            key = name_key(text)
            alias = await session.scalar(select(ImportAlias).where(
                ImportAlias.scope_path == scope_path, ImportAlias.kind == MapKind(kind),
                ImportAlias.text == key))
            if alias is None:
                session.add(ImportAlias(scope_path=scope_path, kind=MapKind(kind), text=key,
                                        target=str(target), created_by_id=actor_id))
            else:
                alias.target = str(target)


# -- export --------------------------------------------------------------------------

EXPORT_HEADER = ["name", "phone", "team", "role", "area", "telegram", "status"]
#: The file is for people: headers, roles and statuses in the reader's language, in words
#: the importer reads back (bot/directory/tables.py HEADER_ALIASES, ROLE_WORDS above).
COLUMN_TEXT = {"name": N_("Name"), "phone": N_("Phone"), "team": N_("Team"),
                      "role": N_("Role"), "area": N_("Area"), "telegram": N_("Telegram"),
                      "status": N_("Status"), "path": N_("Path")}
EXPORT_ROLE_TEXT = {"staff": N_("community staff"), "leader": N_("leader"),
                    "member": N_("team member"), "resident": N_("resident"),
                    "admin": N_("administrator")}
EXPORT_STATUS_TEXT = {PersonStatus.ACTIVE.value: N_("active"),
                      PersonStatus.PENDING.value: N_("not yet on Telegram"),
                      PersonStatus.LEFT.value: N_("has left")}


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
        # A link rather than "@name": a leading @ would need an apostrophe (`as_text`).
        telegram = (f"https://t.me/{person.username}" if person.username
                    else (person.telegram_id or ""))
        out.append([person.name, display_phone(person.phone) if person.phone else "",
                    team_name or "", role,
                    names.get(area_path or "", ""), telegram, person.status.value])
    return out


async def export_roster(session: AsyncSession, *, scope_path: str, _: Translate) -> bytes:
    """The workbook in `_`'s language; /import reads it back."""
    rows = [[*row[:3], _(EXPORT_ROLE_TEXT.get(str(row[3]), str(row[3]))), *row[4:6],
             _(EXPORT_STATUS_TEXT.get(str(row[6]), str(row[6])))]
            for row in await export_rows(session, scope_path=scope_path)]
    return write_xlsx([_(COLUMN_TEXT[c]) for c in EXPORT_HEADER], rows,
                      title=_("Roster"))
