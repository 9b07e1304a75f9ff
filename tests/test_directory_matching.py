"""Roster entries listed only by Telegram username are matched when that user presses /start."""

from __future__ import annotations

from sqlalchemy import select

from bot.audit import AuditEntry
from bot.db import transaction
from bot.directory.models import Membership, Person, PersonStatus, Role
from bot.directory.people import TelegramIdentity, match_by_username, register_person
from tests.factories import make_cast, make_person
from tests.fake_telegram import FakeTelegram

ROSTER = "name,phone,team,role,telegram\n王芳,13812345678,治安巡逻队,队员,@WangFang\n"


async def test_imported_username_is_matched_on_start(bot, fake: FakeTelegram, session_factory):
    lee = fake.user("Lee")
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = lee.id
    await lee.send("/import")
    await lee.send_document(ROSTER.encode(), "名单.csv")
    await lee.press("导入 1 人")
    assert "已导入 1 人" in lee.last_message.text

    fang = fake.user("芳", username="wangfang")  # Telegram's case differs from the roster's
    await fang.send("/start")
    assert any("找到您了，王芳" in (m.text or "") for m in fang.messages)
    await fang.send("/me")
    assert "治安巡逻队" in fang.last_message.text
    async with session_factory() as session:
        rows = list(await session.scalars(select(Person).where(Person.name == "王芳")))
        entry = await session.scalar(select(AuditEntry).where(
            AuditEntry.action == "person.match_username"))
    assert len(rows) == 1 and rows[0].telegram_id == fang.id
    assert rows[0].status is PersonStatus.ACTIVE and rows[0].role is Role.MEMBER
    assert entry is not None and entry.object_id == rows[0].id


async def test_someone_else_with_no_matching_username_is_a_resident(
    bot, fake: FakeTelegram, session_factory
):
    async with transaction(session_factory) as session:
        await make_cast(session)
        pending = await make_person(session, name="王芳", role=Role.MEMBER)
        pending.username = "WangFang"
    other = fake.user("Other", username="wangfang2")
    await other.send("/start")
    assert not any("找到您了" in (m.text or "") for m in other.messages)
    async with session_factory() as session:
        still = await session.get(Person, pending.id)
        person = await session.scalar(select(Person).where(Person.telegram_id == other.id))
    assert still.status is PersonStatus.PENDING and still.telegram_id is None
    assert person.role is Role.RESIDENT


async def test_username_match_merges_into_an_existing_account(session_factory):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        pending = await make_person(session, name="王芳", role=Role.MEMBER, phone="+8613800000001")
        pending.username = "WangFang"
        session.add(Membership(person_id=pending.id, team_id=cast.team.id))
    identity = TelegramIdentity(telegram_id=777_000_001, name="芳", username="WANGFANG")
    async with transaction(session_factory) as session:
        await register_person(session, identity=identity)  # pressed /start before the import
    async with transaction(session_factory) as session:
        person = await match_by_username(session, identity=identity)
        assert person is not None
        again = await match_by_username(session, identity=identity)
    assert again is None  # nothing pending any more
    async with session_factory() as session:
        merged = await session.scalar(select(Person).where(Person.telegram_id == 777_000_001))
        team_ids = list(await session.scalars(select(Membership.team_id).where(
            Membership.person_id == merged.id)))
        gone = await session.get(Person, pending.id)
    assert merged.role is Role.MEMBER and merged.phone == "+8613800000001"
    assert team_ids == [cast.team.id] and gone is None


async def test_no_username_matches_nothing(session_factory):
    async with transaction(session_factory) as session:
        pending = await make_person(session, name="无名")
        pending.username = None
        identity = TelegramIdentity(telegram_id=777_000_002, name="x", username=None)
        assert await match_by_username(session, identity=identity) is None


STAFF_ROSTER = ("name,phone,team,role,telegram\n"
                "孙干部,13812340001,治安巡逻队,干部,@SunGanbu\n"
                "王芳,13812345678,治安巡逻队,队长,@WangFang\n")


async def _imported(fake: FakeTelegram, session_factory, roster: str = STAFF_ROSTER):
    """The community's staff member (Lee) imports the roster; returns Lee and the cast."""
    lee = fake.user("Lee")
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = lee.id
    await lee.send_document(roster.encode(), "名单.csv", caption="/import")
    await lee.press("导入 2 人")
    return lee, cast


async def _person(session_factory, name: str) -> Person:
    async with session_factory() as session:
        return await session.scalar(select(Person).where(Person.name == name))


async def _leads(session_factory, person_id: int) -> list[tuple[bool, bool]]:
    async with session_factory() as session:
        return [tuple(row) for row in (await session.execute(select(
            Membership.is_leader, Membership.unconfirmed_leader).where(
                Membership.person_id == person_id))).all()]


