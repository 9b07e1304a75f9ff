"""The duty roster as a spreadsheet (排班表): a dry run that names every bad row, the
import of the good ones, and the export of the coming days. No Telegram.

Columns: 日期 (date), 班次 (shift), 姓名 (name) and, where two posts have a shift of the
same name, 岗点 (post). The file is read by the directory's table reader.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.tables import TableRow, write_xlsx
from bot.patrol.models import PatrolPost, PatrolShift
from bot.patrol.service import (
    PatrolConfig,
    add_duty,
    day_bounds,
    duty_lines,
    plan_duties,
    team_area,
    team_members,
)

#: Our column names for the headers people type (the reader already maps 姓名 to name).
COLUMNS = {
    "date": "date", "日期": "date", "day": "date",
    "shift": "shift", "班次": "shift", "班": "shift",
    "post": "post", "岗点": "post", "崗點": "post", "岗位": "post", "崗位": "post",
    "name": "name",
}
REQUIRED = ("date", "shift", "name")
EXPORT_HEADER = ["日期", "班次", "岗点", "姓名", "时间"]
MAX_DAYS_AHEAD = 92
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?$")


class Problem(enum.StrEnum):
    BAD_DATE = "bad_date"
    PAST_DATE = "past_date"
    TOO_FAR = "too_far"
    UNKNOWN_SHIFT = "unknown_shift"
    AMBIGUOUS_SHIFT = "ambiguous_shift"
    UNKNOWN_PERSON = "unknown_person"
    AMBIGUOUS_PERSON = "ambiguous_person"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class GoodRow:
    line: int
    day: str  # ISO date
    shift_id: int
    person_id: int


@dataclass(frozen=True)
class BadRow:
    line: int
    name: str
    problem: Problem


@dataclass
class Preview:
    good: list[GoodRow] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)


def parse_date(text: str) -> date | None:
    match = _DATE.match(text.strip())
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _values(row: TableRow) -> dict[str, str]:
    return {COLUMNS[k]: v for k, v in row.values.items() if k in COLUMNS}


async def check_roster(session: AsyncSession, *, team_id: int, rows: Sequence[TableRow],
                       today: date) -> Preview:
    """The dry run: every row good (shift and person found in the team) or bad, by line."""
    preview = Preview()
    present = {key for row in rows for key in _values(row)}
    preview.missing_columns = [c for c in REQUIRED if c not in present]
    if preview.missing_columns:
        return preview
    shifts = list(await session.scalars(select(PatrolShift).where(
        PatrolShift.team_id == team_id, PatrolShift.archived.is_(False))))
    posts = dict((await session.execute(select(PatrolPost.id, PatrolPost.name).where(
        PatrolPost.team_id == team_id))).all())
    members: dict[str, list[int]] = {}
    for person_id, name in await team_members(session, team_id=team_id):
        members.setdefault(name, []).append(person_id)
    seen: set[tuple[str, int, int]] = set()
    for row in rows:
        v = _values(row)
        name = " ".join(v.get("name", "").split())
        day = parse_date(v.get("date", ""))
        problem: Problem | None = None
        if day is None:
            problem = Problem.BAD_DATE
        elif day < today:
            problem = Problem.PAST_DATE
        elif day > today + timedelta(days=MAX_DAYS_AHEAD):
            problem = Problem.TOO_FAR
        shift_name, post_name = v.get("shift", "").strip(), v.get("post", "").strip()
        matching = [s for s in shifts if s.name == shift_name
                    and (not post_name or posts.get(s.post_id) == post_name)]
        if problem is None and not matching:
            problem = Problem.UNKNOWN_SHIFT
        elif problem is None and len(matching) > 1:
            problem = Problem.AMBIGUOUS_SHIFT
        people = members.get(name, [])
        if problem is None and not people:
            problem = Problem.UNKNOWN_PERSON
        elif problem is None and len(people) > 1:
            problem = Problem.AMBIGUOUS_PERSON
        if problem is None:
            assert day is not None
            key = (day.isoformat(), matching[0].id, people[0])
            if key in seen:
                problem = Problem.DUPLICATE
            else:
                seen.add(key)
                preview.good.append(GoodRow(row.line, key[0], key[1], key[2]))
                continue
        preview.bad.append(BadRow(row.line, name, problem))
    return preview


def to_json(rows: Sequence[GoodRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


async def apply_roster(session: AsyncSession, *, team_id: int, rows: Sequence[dict[str, Any]],
                       now: datetime, tz: ZoneInfo, config: PatrolConfig) -> int:
    """Write the checked rows as duties (checked again: the team may have changed)."""
    found = await team_area(session, team_id=team_id)
    if found is None:
        return 0
    _team, area = found
    members = {i for i, _n in await team_members(session, team_id=team_id)}
    written = 0
    for row in rows:
        shift = await session.get(PatrolShift, int(row["shift_id"]))
        if shift is None or shift.archived or shift.team_id != team_id \
                or int(row["person_id"]) not in members:
            continue
        written += await add_duty(session, shift=shift, area_path=area.path,
                                  day=date.fromisoformat(row["day"]),
                                  person_id=int(row["person_id"]), now=now, tz=tz,
                                  config=config)
    return written


async def export_roster(session: AsyncSession, *, team_id: int, now: datetime, tz: ZoneInfo,
                        config: PatrolConfig, days: int = 14) -> bytes:
    """The team's duties from today for `days` days, in the columns the import reads."""
    await plan_duties(session, now=now, tz=tz, config=config, team_id=team_id)
    since, _end = day_bounds(now.astimezone(tz).date(), tz)
    lines = await duty_lines(session, now=now, team_ids=[team_id], since=since,
                             until=since + timedelta(days=days))
    rows: list[list[object]] = [
        [line.starts_at.astimezone(tz).date().isoformat(), line.shift_name, line.post_name,
         line.person_name, f"{line.starts_at.astimezone(tz):%H:%M}-"
                           f"{line.ends_at.astimezone(tz):%H:%M}"]
        for line in sorted(lines, key=lambda x: (x.starts_at, x.post_name, x.person_name))]
    return write_xlsx(EXPORT_HEADER, rows, title="排班表")
