"""Patrol duty: posts, shifts, the weekly rotation, duties and signing in. No Telegram.

A duty is one person on one shift on one day, planned from the weekly rotation (or an
imported roster) a day ahead. Its timers are columns (`next_due_at` and `stage`): the
reminder before the shift, the nudge after the grace time, the leader's notice after
another, the automatic sign-out at the shift's end. `bot.patrol.chase` reads them.
"""

from __future__ import annotations

import enum
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.alerts.service import active_period
from bot.directory.areas import subtree
from bot.directory.models import Area, Membership, Person, PersonStatus, Team, TeamKind
from bot.patrol.models import (
    ALL_WEEKDAYS,
    DutyStage,
    PatrolDuty,
    PatrolPost,
    PatrolRotation,
    PatrolShift,
)
from broadcasts.store import dialect_insert

MAX_POST_NAME = 60
MAX_SHIFT_NAME = 40


@dataclass(frozen=True)
class PatrolConfig:
    """Timings; the defaults are the issue's."""

    remind_before: timedelta = timedelta(minutes=30)
    grace: timedelta = timedelta(minutes=15)
    #: The grace time while a sensitive period covers the team's area.
    sensitive_grace: timedelta = timedelta(minutes=5)
    #: Signing in this long after the start is late.
    late_after: timedelta = timedelta(minutes=5)
    #: How early before its start a shift may be signed in to.
    early_signin: timedelta = timedelta(minutes=30)
    allclear_at: time = time(21, 0)
    summary_at: time = time(21, 30)
    #: Unanswered leaders are reminded this long before the summary.
    allclear_reminder_before: timedelta = timedelta(minutes=10)
    #: Days planned ahead from the rotation (today included).
    plan_days: int = 2
    scan_interval_s: float = 2.0


class PatrolError(ValueError):
    """A change refused; `reason` is a stable code the handler words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- time --------------------------------------------------------------------------------

def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def shift_window(shift: PatrolShift, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC start and end of a shift on a local day (an end at or before the start is
    the next day's)."""
    end_day = day if shift.ends > shift.starts else day + timedelta(days=1)
    starts = datetime.combine(day, shift.starts, tzinfo=tz).astimezone(UTC)
    ends = datetime.combine(end_day, shift.ends, tzinfo=tz).astimezone(UTC)
    return starts, ends


