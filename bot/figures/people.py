"""People figures: residents registered, building coverage, team sizes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import (
    Area,
    AreaKind,
    Membership,
    Person,
    PersonStatus,
    Role,
    Subscription,
    Team,
)
from bot.figures.counting import Scope, ratio
from bot.figures.periods import Period


@dataclass(frozen=True)
class PeopleFigures:
    """Residents: people with the resident role, active, living in the scope (a leader's
    figures have none); new: those of them who registered in the period; coverage:
    buildings in the scope where at least one such resident receives something, ÷ all
    buildings in the scope; team sizes: current members (leaders included) of each team."""

    residents: int
    new_residents: int
    buildings: int
    covered_buildings: int
    team_sizes: dict[int, int]

    @property
    def coverage(self) -> float | None:
        return ratio(self.covered_buildings, self.buildings)


async def people_figures(session: AsyncSession, *, scope: Scope,
                         period: Period) -> PeopleFigures:
    team_filter: ColumnElement[bool]
    if scope.team_ids:
        team_filter = Team.id.in_(scope.team_ids)
    else:
        assert scope.area_path is not None
        team_filter = Area.path.startswith(scope.area_path, autoescape=True)
    team_sizes = dict((await session.execute(
        select(Team.id, func.count(Membership.id)).join(Area, Area.id == Team.area_id)
        .outerjoin(Membership, Membership.team_id == Team.id)
        .where(team_filter, Team.archived.is_(False)).group_by(Team.id))).all())
    if scope.area_path is None:
        return PeopleFigures(0, 0, 0, 0, team_sizes)
    inside = Area.path.startswith(scope.area_path, autoescape=True)
    resident = and_(Person.role == Role.RESIDENT, Person.status == PersonStatus.ACTIVE)
    in_period = and_(Person.created_at >= period.start, Person.created_at < period.end)
    residents, new = (await session.execute(
        select(func.count(Person.id), func.count(case((in_period, 1))))
        .join(Area, Area.id == Person.area_id).where(inside, resident))).one()
    building = and_(inside, Area.kind == AreaKind.BUILDING, Area.archived.is_(False))
    buildings = await session.scalar(select(func.count(Area.id)).where(building)) or 0
    # From each building to its first subscribed resident (an index seek), not from every
    # resident to their building.
    subscribed_resident = exists().where(
        Person.area_id == Area.id, resident,
        exists().where(Subscription.person_id == Person.id))
    covered = await session.scalar(
        select(func.count(Area.id)).where(building, subscribed_resident)) or 0
    return PeopleFigures(residents, new, buildings, covered, team_sizes)
