"""Audience resolution: who a broadcast reaches, each once, in their language."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.auth import Actor, Permission
from bot.db import utcnow
from bot.directory.audience import (
    AudienceCount,
    AudienceSpec,
    Recipient,
    count_audience,
    may_target,
    recipient_pairs,
    resolve_audience,
    subtree_bounds,
)
from bot.directory.models import (
    Area,
    AreaKind,
    Chat,
    ChatStatus,
    Membership,
    Person,
    PersonStatus,
    Role,
    Subscription,
    SubscriptionTopic,
    Team,
    TeamKind,
)
from broadcasts.models import Base as BroadcastsBase
from broadcasts.models import ChatState

Factory = async_sessionmaker[AsyncSession]


@dataclass
class World:
    """A small directory: street /1/, communities A (/1/2/) and B (/1/20/ — a prefix trap
    for LIKE '/1/2%'), grid A1 under A, building A1a under A1."""

    areas: dict[str, Area] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    chats: dict[str, Chat] = field(default_factory=dict)
    next_telegram_id: int = 900_001


async def add_area(session: AsyncSession, world: World, key: str, parent: str | None,
                   kind: AreaKind, area_id: int) -> Area:
    parent_path = world.areas[parent].path if parent else "/"
    area = Area(id=area_id, parent_id=world.areas[parent].id if parent else None, kind=kind,
                name=key, path=f"{parent_path}{area_id}/")
    session.add(area)
    world.areas[key] = area
    return area


async def add_person(session: AsyncSession, world: World, key: str, *, area: str | None,
                     role: Role = Role.RESIDENT, status: PersonStatus = PersonStatus.ACTIVE,
                     language: str | None = None, telegram_language: str | None = "zh-hans",
                     teams: tuple[str, ...] = (), topics: tuple[SubscriptionTopic, ...] = (),
                     telegram: bool = True) -> Person:
    telegram_id = None
    if telegram:
        telegram_id = world.next_telegram_id
        world.next_telegram_id += 1
    person = Person(telegram_id=telegram_id, name=key, role=role, status=status,
                    language=language, telegram_language=telegram_language,
                    area_id=world.areas[area].id if area else None)
    session.add(person)
    await session.flush()
    for team in teams:
        session.add(Membership(person_id=person.id, team_id=world.teams[team].id))
    for topic in topics:
        session.add(Subscription(person_id=person.id, topic=topic))
    world.people[key] = person
    return person


async def add_group(session: AsyncSession, world: World, key: str, telegram_chat_id: int, *,
                    team: str | None = None, area: str | None = None,
                    status: ChatStatus = ChatStatus.ACTIVE, language: str | None = None,
                    thread_id: int | None = None) -> Chat:
    chat = Chat(telegram_chat_id=telegram_chat_id, type="supergroup", title=key,
                team_id=world.teams[team].id if team else None,
                area_id=world.areas[area].id if area else None, status=status,
                language=language, thread_id=thread_id)
    session.add(chat)
    await session.flush()
    world.chats[key] = chat
    return chat


@pytest.fixture
async def world(session_factory: Factory) -> World:
    w = World()
    async with session_factory() as session, session.begin():
        # The engine's tables may not have their migration yet; create them if missing.
        await (await session.connection()).run_sync(
            lambda sync: BroadcastsBase.metadata.create_all(sync, checkfirst=True))
        await add_area(session, w, "street", None, AreaKind.STREET_OFFICE, 1)
        await add_area(session, w, "A", "street", AreaKind.COMMUNITY, 2)
        await add_area(session, w, "B", "street", AreaKind.COMMUNITY, 20)
        await add_area(session, w, "A1", "A", AreaKind.GRID, 3)
        await add_area(session, w, "A1a", "A1", AreaKind.BUILDING, 4)
        await session.flush()
        for key, area in (("patrol", "A"), ("mediation", "A"), ("cleaners", "B")):
            team = Team(kind=TeamKind.PATROL, name=key, area_id=w.areas[area].id)
            session.add(team)
            await session.flush()
            w.teams[key] = team
        # In A's subtree.
        await add_person(session, w, "staff_a", area="A", role=Role.STAFF, language="en")
        await add_person(session, w, "grid_resident", area="A1",
                         topics=(SubscriptionTopic.ANTI_FRAUD,), telegram_language="zh-hant")
        await add_person(session, w, "building_resident", area="A1a", telegram_language=None)
        await add_person(session, w, "twice_teamed", area="A1a", role=Role.MEMBER,
                         teams=("patrol", "mediation"), telegram_language="fr")
        await add_person(session, w, "left_resident", area="A1", status=PersonStatus.LEFT,
                         topics=(SubscriptionTopic.ANTI_FRAUD,))
        await add_person(session, w, "pending_member", area="A1", status=PersonStatus.PENDING,
                         teams=("patrol",), telegram=False)
        blocked = await add_person(session, w, "blocked_resident", area="A1",
                                   topics=(SubscriptionTopic.ANTI_FRAUD,))
        unreachable = await add_person(session, w, "unreachable_resident", area="A1a")
        # Elsewhere.
        await add_person(session, w, "b_resident", area="B",
                         topics=(SubscriptionTopic.ANTI_FRAUD,), telegram_language="en")
        await add_person(session, w, "b_cleaner", area="B", role=Role.MEMBER, teams=("cleaners",))
        await add_person(session, w, "street_staff", area="street", role=Role.STAFF)
        await add_person(session, w, "homeless_patroller", area=None, role=Role.MEMBER,
                         teams=("patrol",), language="zh-TW")
        # A private chat that blocked the bot, and one the broadcasts engine found dead.
        session.add(Chat(telegram_chat_id=blocked.telegram_id, type="private", title="",
                         status=ChatStatus.LEFT))
        session.add(ChatState(chat_id=unreachable.telegram_id, unreachable_since=utcnow(),
                              reason="Forbidden: user is deactivated"))
        await add_group(session, w, "patrol_group", -1001, team="patrol", thread_id=7)
        await add_group(session, w, "a_group", -1002, area="A", language="zh-TW")
        await add_group(session, w, "a1_group", -1003, area="A1")
        await add_group(session, w, "b_group", -1004, area="B", language="en")
        await add_group(session, w, "left_group", -1005, area="A", status=ChatStatus.LEFT)
        await add_group(session, w, "dead_group", -1006, team="mediation")
        await add_group(session, w, "cleaners_group", -1007, team="cleaners")
        await add_group(session, w, "unlinked_group", -1008)
        session.add(ChatState(chat_id=-1006, unreachable_since=utcnow(),
                              reason="Forbidden: bot was kicked from the supergroup chat"))
    return w


async def resolve(factory: Factory, spec: AudienceSpec, window: int = 4096) -> list[Recipient]:
    async with factory() as session:
        return [r async for r in resolve_audience(session, spec, default_language="zh-CN",
                                                  window=window)]


async def count(factory: Factory, spec: AudienceSpec) -> AudienceCount:
    async with factory() as session:
        return await count_audience(session, spec)


def names(world: World, recipients: list[Recipient]) -> list[str]:
    by_id = {p.id: key for key, p in world.people.items()}
    by_chat = {c.telegram_chat_id: key for key, c in world.chats.items()}
    return [by_id[r.person_id] if r.person_id is not None else by_chat[r.chat_id]
            for r in recipients]


def test_subtree_bounds_do_not_catch_a_sibling_sharing_a_prefix() -> None:
    low, high = subtree_bounds("/1/2/")
    assert low <= "/1/2/" < high and low <= "/1/2/3/4/" < high
    assert not (low <= "/1/20/" < high)
    assert not (low <= "/1/3/" < high)


async def test_an_area_reaches_everyone_below_it_and_no_sibling(
    session_factory: Factory, world: World
) -> None:
    recipients = await resolve(session_factory, AudienceSpec(area_ids={world.areas["A"].id}))
    assert sorted(names(world, recipients)) == sorted(
        ["staff_a", "grid_resident", "building_resident", "twice_teamed"])
    grid = await resolve(session_factory, AudienceSpec(area_ids={world.areas["A1"].id}))
    assert sorted(names(world, grid)) == ["building_resident", "grid_resident", "twice_teamed"]


async def test_someone_named_three_ways_is_reached_once(
    session_factory: Factory, world: World
) -> None:
    spec = AudienceSpec(team_ids={world.teams["patrol"].id, world.teams["mediation"].id},
                        area_ids={world.areas["A1"].id})
    reached = names(world, await resolve(session_factory, spec))
    assert reached.count("twice_teamed") == 1
    assert sorted(reached) == ["building_resident", "grid_resident", "homeless_patroller",
                               "twice_teamed"]


async def test_left_pending_blocked_and_unreachable_people_are_left_out(
    session_factory: Factory, world: World
) -> None:
    spec = AudienceSpec(area_ids={world.areas["street"].id})
    reached = set(names(world, await resolve(session_factory, spec)))
    assert not reached & {"left_resident", "pending_member", "blocked_resident",
                          "unreachable_resident"}
    assert "b_resident" in reached
    with_left = AudienceSpec(area_ids={world.areas["street"].id}, exclude_left=False)
    assert "left_resident" in names(world, await resolve(session_factory, with_left))


async def test_languages_come_from_choice_then_telegram_then_default(
    session_factory: Factory, world: World
) -> None:
    spec = AudienceSpec(area_ids={world.areas["street"].id},
                        team_ids={world.teams["patrol"].id},
                        chat_ids={world.chats["a_group"].id, world.chats["a1_group"].id})
    recipients = await resolve(session_factory, spec)
    languages = dict(zip(names(world, recipients), (r.language for r in recipients),
                         strict=True))
    assert languages == {
        "staff_a": "en",  # chosen with /language
        "grid_resident": "zh-TW",  # Telegram says zh-hant
        "building_resident": "zh-CN",  # Telegram says nothing: the default
        "twice_teamed": "zh-CN",  # Telegram says fr: the default
        "b_resident": "en",
        "b_cleaner": "zh-CN",
        "street_staff": "zh-CN",
        "homeless_patroller": "zh-TW",
        "a_group": "zh-TW",  # the group's own language
        "a1_group": "zh-CN",
    }
    by_name = dict(zip(names(world, recipients), recipients, strict=True))
    assert by_name["a_group"].kind == "group" and by_name["a_group"].person_id is None
    assert by_name["staff_a"].kind == "private"
    assert by_name["staff_a"].chat_id == world.people["staff_a"].telegram_id


async def test_linked_chats_come_first_and_only_active_reachable_ones(
    session_factory: Factory, world: World
) -> None:
    spec = AudienceSpec(area_ids={world.areas["A"].id}, roles={Role.STAFF},
                        include_linked_chats_of_areas=True)
    recipients = await resolve(session_factory, spec)
    assert names(world, recipients) == ["patrol_group", "a_group", "a1_group", "staff_a"]
    assert recipients[0].thread_id == 7  # the forum topic the chat was linked in
    teams_only = AudienceSpec(team_ids={world.teams["mediation"].id, world.teams["cleaners"].id},
                              include_linked_chats_of_teams=True)
    assert names(world, await resolve(session_factory, teams_only)) == [
        "cleaners_group", "twice_teamed", "b_cleaner"]  # dead_group is unreachable


async def test_subscribers_of_a_topic_in_an_area_or_everywhere(
    session_factory: Factory, world: World
) -> None:
    in_a = AudienceSpec(area_ids={world.areas["A"].id},
                        residents_topic=SubscriptionTopic.ANTI_FRAUD)
    assert names(world, await resolve(session_factory, in_a)) == ["grid_resident"]
    everywhere = AudienceSpec(residents_topic=SubscriptionTopic.ANTI_FRAUD)
    assert sorted(names(world, await resolve(session_factory, everywhere))) == [
        "b_resident", "grid_resident"]
    nobody = AudienceSpec(residents_topic=SubscriptionTopic.SAFETY_TIPS)
    assert await resolve(session_factory, nobody) == []


async def test_roles_anywhere_and_nothing_for_an_empty_spec(
    session_factory: Factory, world: World
) -> None:
    staff = AudienceSpec(roles={Role.STAFF})
    assert sorted(names(world, await resolve(session_factory, staff))) == [
        "staff_a", "street_staff"]
    assert await resolve(session_factory, AudienceSpec()) == []
    assert await count(session_factory, AudienceSpec()) == AudienceCount(0, 0)


SPECS = {
    "area": lambda w: AudienceSpec(area_ids={w.areas["A"].id}),
    "street+chats": lambda w: AudienceSpec(area_ids={w.areas["street"].id},
                                           include_linked_chats_of_areas=True),
    "teams+chats": lambda w: AudienceSpec(team_ids={t.id for t in w.teams.values()},
                                          include_linked_chats_of_teams=True),
    "topic": lambda w: AudienceSpec(residents_topic=SubscriptionTopic.ANTI_FRAUD),
    "mixed": lambda w: AudienceSpec(area_ids={w.areas["A1"].id}, roles={Role.STAFF},
                                    team_ids={w.teams["cleaners"].id},
                                    chat_ids={w.chats["unlinked_group"].id,
                                              w.chats["left_group"].id}),
}


@pytest.mark.parametrize("which", sorted(SPECS))
async def test_counts_match_the_stream_whatever_the_window(
    session_factory: Factory, world: World, which: str
) -> None:
    spec = SPECS[which](world)
    recipients = await resolve(session_factory, spec)
    counted = await count(session_factory, spec)
    assert counted == AudienceCount(
        people=sum(r.kind == "private" for r in recipients),
        groups=sum(r.kind == "group" for r in recipients))
    assert counted.total > 0
    # Tiny windows (many pages) give the same recipients, each once.
    paged = await resolve(session_factory, spec, window=2)
    assert paged == recipients
    assert len({r.chat_id for r in paged}) == len(paged)


async def test_pairs_for_the_broadcasts_engine(session_factory: Factory, world: World) -> None:
    spec = AudienceSpec(chat_ids={world.chats["b_group"].id})
    async with session_factory() as session:
        pairs = [p async for p in recipient_pairs(
            resolve_audience(session, spec, default_language="zh-CN"))]
    assert pairs == [(-1004, "en")]


def test_a_spec_survives_the_json_round_trip() -> None:
    spec = AudienceSpec(team_ids={3, 1}, area_ids=[2], roles={"staff"}, chat_ids={9},
                        include_linked_chats_of_teams=True,
                        residents_topic=SubscriptionTopic.NOTICES, exclude_left=False)
    assert AudienceSpec.from_json(spec.to_json()) == spec
    assert spec.to_json()["team_ids"] == [1, 3]
    assert spec.roles == frozenset({Role.STAFF})


def actor(**kwargs: object) -> Actor:
    return Actor(telegram_id=1, name="x", language="zh-CN", person_id=1, **kwargs)  # type: ignore[arg-type]


async def test_who_may_target_what(session_factory: Factory, world: World) -> None:
    admin = actor(role=Role.ADMIN)
    staff_a = actor(role=Role.STAFF, area_path=world.areas["A"].path)
    patrol_leader = actor(role=Role.MEMBER, team_ids=frozenset({world.teams["patrol"].id}),
                          led_team_ids=frozenset({world.teams["patrol"].id}))
    resident = actor(role=Role.RESIDENT)
    a1 = AudienceSpec(area_ids={world.areas["A1"].id})
    b = AudienceSpec(area_ids={world.areas["B"].id})
    patrol = AudienceSpec(team_ids={world.teams["patrol"].id},
                          include_linked_chats_of_teams=True)
    cleaners = AudienceSpec(team_ids={world.teams["cleaners"].id})
    everywhere = AudienceSpec(residents_topic=SubscriptionTopic.ANTI_FRAUD)
    unlinked = AudienceSpec(chat_ids={world.chats["unlinked_group"].id})
    a_chat = AudienceSpec(chat_ids={world.chats["a1_group"].id})
    cases = [
        (admin, everywhere, Permission.BROADCAST, True),
        (admin, unlinked, Permission.BROADCAST, True),
        (staff_a, a1, Permission.BROADCAST, True),
        (staff_a, patrol, Permission.BROADCAST, True),
        (staff_a, a_chat, Permission.BROADCAST, True),
        (staff_a, b, Permission.BROADCAST, False),
        (staff_a, cleaners, Permission.BROADCAST, False),
        (staff_a, everywhere, Permission.BROADCAST, False),
        (staff_a, unlinked, Permission.BROADCAST, False),
        (staff_a, AudienceSpec(area_ids={world.areas["A"].id}, team_ids={
            world.teams["cleaners"].id}), Permission.BROADCAST, False),
        (patrol_leader, patrol, Permission.SEND_ALERT, True),
        (patrol_leader, patrol, Permission.BROADCAST, False),
        (patrol_leader, cleaners, Permission.SEND_ALERT, False),
        (patrol_leader, a1, Permission.SEND_ALERT, False),
        (resident, patrol, Permission.SEND_ALERT, False),
        (None, patrol, Permission.SEND_ALERT, False),
        (admin, AudienceSpec(), Permission.BROADCAST, False),
        (admin, AudienceSpec(area_ids={999}), Permission.BROADCAST, True),
        (staff_a, AudienceSpec(area_ids={999}), Permission.BROADCAST, False),
    ]
    async with session_factory() as session:
        outcomes = [await may_target(session, who, spec, permission=permission)
                    for who, spec, permission, _ in cases]
    assert outcomes == [expected for *_, expected in cases]
