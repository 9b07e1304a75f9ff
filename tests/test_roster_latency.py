"""A big roster does not hold the bot up: its check runs beside other people's updates
(non-blocking handlers), reads do not wait for a write transaction, Confirm only plans
the file again when the directory changed since its check, and the write is batched."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import func, select

from bot.audit import AuditEntry
from bot.db import reading, transaction
from bot.directory import roster, tables
from bot.directory.models import Person, Role
from bot.directory.roster import check_roster, import_roster
from bot.directory.tables import read_table
from tests.factories import make_cast, make_person
from tests.fake_telegram import FakeTelegram, FakeUser

ROSTER = ("姓名,联系电话,所属队伍\n"
          "王芳,13812345678,治安巡逻队\n"
          "李强,13912345678,治安巡逻队\n"
          "赵敏,13712345678,治安巡逻队\n").encode()
HELP = "我可以为您做这些："
CHECKED = "共检查了 3 行：新增 3 人"
STILL_CHECKING = "我还在检查您的文件，请稍等，检查完马上在这里回复您。"


def _has(user: FakeUser, text: str) -> bool:
    return any(text in (m.text or "") for m in user.messages)


async def _staff(session_factory, user: FakeUser) -> None:
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = user.id


class Gate:
    """The roster's reading (in a worker thread) waits here until `open()`: its handler has
    surely not finished, however fast the machine, and no network timeout runs meanwhile."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered, self._open = threading.Event(), threading.Event()
        read_csv = tables.read_csv

        def waiting(data: bytes) -> tables.Table:
            self.entered.set()
            self._open.wait(timeout=120)
            return read_csv(data)

        monkeypatch.setattr(tables, "read_csv", waiting)

    def open(self) -> None:
        self._open.set()


async def test_another_users_help_is_answered_while_a_roster_is_still_being_read(
    bot, fake: FakeTelegram, session_factory, monkeypatch: pytest.MonkeyPatch,
):
    staff, neighbour = fake.user("李干部"), fake.user("王阿姨")
    await _staff(session_factory, staff)
    gate = Gate(monkeypatch)
    try:
        upload = asyncio.create_task(staff.send_document(ROSTER, "花名册.csv", caption="/import"))
        await fake.wait_for(gate.entered.is_set)
        asking = asyncio.create_task(neighbour.send("/help"))
        await fake.wait_for(lambda: _has(neighbour, HELP))
        assert staff.messages == []  # the roster's handler is still reading
    finally:
        gate.open()
    await asyncio.gather(upload, asking)
    assert CHECKED in staff.last_message.text
    assert staff.last_message.reply_markup is not None  # Confirm is offered


async def test_while_a_roster_is_checked_its_sender_is_asked_to_wait_and_the_conversation_goes_on(
    bot, fake: FakeTelegram, session_factory, monkeypatch: pytest.MonkeyPatch,
):
    staff = fake.user("李干部")
    await _staff(session_factory, staff)
    await staff.send("/import")
    gate = Gate(monkeypatch)
    try:
        wrong = asyncio.create_task(staff.send_document("编号,备注\n1,无\n".encode(),
                                                        "花名册.csv"))
        await fake.wait_for(gate.entered.is_set)
        typing = asyncio.create_task(staff.send("好了吗？"))
        await fake.wait_for(lambda: _has(staff, STILL_CHECKING))
    finally:
        gate.open()
    await asyncio.gather(wrong, typing)
    assert staff.last_message.text.startswith("文件缺少这些列")
    # That check ended by waiting for a file again: the next one, without /import, is read.
    await staff.send_document(ROSTER, "花名册.csv")
    assert CHECKED in staff.last_message.text
    # And that one ended the conversation: a file now is not taken as a roster.
    await staff.send_document(ROSTER, "花名册.csv")
    assert sum(CHECKED in (m.text or "") for m in staff.messages) == 1


async def test_a_read_does_not_wait_for_a_write_transaction(session_factory):
    async with transaction(session_factory) as session:
        await make_person(session, name="王芳", telegram_id=700_000_001)
    async with transaction(session_factory) as writer:
        await make_person(writer, name="李强", telegram_id=700_000_002)
        await writer.flush()  # the write lock is held until the block ends
        async with reading(session_factory) as reader:
            count = await asyncio.wait_for(
                reader.scalar(select(func.count()).select_from(Person)), timeout=10)
        assert count == 1  # the last commit, not the write under way