def parse_clock(text: str) -> time | None:
    """`8:00`, `08:00`, `19:30` → a time; anything else None."""
    parts = text.strip().replace("：", ":").split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    hour, minute = int(parts[0]), int(parts[1])
    if not (0 <= hour < 24 and 0 <= minute < 60):
        return None
    return time(hour, minute)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; plenty for a few hundred metres)."""
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


# -- sensitive periods -------------------------------------------------------------------

async def sensitive_at(session: AsyncSession, *, area_path: str, moment: datetime) -> bool:
    """Whether a sensitive period (a campaign's or one marked with /sensitive) covers the
    area at that moment: the same record alerts read."""
    return await active_period(session, area_path=area_path, now=moment) is not None


async def grace_for(session: AsyncSession, *, area_path: str, starts_at: datetime,
                    config: PatrolConfig) -> timedelta:
    if await sensitive_at(session, area_path=area_path, moment=starts_at):
        return config.sensitive_grace
    return config.grace


# -- teams and posts ---------------------------------------------------------------------

async def team_area(session: AsyncSession, *, team_id: int) -> tuple[Team, Area] | None:
    row = (await session.execute(select(Team, Area).join(Area, Area.id == Team.area_id)
                                 .where(Team.id == team_id))).first()
    return (row[0], row[1]) if row else None


async def patrol_teams(session: AsyncSession, *, scope_path: str | None,
                       team_ids: frozenset[int] = frozenset()) -> list[tuple[Team, Area]]:
    """Patrol teams in an area subtree (staff) and/or the given teams (a leader's own)."""
    conditions = []
    if scope_path is not None:
        conditions.append(subtree(Area.path, scope_path))
    if team_ids:
        conditions.append(Team.id.in_(team_ids))
    if not conditions:
        return []
    rows = (await session.execute(
        select(Team, Area).join(Area, Area.id == Team.area_id)
        .where(Team.kind == TeamKind.PATROL, Team.archived.is_(False), or_(*conditions))
        .order_by(Area.path, Team.id).limit(50))).all()
    return [(t, a) for t, a in rows]


def new_token() -> str:
    """16 URL-safe characters: `post_<token>` fits a deep link, and is not guessable."""
    return secrets.token_urlsafe(12)


def clean_name(text: str, limit: int) -> str:
    name = " ".join(text.split())
    if not name or len(name) > limit:
        raise PatrolError("bad_name")
    return name


async def create_post(session: AsyncSession, *, team_id: int, name: str,
                      now: datetime) -> PatrolPost:
    """A post of a patrol team, in the team's area."""
    found = await team_area(session, team_id=team_id)
    if found is None or found[0].archived:
        raise PatrolError("no_team")
    team, _area = found
    name = clean_name(name, MAX_POST_NAME)
    clash = await session.scalar(select(PatrolPost.id).where(
        PatrolPost.team_id == team_id, PatrolPost.name == name, PatrolPost.archived.is_(False)))
    if clash is not None:
        raise PatrolError("duplicate")
    post = PatrolPost(team_id=team.id, area_id=team.area_id, name=name, token=new_token(),
                      radius_m=150, archived=False, created_at=now)
    session.add(post)
    await session.flush()
    return post


async def post_with_area(session: AsyncSession, *, post_id: int) -> tuple[PatrolPost, Area] | None:
    row = (await session.execute(select(PatrolPost, Area).join(Area, Area.id == PatrolPost.area_id)
                                 .where(PatrolPost.id == post_id))).first()
    return (row[0], row[1]) if row else None


async def post_by_token(session: AsyncSession, *, token: str) -> PatrolPost | None:
    return await session.scalar(select(PatrolPost).where(PatrolPost.token == token,
                                                         PatrolPost.archived.is_(False)))


async def posts_of_teams(session: AsyncSession, *,
                         team_ids: Sequence[int]) -> list[PatrolPost]:
    if not team_ids:
        return []
    return list(await session.scalars(
        select(PatrolPost).where(PatrolPost.team_id.in_(team_ids),
                                 PatrolPost.archived.is_(False))
        .order_by(PatrolPost.team_id, PatrolPost.name).limit(100)))


def set_location(post: PatrolPost, *, latitude: float, longitude: float,
                 radius_m: int | None = None) -> None:
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise PatrolError("bad_location")
    post.latitude, post.longitude = latitude, longitude
    if radius_m is not None:
        post.radius_m = radius_m


def renew_token(post: PatrolPost) -> str:
    """A new sign: the old printed QR code stops working."""
    post.token = new_token()
    return post.token


# -- shifts and the rotation --------------------------------------------------------------

def parse_span(text: str) -> tuple[time, time] | None:
    """`20:00-22:00` (or `20:00–22:00`, `20:00~22:00`, `20:00 至 22:00`) → start and end."""
    for dash in ("–", "—", "~", "～", "至", "到", "to"):
        text = text.replace(dash, "-")
    parts = text.split("-")
    if len(parts) != 2:
        return None
    starts, ends = parse_clock(parts[0]), parse_clock(parts[1])
    if starts is None or ends is None or starts == ends:
        return None
    return starts, ends


def parse_new_shift(text: str) -> tuple[str, time, time] | None:
    """`晚班 20:00-22:00`: a name, then the time span (spaces around the dash allowed)."""
    words = text.split()
    for cut in range(len(words) - 1, 0, -1):
        span = parse_span("".join(words[cut:]))
        if span is not None:
            return " ".join(words[:cut]), *span
    return None


def runs_on(shift: PatrolShift, day: date) -> bool:
    """Whether the shift runs on that day of the week."""
    return bool(shift.weekdays >> day.weekday() & 1)


async def create_shift(session: AsyncSession, *, post: PatrolPost, name: str, starts: time,
                       ends: time, sensitive_only: bool, now: datetime,
                       weekdays: int = ALL_WEEKDAYS) -> PatrolShift:
    if starts == ends:
        raise PatrolError("bad_times")
    shift = PatrolShift(team_id=post.team_id, post_id=post.id,
                        name=clean_name(name, MAX_SHIFT_NAME), starts=starts, ends=ends,
                        sensitive_only=sensitive_only, weekdays=weekdays, archived=False,
                        created_at=now)
    session.add(shift)
    await session.flush()
    return shift


async def drop_planned_duties(session: AsyncSession, *, shift_id: int, now: datetime,
                              person_id: int | None = None,
                              days: Sequence[date] | None = None) -> None:
    """Planned duties of a shift that have not begun and nobody signed in to go (a changed
    or removed shift, a person taken off): the next planning writes them anew."""
    query = delete(PatrolDuty).where(
        PatrolDuty.shift_id == shift_id, PatrolDuty.signed_in_at.is_(None),
        PatrolDuty.starts_at > now, PatrolDuty.planned.is_(True))
    if person_id is not None:
        query = query.where(PatrolDuty.person_id == person_id)
    if days is not None:
        query = query.where(PatrolDuty.on_date.in_(list(days)))
    await session.execute(query)


async def edit_shift(session: AsyncSession, *, shift: PatrolShift, now: datetime,
                     name: str | None = None, span: tuple[time, time] | None = None,
                     weekday: int | None = None, sensitive_only: bool | None = None) -> None:
    """Rename, move in time, run or not on a weekday (toggled), for sensitive periods only
    or always. Planned duties whose time or day changed are planned again."""
    replan = False
    if name is not None:
        shift.name = clean_name(name, MAX_SHIFT_NAME)
    if span is not None:
        if span[0] == span[1]:
            raise PatrolError("bad_times")
        replan = (shift.starts, shift.ends) != span
        shift.starts, shift.ends = span
    if weekday is not None:
        if not 0 <= weekday <= 6:
            raise PatrolError("bad_day")
        weekdays = shift.weekdays ^ (1 << weekday)
        if not weekdays:
            raise PatrolError("no_days")
        shift.weekdays, replan = weekdays, True
    if sensitive_only is not None and sensitive_only != shift.sensitive_only:
        shift.sensitive_only, replan = sensitive_only, True
    if replan:
        await drop_planned_duties(session, shift_id=shift.id, now=now)
    await session.flush()


async def remove_shift(session: AsyncSession, *, shift: PatrolShift, now: datetime) -> None:
    """Archive the shift (its history stays) and drop what was planned of it ahead."""
    shift.archived = True
    await drop_planned_duties(session, shift_id=shift.id, now=now)
    await session.flush()


async def shifts_of_team(session: AsyncSession, *, team_id: int) -> list[PatrolShift]:
    return list(await session.scalars(
        select(PatrolShift).where(PatrolShift.team_id == team_id,
                                  PatrolShift.archived.is_(False))
        .order_by(PatrolShift.starts, PatrolShift.id)))


async def is_member(session: AsyncSession, *, person_id: int | None, team_id: int) -> bool:
    if person_id is None:
        return False
    return await session.scalar(select(Membership.id).where(
        Membership.person_id == person_id, Membership.team_id == team_id)) is not None


async def team_members(session: AsyncSession, *, team_id: int) -> list[tuple[int, str]]:
    """(person id, name) of the team's active members, leaders first."""
    rows = (await session.execute(
        select(Person.id, Person.name).join(Membership, Membership.person_id == Person.id)
        .where(Membership.team_id == team_id, Person.status != PersonStatus.LEFT)
        .order_by(Membership.is_leader.desc(), Person.name, Person.id))).all()
    return [(i, n) for i, n in rows]


async def rotation_of(session: AsyncSession, *, shift_id: int) -> dict[int, set[int]]:
    """weekday → the people on the shift that day."""
    out: dict[int, set[int]] = {d: set() for d in range(7)}
    for person_id, weekday in (await session.execute(
            select(PatrolRotation.person_id, PatrolRotation.weekday)
            .where(PatrolRotation.shift_id == shift_id))).all():
        out[weekday].add(person_id)
    return out


async def toggle_rotation(session: AsyncSession, *, shift: PatrolShift, person_id: int,
                          weekday: int) -> bool:
    """Put a team member on (or take them off) the shift on that weekday; True if now on."""
    if not 0 <= weekday <= 6 or not await is_member(session, person_id=person_id,
                                                    team_id=shift.team_id):
        raise PatrolError("not_member")
    row = await session.scalar(select(PatrolRotation).where(
        PatrolRotation.shift_id == shift.id, PatrolRotation.person_id == person_id,
        PatrolRotation.weekday == weekday))
    if row is not None:
        await session.delete(row)
        await session.flush()
        return False
    session.add(PatrolRotation(shift_id=shift.id, person_id=person_id, weekday=weekday))
    await session.flush()
    return True


# -- planning duties -----------------------------------------------------------------------

def first_timer(*, starts_at: datetime, grace: timedelta, now: datetime,
                config: PatrolConfig) -> tuple[DutyStage, datetime]:
    """A new duty's first timer: the reminder, or (planned too late for one) the nudge."""
    if starts_at > now:
        return DutyStage.REMIND, starts_at - config.remind_before
    return DutyStage.NUDGE, starts_at + grace


async def add_duty(session: AsyncSession, *, shift: PatrolShift, area_path: str, day: date,
                   person_id: int, now: datetime, tz: ZoneInfo, config: PatrolConfig,
                   swapped_from_id: int | None = None) -> bool:
    """Plan one duty (once: the same person, shift and day twice is written once)."""
    starts_at, ends_at = shift_window(shift, day, tz)
    if ends_at <= now:
        return False
    grace = await grace_for(session, area_path=area_path, starts_at=starts_at, config=config)
    stage, due = first_timer(starts_at=starts_at, grace=grace, now=now, config=config)
    result = await session.execute(
        dialect_insert(session, PatrolDuty.__table__)
        .values(shift_id=shift.id, post_id=shift.post_id, team_id=shift.team_id,
                person_id=person_id, on_date=day, starts_at=starts_at, ends_at=ends_at,
                planned=True, stage=stage, next_due_at=due, grace_s=int(grace.total_seconds()),
                late=False, far=False, auto_signed_out=False, excused=False,
                swapped_from_id=swapped_from_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["shift_id", "on_date", "person_id"]))
    return bool(getattr(result, "rowcount", 0))


async def plan_duties(session: AsyncSession, *, now: datetime, tz: ZoneInfo,
                      config: PatrolConfig, team_id: int | None = None) -> int:
    """Write the duties of today and the next days from the weekly rotation (idempotent).

    A shift for sensitive periods only is planned on a day only when a period covers the
    team's area at the shift's start."""
    today = local_date(now, tz)
    written = 0
    for offset in range(-1, config.plan_days):  # yesterday: a night shift still running
        day = today + timedelta(days=offset)
        query = (select(PatrolRotation.person_id, PatrolShift, Area.path)
                 .join(PatrolShift, PatrolShift.id == PatrolRotation.shift_id)
                 .join(PatrolPost, PatrolPost.id == PatrolShift.post_id)
                 .join(Area, Area.id == PatrolPost.area_id)
                 .join(Person, Person.id == PatrolRotation.person_id)
                 .where(PatrolRotation.weekday == day.weekday(),
                        PatrolShift.archived.is_(False), PatrolPost.archived.is_(False),
                        Person.status != PersonStatus.LEFT))
        if team_id is not None:
            query = query.where(PatrolShift.team_id == team_id)
        # Who gave that day's duty to a teammate: the rotation must not plan it again.
        swapped_away = set((await session.execute(
            select(PatrolDuty.shift_id, PatrolDuty.swapped_from_id).where(
                PatrolDuty.on_date == day, PatrolDuty.swapped_from_id.is_not(None)))).all())
        for person_id, shift, path in (await session.execute(query)).all():
            if not runs_on(shift, day) or (shift.id, person_id) in swapped_away:
                continue
            if shift.sensitive_only and not await sensitive_at(
                    session, area_path=path, moment=shift_window(shift, day, tz)[0]):
                continue
            written += await add_duty(session, shift=shift, area_path=path, day=day,
                                      person_id=person_id, now=now, tz=tz, config=config)
    return written


# -- signing in ------------------------------------------------------------------------------

class SignInResult(enum.StrEnum):
    SIGNED_IN = "signed_in"
    ALREADY = "already"
    UNKNOWN_POST = "unknown_post"
    NOT_MEMBER = "not_member"
    NO_SHIFT = "no_shift"


@dataclass(frozen=True)
class SignIn:
    result: SignInResult
    post_name: str = ""
    shift_name: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    late: bool = False
    far: bool = False
    distance_m: int | None = None
    duty_id: int | None = None


def _open(now: datetime, config: PatrolConfig) -> tuple[ColumnElement[bool], ...]:
    """A duty one may sign in to now: from a little before its start until its end."""
    return PatrolDuty.starts_at <= now + config.early_signin, PatrolDuty.ends_at > now


async def _current_shift_at(session: AsyncSession, *, post: PatrolPost, area_path: str,
                            now: datetime, tz: ZoneInfo,
                            config: PatrolConfig) -> tuple[PatrolShift, date] | None:
    """The post's shift one may sign in to now (for someone not on the roster)."""
    today = local_date(now, tz)
    for shift in await session.scalars(select(PatrolShift).where(
            PatrolShift.post_id == post.id, PatrolShift.archived.is_(False))
            .order_by(PatrolShift.starts)):
        for day in (today, today - timedelta(days=1)):
            if not runs_on(shift, day):
                continue
            starts_at, ends_at = shift_window(shift, day, tz)
            if not (starts_at - config.early_signin <= now < ends_at):
                continue
            if shift.sensitive_only and not await sensitive_at(session, area_path=area_path,
                                                               moment=starts_at):
                continue
            return shift, day
    return None


def _record(duty: PatrolDuty, *, now: datetime, method: str, config: PatrolConfig) -> None:
    duty.signed_in_at = now
    duty.signin_method = method
    duty.late = now > duty.starts_at + config.late_after
    duty.signed_out_at = None
    duty.auto_signed_out = False
    duty.stage = DutyStage.SIGN_OUT
    duty.next_due_at = duty.ends_at


async def _outcome(session: AsyncSession, duty: PatrolDuty, result: SignInResult,
                   post: PatrolPost | None = None) -> SignIn:
    post = post or await session.get_one(PatrolPost, duty.post_id)
    shift = await session.get_one(PatrolShift, duty.shift_id)
    return SignIn(result, post.name, shift.name, duty.starts_at, duty.ends_at, duty.late,
                  duty.far, duty.distance_m, duty.id)


async def sign_in_at_post(session: AsyncSession, *, token: str, person_id: int | None,
                          now: datetime, tz: ZoneInfo, config: PatrolConfig) -> SignIn:
    """Scanning the post's sign: sign in to one's duty there now (or, for a team member not
    on the roster, to the post's current shift as a helper)."""
    post = await post_by_token(session, token=token)
    if post is None:
        return SignIn(SignInResult.UNKNOWN_POST)
    if person_id is None or not await is_member(session, person_id=person_id,
                                                team_id=post.team_id):
        return SignIn(SignInResult.NOT_MEMBER, post_name=post.name)
    duty = await session.scalar(
        select(PatrolDuty).where(PatrolDuty.person_id == person_id,
                                 PatrolDuty.post_id == post.id, *_open(now, config))
        .order_by(PatrolDuty.signed_in_at.is_not(None), PatrolDuty.starts_at).limit(1))
    if duty is None:
        area_path = await session.scalar(select(Area.path).where(Area.id == post.area_id)) or "/"
        current = await _current_shift_at(session, post=post, area_path=area_path, now=now,
                                          tz=tz, config=config)
        if current is None:
            return SignIn(SignInResult.NO_SHIFT, post_name=post.name)
        shift, day = current
        starts_at, ends_at = shift_window(shift, day, tz)
        duty = PatrolDuty(shift_id=shift.id, post_id=post.id, team_id=post.team_id,
                          person_id=person_id, on_date=day, starts_at=starts_at,
                          ends_at=ends_at, planned=False, stage=DutyStage.DONE,
                          grace_s=int(config.grace.total_seconds()), late=False, far=False,
                          auto_signed_out=False, excused=False, created_at=now)
        session.add(duty)
    elif duty.signed_in_at is not None and duty.signed_out_at is None:
        return await _outcome(session, duty, SignInResult.ALREADY, post)
    duty.distance_m, duty.far = None, False
    _record(duty, now=now, method="qr", config=config)
    await session.flush()
    return await _outcome(session, duty, SignInResult.SIGNED_IN, post)


async def has_duties(session: AsyncSession, *, person_id: int | None) -> bool:
    """Whether the person is on any duty roster at all (a pin from anyone else is not a
    sign-in)."""
    return person_id is not None and await session.scalar(
        select(PatrolDuty.id).where(PatrolDuty.person_id == person_id).limit(1)) is not None


async def current_duties(session: AsyncSession, *, person_id: int, now: datetime,
                         config: PatrolConfig) -> list[PatrolDuty]:
    """The person's duties one may sign in to now, not-yet-signed-in first."""
    return list(await session.scalars(
        select(PatrolDuty).where(PatrolDuty.person_id == person_id, *_open(now, config))
        .order_by(PatrolDuty.signed_in_at.is_not(None), PatrolDuty.starts_at)))


async def sign_in_by_location(session: AsyncSession, *, person_id: int | None, latitude: float,
                              longitude: float, now: datetime,
                              config: PatrolConfig) -> SignIn:
    """A location pin: sign in to the current duty, with the distance from its post. A pin
    outside the post's radius is accepted and marked far (never refused)."""
    if person_id is None:
        return SignIn(SignInResult.NO_SHIFT)
    duties = await current_duties(session, person_id=person_id, now=now, config=config)
    if not duties:
        return SignIn(SignInResult.NO_SHIFT)
    duty = duties[0]
    if duty.signed_in_at is not None and duty.signed_out_at is None:
        return await _outcome(session, duty, SignInResult.ALREADY)
    post = await session.get_one(PatrolPost, duty.post_id)
    if post.latitude is not None and post.longitude is not None:
        duty.distance_m = round(distance_m(post.latitude, post.longitude, latitude, longitude))
        duty.far = duty.distance_m > post.radius_m
    else:
        duty.distance_m, duty.far = None, False
    _record(duty, now=now, method="location", config=config)
    await session.flush()
    return await _outcome(session, duty, SignInResult.SIGNED_IN, post)


async def sign_out(session: AsyncSession, *, person_id: int | None,
                   now: datetime) -> SignIn | None:
    """End the duty one is signed in to; None when not signed in anywhere."""
    if person_id is None:
        return None
    duty = await session.scalar(
        select(PatrolDuty).where(PatrolDuty.person_id == person_id,
                                 PatrolDuty.signed_in_at.is_not(None),
                                 PatrolDuty.signed_out_at.is_(None), PatrolDuty.ends_at > now)
        .order_by(PatrolDuty.signed_in_at.desc()).limit(1))
    if duty is None:
        return None
    duty.signed_out_at = now
    duty.stage, duty.next_due_at = DutyStage.DONE, None
    await session.flush()
    return await _outcome(session, duty, SignInResult.SIGNED_IN)


# -- the leader's decisions ---------------------------------------------------------------------

async def resolve_missing(session: AsyncSession, *, duty: PatrolDuty, by_person_id: int | None,
                          covered_by_id: int | None, excused: bool) -> None:
    """Covered by a teammate, or excused: the duty is no longer missing, the chase stops."""
    if covered_by_id is not None and not await is_member(session, person_id=covered_by_id,
                                                         team_id=duty.team_id):
        raise PatrolError("not_member")
    duty.covered_by_id = covered_by_id
    duty.excused = excused
    duty.resolved_by_id = by_person_id
    if duty.signed_in_at is None:
        duty.stage, duty.next_due_at = DutyStage.DONE, None
    await session.flush()


# -- swapping a duty with a teammate -----------------------------------------------------------

def swappable(duty: PatrolDuty, now: datetime) -> bool:
    """A duty may change hands until it begins (and while nobody signed in or covered it)."""
    return (duty.signed_in_at is None and duty.starts_at > now and duty.covered_by_id is None
            and not duty.excused)


async def _swap_check(session: AsyncSession, *, duty: PatrolDuty, to_person_id: int,
                      now: datetime) -> None:
    if not swappable(duty, now):
        raise PatrolError("started")
    if to_person_id == duty.person_id or not await is_member(
            session, person_id=to_person_id, team_id=duty.team_id):
        raise PatrolError("not_member")
    if await session.scalar(select(PatrolDuty.id).where(
            PatrolDuty.shift_id == duty.shift_id, PatrolDuty.on_date == duty.on_date,
            PatrolDuty.person_id == to_person_id)) is not None:
        raise PatrolError("already_on")


async def offer_swap(session: AsyncSession, *, duty: PatrolDuty, by_person_id: int | None,
                     to_person_id: int, now: datetime) -> None:
    """The duty's person asks a teammate to take it (one open offer per duty)."""
    if by_person_id is None or duty.person_id != by_person_id:
        raise PatrolError("not_yours")
    await _swap_check(session, duty=duty, to_person_id=to_person_id, now=now)
    duty.swap_offered_to_id = to_person_id
    await session.flush()


async def accept_swap(session: AsyncSession, *, duty: PatrolDuty, person_id: int | None,
                      now: datetime, config: PatrolConfig) -> int:
    """The teammate takes the duty: it is theirs, with its timers from the start (their own
    reminder); returns who had it."""
    if person_id is None or duty.swap_offered_to_id != person_id:
        raise PatrolError("not_offered")
    await _swap_check(session, duty=duty, to_person_id=person_id, now=now)
    previous = duty.person_id
    duty.person_id, duty.swapped_from_id, duty.swap_offered_to_id = person_id, previous, None
    duty.reminded_at = duty.nudged_at = None
    duty.stage, duty.next_due_at = first_timer(
        starts_at=duty.starts_at, grace=timedelta(seconds=duty.grace_s), now=now, config=config)
    await session.flush()
    return previous


async def decline_swap(session: AsyncSession, *, duty: PatrolDuty,
                       person_id: int | None) -> None:
    if person_id is None or duty.swap_offered_to_id != person_id:
        raise PatrolError("not_offered")
    duty.swap_offered_to_id = None
    await session.flush()


# -- what a duty looks like now -------------------------------------------------------------------

class DutyState(enum.StrEnum):
    UPCOMING = "upcoming"
    WAITING = "waiting"  # started, within the grace time, not signed in
    ON_DUTY = "on_duty"
    ON_DUTY_LATE = "on_duty_late"
    DONE = "done"  # signed in and out
    MISSING = "missing"
    COVERED = "covered"
    EXCUSED = "excused"


def duty_state(duty: PatrolDuty, now: datetime) -> DutyState:
    if duty.signed_in_at is not None:
        if duty.signed_out_at is not None or duty.ends_at <= now:
            return DutyState.DONE
        return DutyState.ON_DUTY_LATE if duty.late else DutyState.ON_DUTY
    if duty.covered_by_id is not None:
        return DutyState.COVERED
    if duty.excused:
        return DutyState.EXCUSED
    if now < duty.starts_at:
        return DutyState.UPCOMING
    if now < duty.starts_at + timedelta(seconds=duty.grace_s):
        return DutyState.WAITING
    return DutyState.MISSING


@dataclass(frozen=True)
class DutyLine:
    duty_id: int
    team_id: int
    post_name: str
    shift_name: str
    person_name: str
    starts_at: datetime
    ends_at: datetime
    state: DutyState
    late: bool
    far: bool
    signed_in_at: datetime | None
    covered_by: str | None


async def duty_lines(session: AsyncSession, *, now: datetime, person_id: int | None = None,
                     team_ids: Sequence[int] = (), since: datetime,
                     until: datetime) -> list[DutyLine]:
    """Duties starting in [since, until): one person's, or those of some teams."""
    coverer = aliased(Person)
    cover = (select(coverer.name).where(coverer.id == PatrolDuty.covered_by_id)
             .scalar_subquery())
    query = (select(PatrolDuty, PatrolPost.name, PatrolShift.name, Person.name, cover)
             .join(PatrolPost, PatrolPost.id == PatrolDuty.post_id)
             .join(PatrolShift, PatrolShift.id == PatrolDuty.shift_id)
             .join(Person, Person.id == PatrolDuty.person_id)
             .where(PatrolDuty.starts_at >= since, PatrolDuty.starts_at < until)
             .order_by(PatrolPost.name, PatrolDuty.starts_at, Person.name))
    if person_id is not None:
        query = query.where(PatrolDuty.person_id == person_id)
    else:
        query = query.where(PatrolDuty.team_id.in_(list(team_ids) or [-1]))
    return [DutyLine(d.id, d.team_id, post, shift, name, d.starts_at, d.ends_at,
                     duty_state(d, now), d.late, d.far, d.signed_in_at, covered)
            for d, post, shift, name, covered in (await session.execute(query)).all()]


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


async def duty_with_names(session: AsyncSession, *,
                          duty_id: int) -> tuple[PatrolDuty, str, str, str, Area] | None:
    """A duty with its person's, post's and shift's names and the post's area."""
    row = (await session.execute(
        select(PatrolDuty, Person.name, PatrolPost.name, PatrolShift.name, Area)
        .join(Person, Person.id == PatrolDuty.person_id)
        .join(PatrolPost, PatrolPost.id == PatrolDuty.post_id)
        .join(PatrolShift, PatrolShift.id == PatrolDuty.shift_id)
        .join(Area, Area.id == PatrolPost.area_id)
        .where(PatrolDuty.id == duty_id))).first()
    return (row[0], row[1], row[2], row[3], row[4]) if row else None

