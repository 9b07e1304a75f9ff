"""/leave, then /start again: back as a plain resident, old teams kept as history."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.audit import AuditEntry
from bot.db import transaction
from bot.directory.models import Membership, PastMembership, Person, PersonStatus, Role
from bot.directory.people import TelegramIdentity, leave, load_actor, register_person
from tests.factories import make_cast
from tests.fake_telegram import FakeTelegram


async def test_leader_who_left_and_returns_is_a_plain_resident(
    bot, fake: FakeTelegram, session_factory
):
    wang = fake.user("Wang", language_code="zh-hans")
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.leader.telegram_id = wang.id
    await wang.send("/me")
    assert "治安巡逻队" in wang.last_message.text
    await wang.send("/leave")
    await wang.press("确定退出")

    await wang.send("/start")
    await wang.press("简体中文")
    # Back with no home area: asked where they live, like anyone new.
    assert "您住在哪个社区" in wang.last_message.text
    await wang.send("/me")
    me = wang.last_message.text
    assert "治安巡逻队" not in me and "居民" in me
    await wang.send("/team")
    assert wang.last_message.text == "抱歉，您没有权限这样做。"

    async with session_factory() as session:
        person = await session.get(Person, cast.leader.id)
        current = await session.scalar(select(func.count()).select_from(Membership).where(
            Membership.person_id == person.id))
        past = list(await session.scalars(select(PastMembership).where(
            PastMembership.person_id == person.id)))
        actions = {e.action: e for e in await session.scalars(
            select(AuditEntry).where(AuditEntry.object_id == person.id,
                                     AuditEntry.object_type == "person"))}
    assert person.status is PersonStatus.ACTIVE and person.role is Role.RESIDENT
    assert person.area_id is None and current == 0
    assert [(p.team_id, p.is_leader) for p in past] == [(cast.team.id, True)]
    assert actions["person.leave"].before["teams"] == [{"team_id": cast.team.id,
                                                        "is_leader": True}]
    assert actions["person.return"].before["role"] == "member"
    assert actions["person.return"].after == {"status": "active", "role": "resident",
                                              "area_id": None}


async def test_leaving_moves_memberships_to_history_at_once(session_factory):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        assert await leave(session, person_id=cast.member.id)
        assert not await leave(session, person_id=cast.member.id)  # twice: nothing more
    async with session_factory() as session:
        rows = (await session.execute(select(Membership.person_id).where(
            Membership.team_id == cast.team.id))).scalars().all()
        past = list(await session.scalars(select(PastMembership)))
        person = await session.get(Person, cast.member.id)
    assert rows == [cast.leader.id]  # the team's current members no longer include them
    assert [(p.person_id, p.is_leader) for p in past] == [(cast.member.id, False)]
    assert person.status is PersonStatus.LEFT and person.role is Role.MEMBER  # history as is


async def test_returning_person_has_no_team_standing(session_factory):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        await leave(session, person_id=cast.staff.id)
    identity = TelegramIdentity(telegram_id=cast.staff.telegram_id, name="李干部")
    async with transaction(session_factory) as session:
        person = await register_person(session, identity=identity)
        actor = await load_actor(session, identity=identity, default_language="zh-CN")
    assert person.role is Role.RESIDENT and person.status is PersonStatus.ACTIVE
    assert actor.role is Role.RESIDENT and actor.area_path is None and not actor.team_ids