async def test_confirm_plans_again_only_when_the_directory_changed(session_factory):
    rows = read_table(ROSTER, "r.csv")
    async with transaction(session_factory) as session:
        tree = (await make_cast(session)).tree
        scope = tree.community.path
    async with reading(session_factory) as session:
        checked = await check_roster(session, rows=rows, scope_path=scope)
    assert len(checked.added) == 3
    async with transaction(session_factory) as session:  # nothing changed: the same check
        assert await check_roster(session, rows=rows, scope_path=scope,
                                  against=checked) is checked
    async with transaction(session_factory) as session:
        await make_person(session, name="王芳", phone="+8613812345678", area=tree.building)
    async with transaction(session_factory) as session:  # someone now has a file's phone
        again = await check_roster(session, rows=rows, scope_path=scope, against=checked)
        assert again is not checked
        assert (len(again.added), len(again.updated)) == (2, 1)
        result = await import_roster(session, preview=again, scope_path=scope, actor_id=None)
    assert (result.created, result.updated) == (2, 1)
    async with reading(session_factory) as session:
        phones = list(await session.scalars(select(Person.phone).where(
            Person.phone.in_(["+8613812345678", "+8613912345678", "+8613712345678"]))))
    assert sorted(phones) == ["+8613712345678", "+8613812345678", "+8613912345678"]


async def test_people_already_known_by_phone_are_updated_and_audited_as_before(session_factory):
    """Known phones are written in one batch; what changes is what `_update_person` changed
    one person at a time: name, area, role never lowered, Telegram only where unknown."""
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        chen = await make_person(session, name="陈阿姨", phone="+8613812345678",
                                 area=cast.tree.building)
        zhang = await make_person(session, name="张队员", role=Role.MEMBER,
                                  phone="+8613912345678", area=cast.tree.community,
                                  telegram_id=700_000_003)
        zhang.username = "zhang_old"
        scope = cast.tree.community.path
    rows = read_table(("name,phone,team,role,area,telegram\n"
                       "陈秀英,13812345678,治安巡逻队,队员,,@chen_xiuying\n"
                       "张伟,13912345678,治安巡逻队,社区干部,3网格,@zhang_new\n").encode(),
                      "r.csv")
    async with transaction(session_factory) as session:
        preview = await check_roster(session, rows=rows, scope_path=scope)
        assert len(preview.updated) == 2
        await import_roster(session, preview=preview, scope_path=scope, actor_id=cast.staff.id)
    async with reading(session_factory) as session:
        chen_now, zhang_now = (await session.get(Person, chen.id),
                               await session.get(Person, zhang.id))
        audit = {e.object_id: e for e in await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "roster.update"))}
    assert (chen_now.name, chen_now.role, chen_now.area_id, chen_now.username,
            chen_now.telegram_id) == ("陈秀英", Role.MEMBER, cast.tree.community.id,
                                      "chen_xiuying", None)  # no area: the team's
    assert (zhang_now.name, zhang_now.role, zhang_now.area_id, zhang_now.username,
            zhang_now.telegram_id) == ("张伟", Role.STAFF, cast.tree.grid.id, "zhang_old",
                                       700_000_003)
    assert audit[chen.id].actor_id == cast.staff.id
    assert audit[chen.id].before == {"name": "陈阿姨", "role": "resident",
                                     "area_id": cast.tree.building.id}
    assert audit[zhang.id].after == {"name": "张伟", "role": "staff",
                                     "area_id": cast.tree.grid.id,
                                     "team_id": preview.updated[1].team_id}


async def test_another_users_help_is_answered_while_a_rosters_question_is_being_answered(
    bot, fake: FakeTelegram, session_factory, monkeypatch: pytest.MonkeyPatch,
):
    """Answering a question about the file (an unknown team: skip its rows) plans the whole
    file again, twice: that must neither block other updates nor hold the write lock."""
    staff, neighbour = fake.user("李干部"), fake.user("王阿姨")
    await _staff(session_factory, staff)
    await staff.send_document(ROSTER + "孙丽,13612345678,不存在队\n".encode(), "花名册.csv",
                              caption="/import")
    assert "队伍“不存在队”— 1 行" in staff.last_message.text
    entered, opened = threading.Event(), threading.Event()
    plan = roster.plan_roster

    def waiting(*args, **kwargs):
        entered.set()
        opened.wait(timeout=120)
        return plan(*args, **kwargs)

    monkeypatch.setattr(roster, "plan_roster", waiting)
    try:
        answering = asyncio.create_task(staff.press("跳过这些行"))
        await fake.wait_for(entered.is_set)
        asking = asyncio.create_task(neighbour.send("/help"))
        await fake.wait_for(lambda: _has(neighbour, HELP))
    finally:
        opened.set()
    await asyncio.gather(answering, asking)
    assert "共检查了 4 行：新增 3 人" in staff.last_message.text
    assert "第 5 行（孙丽）：已按您的选择跳过" in staff.last_message.text
