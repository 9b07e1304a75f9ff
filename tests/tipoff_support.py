"""Test helpers for tip-offs: a community with teams, people and a linked group chat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Area, Chat, ChatStatus, Person, Role, Team, TeamKind
from broadcasts import Dispatcher
from tests.factories import add_to_team, make_person, make_team, make_tree


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


async def start_dispatcher(application: Any, session_factory: Any = None) -> Dispatcher:
    """The Application's own dispatcher (it starts one in post_init). Kept only because
    tests/test_alerts_flow.py still imports this name; it no longer starts a second one."""
    dispatcher = application.bot_data["services"].dispatcher
    if dispatcher is None:
        raise RuntimeError("the Application has no dispatcher: was post_init run?")
    return dispatcher