async def test_a_username_match_grants_no_staff_role_or_leadership_until_staff_confirm(
    bot, fake: FakeTelegram, session_factory
):
    """Whoever registers a username a roster lists joins the team as a member only; staff
    confirm the role in /people (audited), or keep them a member."""
    lee, cast = await _imported(fake, session_factory)
    sun = fake.user("Sun", username="sunganbu")  # perhaps not the 孙干部 of the list
    fang = fake.user("Fang", username="wangfang")
    for user in (sun, fang):
        await user.send("/start")
        assert any("找到您了" in (m.text or "") for m in user.messages)
    replies = await sun.send("/export")
    assert [r.text for r in replies] == ["抱歉，您没有权限这样做。"]
    await fang.send("/team")
    assert fang.last_message.text == "抱歉，您没有权限这样做。"
    for user in (sun, fang):
        assert any("社区干部核实后会为您确认" in (m.text or "") for m in user.messages)
    sun_row, fang_row = await _person(session_factory, "孙干部"), await _person(
        session_factory, "王芳")
    assert (sun_row.role, sun_row.unconfirmed_role) == (Role.MEMBER, Role.STAFF)
    assert (fang_row.role, fang_row.unconfirmed_role) == (Role.MEMBER, None)
    assert await _leads(session_factory, fang_row.id) == [(False, True)]

    # Someone else's staff, a leader or the person themselves cannot confirm it.
    others = {"other_staff": fake.user("Zhao"), "leader": fake.user("Wang")}
    async with transaction(session_factory) as session:
        for field_name, user in others.items():
            (await session.get(Person, getattr(cast, field_name).id)).telegram_id = user.id
    refused, outside = "抱歉，您没有权限这样做。", "这个按钮已经失效了。"
    for user, answer in ((others["other_staff"], outside), (others["leader"], refused),
                         (sun, refused)):
        await user.send("/leave")  # a message with buttons to forge presses on
        await user.press(data=f"dir:pcf:{sun_row.id}", forged=True)
        assert user.last_callback_answer.text == answer
    assert (await _person(session_factory, "孙干部")).role is Role.MEMBER

    await lee.send("/people")
    text = lee.last_message.text
    assert "孙干部 (@sunganbu): 社区干部" in text and "王芳 (@wangfang): 治安巡逻队队长" in text
    await lee.press("✅ 确认孙干部")
    assert lee.last_message.text == "已确认：孙干部 (@sunganbu): 社区干部。"
    await lee.send("/people 王芳")
    await lee.press("只作队员")
    assert (await _person(session_factory, "孙干部")).role is Role.STAFF
    assert await _leads(session_factory, fang_row.id) == [(False, False)]
    replies = await sun.send("/export")
    assert replies[-1].document is not None
    async with session_factory() as session:
        entries = list(await session.scalars(select(AuditEntry).where(
            AuditEntry.action.in_(["person.confirm_role", "person.decline_role"]))
            .order_by(AuditEntry.id)))
    assert [(e.action, e.object_id, e.actor_id) for e in entries] == [
        ("person.confirm_role", sun_row.id, cast.staff.id),
        ("person.decline_role", fang_row.id, cast.staff.id)]
    await lee.send("/people")
    assert "等您确认" not in lee.last_message.text and lee.last_message.buttons == []


async def test_sharing_the_own_phone_on_the_list_confirms_a_username_match(
    bot, fake: FakeTelegram, session_factory
):
    await _imported(fake, session_factory)
    fang = fake.user("Fang", username="wangfang")
    await fang.send("/start")
    await fang.send_contact("+8613800000000")  # not the number on the list: nothing changes
    person = await _person(session_factory, "王芳")
    assert await _leads(session_factory, person.id) == [(False, True)]
    await fang.send_contact("+86 138 1234 5678")
    assert "名单上的身份已经确认" in fang.last_message.text
    assert await _leads(session_factory, person.id) == [(True, False)]
    await fang.send("/team")
    assert "治安巡逻队" in str(fang.last_message.buttons)


async def test_username_match_into_an_existing_account_waits_for_staff_too(session_factory):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        pending = await make_person(session, name="孙干部", role=Role.STAFF,
                                    area=cast.tree.community, phone="+8613812340001")
        pending.username = "SunGanbu"
        session.add(Membership(person_id=pending.id, team_id=cast.team.id, is_leader=True))
    identity = TelegramIdentity(telegram_id=777_000_003, name="Sun", username="sunganbu")
    async with transaction(session_factory) as session:
        await register_person(session, identity=identity)  # pressed /start before the import
    async with transaction(session_factory) as session:
        assert await match_by_username(session, identity=identity) is not None
    async with session_factory() as session:
        merged = await session.scalar(select(Person).where(Person.telegram_id == 777_000_003))
        membership = await session.scalar(select(Membership).where(
            Membership.person_id == merged.id))
    assert (merged.role, merged.unconfirmed_role, merged.area_id) == (
        Role.MEMBER, Role.STAFF, cast.tree.community.id)
    assert (membership.is_leader, membership.unconfirmed_leader) == (False, True)
