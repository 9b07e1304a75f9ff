"""Shared test factories: an area tree, teams, people with roles, memberships, an Actor.

Each takes an open session and flushes (no commit), so a test composes them inside
one `transaction(session_factory)`:

    async with transaction(session_factory) as session:
        tree = await make_tree(session)                      # street office/community/grid/building
        team = await make_team(session, area=tree.community)  # a team in that community
        leader = await make_person(session, name="王队长", role=Role.MEMBER,
                                   area=tree.community, telegram_id=alice.id)
        await add_to_team(session, person=leader, team=team, leader=True)
        actor = await actor_for(session, leader)             # the Actor bot.auth.can sees
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth import Actor
from bot.directory.models import (
    Area,
    AreaKind,
    Membership,
    Person,
    PersonStatus,
    Role,
    Subscription,
    SubscriptionTopic,
    Team,
    TeamKind,
)
from bot.directory.people import TelegramIdentity, load_actor

_numbers = itertools.count(1)


@dataclass
class Tree:
    street_office: Area
    community: Area
    grid: Area
    building: Area


async def make_area(
    session: AsyncSession, *, name: str, parent: Area | None = None,
    kind: AreaKind | None = None, language: str | None = None,
) -> Area:
    """One node with its materialized path; the kind follows the depth unless given.

    No default teams are created (use bot.directory.areas.create_area for that)."""
    depth_kinds = (AreaKind.STREET_OFFICE, AreaKind.COMMUNITY, AreaKind.GRID, AreaKind.BUILDING)
    depth = 0 if parent is None else parent.path.count("/") - 1
    area = Area(name=name, parent_id=parent.id if parent else None,
                kind=kind or depth_kinds[min(depth, 3)], language=language)
    session.add(area)
    await session.flush()
    area.path = f"{parent.path if parent else '/'}{area.id}/"
    await session.flush()
    return area


async def make_tree(
    session: AsyncSession, *, street_office: str = "平桥办事处", community: str = "龙江路社区",
    grid: str = "3网格", building: str = "12栋", parent: Area | None = None,
) -> Tree:
    """A street office → community → grid → building chain (reusing `parent` as the office)."""
    office = parent or await make_area(session, name=street_office)
    comm = await make_area(session, name=community, parent=office)
    grid_area = await make_area(session, name=grid, parent=comm)
    building_area = await make_area(session, name=building, parent=grid_area)
    return Tree(office, comm, grid_area, building_area)


async def make_team(
    session: AsyncSession, *, area: Area, name: str = "治安巡逻队",
    kind: TeamKind = TeamKind.PATROL,
) -> Team:
    team = Team(name=name, kind=kind, area_id=area.id)
    session.add(team)
    await session.flush()
    return team


async def make_person(
    session: AsyncSession, *, name: str | None = None, role: Role = Role.RESIDENT,
    area: Area | None = None, telegram_id: int | None = None, phone: str | None = None,
    status: PersonStatus | None = None, language: str | None = None,
    topics: tuple[SubscriptionTopic, ...] = (),
) -> Person:
    """A person; without a telegram id (and no status given) they are PENDING, as if imported."""
    number = next(_numbers)
    if status is None:
        status = PersonStatus.ACTIVE if telegram_id is not None else PersonStatus.PENDING
    person = Person(name=name or f"Person {number}", role=role, telegram_id=telegram_id,
                    phone=phone, status=status, area_id=area.id if area else None,
                    language=language)
    session.add(person)
    await session.flush()
    session.add_all(Subscription(person_id=person.id, topic=t) for t in topics)
    await session.flush()
    return person


async def add_to_team(
    session: AsyncSession, *, person: Person, team: Team, leader: bool = False
) -> Membership:
    membership = Membership(person_id=person.id, team_id=team.id, is_leader=leader)
    session.add(membership)
    await session.flush()
    return membership


async def actor_for(
    session: AsyncSession, person: Person, *, admin_ids: tuple[int, ...] = ()
) -> Actor:
    """The Actor the bot would load for this person (needs a telegram id)."""
    assert person.telegram_id is not None, "give the person a telegram_id first"
    return await load_actor(
        session, identity=TelegramIdentity(telegram_id=person.telegram_id, name=person.name),
        default_language="zh-CN", admin_ids=admin_ids,
    )


def stranger(telegram_id: int = 999_000_001) -> Actor:
    """Someone who never pressed Start."""
    return Actor(telegram_id=telegram_id, name="Stranger", language="zh-CN")


@dataclass
class Cast:
    """A community with one of each kind of person, and a second community next door."""

    tree: Tree
    other: Tree
    team: Team
    other_team: Team
    admin: Person
    staff: Person
    other_staff: Person
    leader: Person
    member: Person
    resident: Person


async def make_cast(session: AsyncSession, *, first_telegram_id: int = 500_000_001) -> Cast:
    """Telegram ids are consecutive from `first_telegram_id` in the field order above
    (admin, staff, other_staff, leader, member, resident); pass real fake-user ids
    by setting `person.telegram_id` afterwards if a test talks as them."""
    ids = itertools.count(first_telegram_id)
    tree = await make_tree(session)
    other = await make_tree(session, community="青石桥社区", grid="1网格", building="3栋",
                            parent=tree.street_office)
    team = await make_team(session, area=tree.community)
    other_team = await make_team(session, area=other.community)
    admin = await make_person(session, name="管理员", role=Role.ADMIN, telegram_id=next(ids))
    staff = await make_person(session, name="李干部", role=Role.STAFF, area=tree.community,
                              telegram_id=next(ids))
    other_staff = await make_person(session, name="赵干部", role=Role.STAFF, area=other.community,
                                    telegram_id=next(ids))
    leader = await make_person(session, name="王队长", role=Role.MEMBER, area=tree.community,
                               telegram_id=next(ids))
    await add_to_team(session, person=leader, team=team, leader=True)
    member = await make_person(session, name="张队员", role=Role.MEMBER, area=tree.community,
                               telegram_id=next(ids))
    await add_to_team(session, person=member, team=team)
    resident = await make_person(session, name="陈阿姨", role=Role.RESIDENT, area=tree.building,
                                 telegram_id=next(ids), topics=tuple(SubscriptionTopic))
    return Cast(tree, other, team, other_team, admin, staff, other_staff, leader, member,
                resident)
