"""Teams and who is in them. No Telegram."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit import record
from bot.directory.areas import clean_name, subtree
from bot.directory.models import Area, Membership, Person, PersonStatus, Role, Team, TeamKind
from bot.i18n import N_, translator

# Every new community starts with these, named in the community's language.
DEFAULT_TEAMS: tuple[tuple[TeamKind, str], ...] = (
    (TeamKind.LEGAL_PUBLICITY, N_("Legal publicity team")),
    (TeamKind.ANTI_PYRAMID, N_("Anti-pyramid-scheme team")),
    (TeamKind.MEDIATION, N_("Civil mediation team")),
    (TeamKind.POVERTY_AID, N_("Poverty aid team")),
    (TeamKind.AD_REMOVAL, N_("Illegal ad removal team")),
    (TeamKind.SCHOOL_GUARD, N_("School guard team")),
    (TeamKind.PATROL, N_("Security patrol team")),
    (TeamKind.CADRES, N_("Community cadres")),
    (TeamKind.NEARBY_UNITS, N_("Heads of nearby units")),
    (TeamKind.PARTY_MEMBERS, N_("Party members")),
    (TeamKind.CLEANERS, N_("Cleaners")),
    (TeamKind.BUILDING_HEADS, N_("Building heads")),
)


@dataclass(frozen=True)
class TeamInfo:
    id: int
    name: str
    kind: TeamKind
    area_id: int
    area_path: str
    archived: bool
    members: int


@dataclass(frozen=True)
class MemberInfo:
    person_id: int
    name: str
    phone: str | None
    is_leader: bool
    pending: bool


async def create_default_teams(
    session: AsyncSession, *, community: Area, language: str, actor_id: int | None
) -> list[Team]:
    _ = translator(language)
    teams = [Team(kind=kind, name=_(name), area_id=community.id) for kind, name in DEFAULT_TEAMS]
    session.add_all(teams)
    await session.flush()
    await record(session, actor_id=actor_id, action="team.create_defaults", object_type="area",
                 object_id=community.id, after={"teams": [t.name for t in teams]})
    return teams


async def create_team(
    session: AsyncSession, *, area: Area, name: str, actor_id: int | None,
    kind: TeamKind = TeamKind.OTHER,
) -> Team:
    team = Team(kind=kind, name=clean_name(name), area_id=area.id)
    session.add(team)
    await session.flush()
    await record(session, actor_id=actor_id, action="team.create", object_type="team",
                 object_id=team.id, after={"name": team.name, "area_id": area.id})
    return team


async def get_team(session: AsyncSession, *, team_id: int) -> tuple[Team, Area] | None:
    row = (await session.execute(
        select(Team, Area).join(Area, Area.id == Team.area_id).where(Team.id == team_id)
    )).first()
    return (row[0], row[1]) if row else None


def _info(team: Team, area: Area, members: int) -> TeamInfo:
    return TeamInfo(id=team.id, name=team.name, kind=team.kind, area_id=area.id,
                    area_path=area.path, archived=team.archived, members=members)


async def teams_in_scope(
    session: AsyncSession, *, scope_path: str | None, team_ids: frozenset[int] = frozenset(),
    offset: int = 0, limit: int = 8,
) -> tuple[list[TeamInfo], int]:
    """Teams of an area subtree (staff), or the given teams (a leader's), active ones only."""
    condition = Team.archived.is_(False)
    if scope_path is not None and team_ids:
        condition = condition & (subtree(Area.path, scope_path) | Team.id.in_(team_ids))
    elif scope_path is not None:
        condition = condition & subtree(Area.path, scope_path)
    else:
        condition = condition & Team.id.in_(team_ids)
    total = await session.scalar(
        select(func.count()).select_from(Team).join(Area, Area.id == Team.area_id).where(condition)
    ) or 0
    count = (select(func.count(Membership.id)).where(Membership.team_id == Team.id)
             .scalar_subquery())
    rows = (await session.execute(
        select(Team, Area, count).join(Area, Area.id == Team.area_id).where(condition)
        .order_by(Area.path, Team.id).offset(offset).limit(limit)
    )).all()
    return [_info(t, a, n) for t, a, n in rows], total


async def members_of(session: AsyncSession, *, team_id: int) -> list[MemberInfo]:
    rows = (await session.execute(
        select(Person, Membership.is_leader).join(Membership, Membership.person_id == Person.id)
        .where(Membership.team_id == team_id, Person.status != PersonStatus.LEFT)
        .order_by(Membership.is_leader.desc(), Person.name)
    )).all()
    return [MemberInfo(p.id, p.name, p.phone, leader, p.status is PersonStatus.PENDING)
            for p, leader in rows]


async def add_member(
    session: AsyncSession, *, team: Team, person: Person, actor_id: int | None,
    leader: bool = False,
) -> Membership:
    """Put a person in a team (or update their leadership); members get at least MEMBER."""
    membership = await session.scalar(
        select(Membership).where(Membership.team_id == team.id, Membership.person_id == person.id)
    )
    before = None if membership is None else {"is_leader": membership.is_leader}
    if membership is None:
        membership = Membership(team_id=team.id, person_id=person.id, is_leader=leader)
        session.add(membership)
    else:
        membership.is_leader = membership.is_leader or leader
    if person.role is Role.RESIDENT:
        person.role = Role.MEMBER
    if person.area_id is None:
        person.area_id = team.area_id
    await session.flush()
    await record(session, actor_id=actor_id, action="team.add_member", object_type="membership",
                 object_id=membership.id, before=before,
                 after={"team_id": team.id, "person_id": person.id,
                        "is_leader": membership.is_leader})
    return membership


async def remove_member(
    session: AsyncSession, *, team_id: int, person_id: int, actor_id: int | None
) -> bool:
    membership = await session.scalar(
        select(Membership).where(Membership.team_id == team_id, Membership.person_id == person_id)
    )
    if membership is None:
        return False
    await record(session, actor_id=actor_id, action="team.remove_member",
                 object_type="membership", object_id=membership.id,
                 before={"team_id": team_id, "person_id": person_id,
                         "is_leader": membership.is_leader})
    await session.delete(membership)
    await session.flush()
    return True


async def set_leader(
    session: AsyncSession, *, team_id: int, person_id: int, leader: bool, actor_id: int | None
) -> bool:
    membership = await session.scalar(
        select(Membership).where(Membership.team_id == team_id, Membership.person_id == person_id)
    )
    if membership is None:
        return False
    before = {"is_leader": membership.is_leader}
    membership.is_leader = leader
    membership.unconfirmed_leader = False  # staff decided it themselves
    await record(session, actor_id=actor_id, action="team.set_leader", object_type="membership",
                 object_id=membership.id, before=before, after={"is_leader": leader})
    return True


async def rename_team(
    session: AsyncSession, *, team: Team, name: str, actor_id: int | None
) -> None:
    before = {"name": team.name}
    team.name = clean_name(name)
    await record(session, actor_id=actor_id, action="team.rename", object_type="team",
                 object_id=team.id, before=before, after={"name": team.name})


async def archive_team(session: AsyncSession, *, team: Team, actor_id: int | None) -> None:
    team.archived = True
    await record(session, actor_id=actor_id, action="team.archive", object_type="team",
                 object_id=team.id, before={"archived": False}, after={"archived": True})


async def set_zone(session: AsyncSession, *, team: Team, area: Area, actor_id: int | None) -> None:
    before = {"area_id": team.area_id}
    team.area_id = area.id
    await record(session, actor_id=actor_id, action="team.zone", object_type="team",
                 object_id=team.id, before=before, after={"area_id": area.id})


async def teams_named(
    session: AsyncSession, *, name: str, scope_path: str
) -> list[tuple[Team, Area]]:
    rows = (await session.execute(
        select(Team, Area).join(Area, Area.id == Team.area_id)
        .where(Team.name == name, Team.archived.is_(False), subtree(Area.path, scope_path))
    )).all()
    return [(t, a) for t, a in rows]


def community_path(path: str) -> str:
    """The community a path lies in (`/office/community/`), or the path itself if higher."""
    parts = [p for p in path.strip("/").split("/") if p]
    return "/" + "/".join(parts[:2]) + "/"


async def zone_choices(
    session: AsyncSession, *, team: Team, offset: int = 0, limit: int = 6
) -> tuple[list[Area], int]:
    """Where the team may work: its community and everything under it (not archived)."""
    here = await session.get(Area, team.area_id)
    assert here is not None
    condition = subtree(Area.path, community_path(here.path)) & Area.archived.is_(False)
    total = await session.scalar(select(func.count()).select_from(Area).where(condition)) or 0
    rows = await session.scalars(
        select(Area).where(condition).order_by(Area.path).offset(offset).limit(limit))
    return list(rows), total
