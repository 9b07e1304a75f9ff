"""Test helpers for tip-offs: a community with teams, people and a linked group chat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import transaction
from bot.directory.models import Area, Chat, ChatStatus, Person, Role, Team, TeamKind
from tests.factories import add_to_team, make_person, make_team, make_tree
from tests.fake_telegram import FakeGroup, FakeTelegram, FakeUser


@dataclass
class Community:
    community: Area
    grid: Area
    building: Area
    patrol: Team
    cadres: Team
    mediation: Team
    leader: Person
    member: Person
    cadre: Person


async def make_community(session: AsyncSession, *, leader_id: int, member_id: int,
                         cadre_id: int, patrol_chat_id: int | None) -> Community:
    tree = await make_tree(session)
    patrol = await make_team(session, area=tree.community, name="治安巡逻队",
                             kind=TeamKind.PATROL)
    cadres = await make_team(session, area=tree.community, name="值班干部",
                             kind=TeamKind.CADRES)
    mediation = await make_team(session, area=tree.community, name="民事调解队",
                                kind=TeamKind.MEDIATION)
    leader = await make_person(session, name="王队长", role=Role.MEMBER, area=tree.community,
                               telegram_id=leader_id, phone="13800000001")
    await add_to_team(session, person=leader, team=patrol, leader=True)
    member = await make_person(session, name="张队员", role=Role.MEMBER, area=tree.community,
                               telegram_id=member_id)
    await add_to_team(session, person=member, team=patrol)
    cadre = await make_person(session, name="李干部", role=Role.MEMBER, area=tree.community,
                              telegram_id=cadre_id)
    await add_to_team(session, person=cadre, team=cadres, leader=True)
    if patrol_chat_id is not None:
        session.add(Chat(telegram_chat_id=patrol_chat_id, type="group", title="巡逻队群",
                         team_id=patrol.id, status=ChatStatus.ACTIVE))
    await session.flush()
    return Community(tree.community, tree.grid, tree.building, patrol, cadres, mediation,
                     leader, member, cadre)


@dataclass
class Scene:
    """The patrol team (leader Wang, member Zhang) with its group chat, and a duty cadre, Li."""

    town: Community
    leader: FakeUser
    member: FakeUser
    cadre: FakeUser
    group: FakeGroup


async def patrol_scene(fake: FakeTelegram, session_factory: async_sessionmaker[AsyncSession],
                       *, with_group: bool = True) -> Scene:
    leader = fake.user("Wang", language_code="zh-hans")
    member = fake.user("Zhang", language_code="zh-hans")
    cadre = fake.user("Li", language_code="zh-hans")
    group = fake.group("巡逻队群", [leader, member])
    async with transaction(session_factory) as session:
        town = await make_community(session, leader_id=leader.id, member_id=member.id,
                                    cadre_id=cadre.id,
                                    patrol_chat_id=group.id if with_group else None)
    group.record.bot_status = "member"
    for person in (leader, member, cadre):
        person.record.started = True  # they have pressed Start in their private chats
    return Scene(town, leader, member, cadre, group)


async def report(alice: FakeUser, *, anonymous: bool, album: int = 3,
                 category: str = "👀 可疑人员或行为", text: str = "有个人一直在撬电动车的锁",
                 place: str | None = None, send: bool = True) -> None:
    """The whole /report conversation in zh-CN, up to pressing “send” (``send=False``:
    stop at the summary, with the “send” button showing).

    ``place``: a building's name to press; without it, a location pin is shared."""
    await alice.send("/report")
    await alice.press(text=category)
    await alice.send(text)
    if album:
        await alice.send_album(count=album, quiet=1.5)
    await alice.press(text="✅ 完成" if album else "⏭ 没有照片")
    if place is None:
        await alice.send_location(31.2304, 121.4737)
    else:
        await alice.send(place)
    await alice.press(text="🙈 匿名" if anonymous else "🙋 署名")
    if send:
        await alice.press(text="✅ 发送")


def card_in(messages: list[Any], reference: str | None = None) -> Any:
    """The newest tip-off card among these messages (None if there is none yet)."""
    cards = [m for m in messages if (m.text or "").startswith("🔔")
             and (reference is None or reference in m.text)]
    return cards[-1] if cards else None

