"""Tip-off figures: received by category, area and status; time to claim and to close;
escalated; referred to police; the mediation success rate."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.directory.models import Area, AreaKind, Team
from bot.figures.counting import Scope, in_period, percentile, ratio
from bot.figures.periods import Period
from bot.tipoffs.categories import Category
from bot.tipoffs.models import TipOff, TipOffEvent, TipOffEventKind, TipOffStatus

CLOSED_STATUSES = frozenset({TipOffStatus.RESOLVED, TipOffStatus.REFERRED,
                             TipOffStatus.REJECTED})


@dataclass(frozen=True)
class TipRow:
    """One report as the figures see it: no reporter, no text, no place beyond its area."""

    id: int
    reference: str
    category: str
    status: TipOffStatus
    urgent: bool
    created_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    #: The report's own area, else its team's area (what staff scope is checked against).
    area_path: str | None
    team_id: int | None
    escalated: bool


def tipoff_scope(scope: Scope, place_path: Any, team_path: Any) -> ColumnElement[bool]:
    """Reports in scope: of the scope's teams, or placed (else their team) in its area."""
    if scope.team_ids:
        return TipOff.team_id.in_(scope.team_ids)
    assert scope.area_path is not None
    return func.coalesce(place_path, team_path).startswith(scope.area_path, autoescape=True)


async def load_tipoffs(session: AsyncSession, *, scope: Scope, since: datetime,
                       until: datetime) -> list[TipRow]:
    """The reports in scope received, claimed or closed in `[since, until)`."""
    place = aliased(Area)
    team_area = aliased(Area)
    escalated = exists().where(TipOffEvent.tipoff_id == TipOff.id,
                               TipOffEvent.kind == TipOffEventKind.ESCALATED)
    window = or_(and_(TipOff.created_at >= since, TipOff.created_at < until),
                 and_(TipOff.claimed_at >= since, TipOff.claimed_at < until),
                 and_(TipOff.closed_at >= since, TipOff.closed_at < until))
    stmt = (
        select(TipOff.id, TipOff.reference, TipOff.category, TipOff.status, TipOff.urgent,
               TipOff.created_at, TipOff.claimed_at, TipOff.closed_at,
               func.coalesce(place.path, team_area.path), TipOff.team_id, escalated)
        .outerjoin(place, place.id == TipOff.area_id)
        .outerjoin(Team, Team.id == TipOff.team_id)
        .outerjoin(team_area, team_area.id == Team.area_id)
        .where(window, tipoff_scope(scope, place.path, team_area.path))
        .order_by(TipOff.created_at)
    )
    # Through the connection: plain rows skip the ORM's result handling (a year of a street
    # office is 20,000 of them).
    connection = await session.connection()
    return [TipRow(*row) for row in (await connection.execute(stmt)).all()]


async def monthly_received(session: AsyncSession, *, scope: Scope,
                           months: Sequence[Period]) -> list[int]:
    """Reports received in each of `months` (local calendar months), in their order: each
    report is counted in the month of its `created_at` in the community's time zone."""
    if not months:
        return []
    place = aliased(Area)
    team_area = aliased(Area)
    month = case(*((and_(TipOff.created_at >= m.start, TipOff.created_at < m.end), index)
                   for index, m in enumerate(months))).label("month")
    stmt = (
        select(month, func.count())
        .outerjoin(place, place.id == TipOff.area_id)
        .outerjoin(Team, Team.id == TipOff.team_id)
        .outerjoin(team_area, team_area.id == Team.area_id)
        .where(TipOff.created_at >= months[0].start, TipOff.created_at < months[-1].end,
               tipoff_scope(scope, place.path, team_area.path))
        .group_by("month")  # by the label: PostgreSQL wants the same parameters in both
    )
    counts = [0] * len(months)
    for index, count in (await session.execute(stmt)).all():
        if index is not None:
            counts[index] = count
    return counts


def received(rows: Iterable[TipRow], period: Period) -> list[TipRow]:
    """Reports received: sent by the reporter (`created_at`) within the period, whatever
    became of them; rejected ones too."""
    return [r for r in rows if in_period(period, r.created_at)]


def by_category(rows: Iterable[TipRow], period: Period) -> dict[str, int]:
    """Reports received in the period per category, in the order of the category list."""
    counts = Counter(r.category for r in received(rows, period))
    order = [c.value for c in Category]
    return {c: counts[c] for c in sorted(counts, key=lambda c: (c not in order,
                                                                order.index(c) if c in order
                                                                else 0, c))}


def by_status(rows: Iterable[TipRow], period: Period) -> dict[TipOffStatus, int]:
    """Reports received in the period by where they stand now (new, being handled,
    resolved, referred to police, rejected)."""
    counts = Counter(r.status for r in received(rows, period))
    return {s: counts[s] for s in TipOffStatus if counts[s]}


