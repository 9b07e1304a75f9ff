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