def by_area(rows: Iterable[TipRow], period: Period,
            areas: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Reports received in the period per area one level below the scope (`areas`: path,
    name — the communities of a street office, the grids of a community). A report is in
    the area its own place lies in, else its team's area; reports elsewhere in the scope
    (placed on the scope itself) are counted under the empty name ""."""
    counts: dict[str, int] = {name: 0 for _path, name in areas}
    names: dict[str | None, str] = {}
    for row in received(rows, period):
        name = names.get(row.area_path)
        if name is None:
            name = names[row.area_path] = next(
                (n for p, n in areas if row.area_path and row.area_path.startswith(p)), "")
        counts[name] = counts.get(name, 0) + 1
    return counts


def claim_seconds(rows: Iterable[TipRow], period: Period) -> list[float]:
    """Time to claim, for each report claimed in the period: from the report being sent to
    a team member taking it on. A report closed without being claimed counts as claimed
    when it was closed; a reassigned report counts from its sending to the new team's claim."""
    return [(r.claimed_at - r.created_at).total_seconds() for r in rows
            if r.claimed_at is not None and in_period(period, r.claimed_at)]


def close_seconds(rows: Iterable[TipRow], period: Period) -> list[float]:
    """Time to close, for each report closed in the period (resolved, referred to police or
    rejected): from the report being sent to its closing."""
    return [(r.closed_at - r.created_at).total_seconds() for r in rows
            if r.closed_at is not None and in_period(period, r.closed_at)]


def escalated(rows: Iterable[TipRow], period: Period) -> int:
    """Reports received in the period that went unclaimed too long and were escalated to
    the duty cadres (at least once, even if later reassigned)."""
    return sum(1 for r in received(rows, period) if r.escalated)


def referred(rows: Iterable[TipRow], period: Period) -> int:
    """Reports referred to the police (派出所) in the period: closed as referred, counted in
    the month of the referral."""
    return sum(1 for r in rows
               if r.status is TipOffStatus.REFERRED and in_period(period, r.closed_at))


@dataclass(frozen=True)
class Mediation:
    closed: int
    resolved: int

    @property
    def rate(self) -> float | None:
        return ratio(self.resolved, self.closed)


def mediation(rows: Iterable[TipRow], period: Period) -> Mediation:
    """The mediation success rate: neighbour disputes resolved ÷ neighbour disputes closed,
    over the disputes closed in the period (resolved, referred to police or rejected)."""
    closed = [r for r in rows if r.category == Category.DISPUTE.value
              and r.status in CLOSED_STATUSES and in_period(period, r.closed_at)]
    return Mediation(len(closed), sum(1 for r in closed if r.status is TipOffStatus.RESOLVED))


@dataclass(frozen=True)
class TipoffFigures:
    received: int
    by_category: dict[str, int]
    by_status: dict[TipOffStatus, int]
    claim_median_s: float | None
    claim_p90_s: float | None
    close_median_s: float | None
    close_p90_s: float | None
    escalated: int
    referred: int
    mediation: Mediation


def tipoff_figures(rows: Sequence[TipRow], period: Period) -> TipoffFigures:
    claims = claim_seconds(rows, period)
    closes = close_seconds(rows, period)
    return TipoffFigures(
        received=len(received(rows, period)), by_category=by_category(rows, period),
        by_status=by_status(rows, period),
        claim_median_s=percentile(claims, 50), claim_p90_s=percentile(claims, 90),
        close_median_s=percentile(closes, 50), close_p90_s=percentile(closes, 90),
        escalated=escalated(rows, period), referred=referred(rows, period),
        mediation=mediation(rows, period),
    )


@dataclass(frozen=True)
class TeamTimes:
    team_id: int | None
    claims: list[float]
    closes: list[float]


def times_by_team(rows: Sequence[TipRow], period: Period) -> list[TeamTimes]:
    """Time to claim and to close (as `claim_seconds` and `close_seconds`) per team the
    report is with now, teams with most reports first."""
    by_team: dict[int | None, list[TipRow]] = defaultdict(list)
    for row in rows:
        by_team[row.team_id].append(row)
    times = [TeamTimes(team, claim_seconds(team_rows, period), close_seconds(team_rows, period))
             for team, team_rows in by_team.items()]
    return sorted((t for t in times if t.claims or t.closes),
                  key=lambda t: (-(len(t.claims) + len(t.closes)), t.team_id or 0))


async def child_areas(session: AsyncSession, *, path: str) -> list[tuple[str, str]]:
    """The areas one level below `path` (communities, grids), as (path, name), by name."""
    depth = path.count("/") + 1
    rows = (await session.execute(
        select(Area.path, Area.name).where(Area.path.startswith(path, autoescape=True),
                                           Area.archived.is_(False),
                                           Area.kind != AreaKind.BUILDING))).all()
    return sorted(((p, n) for p, n in rows if p.count("/") == depth), key=lambda r: r[1])
