"""Tip-off guards found in review: a reveal always names who looked, reassigning stays in
the report's community, and a reporter cannot flood the team with additions."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.audit import AuditEntry
from bot.db import transaction
from bot.directory.models import Area, Chat, ChatStatus, Person, Role
from bot.tipoffs.models import TipOff, TipOffDraft, TipOffEvent, TipOffEventKind, TipOffStatus
from broadcasts import Broadcast
from tests.factories import add_to_team, make_person, make_team, make_tree
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.tipoff_support import card_in, patrol_scene, report


async def _the_tipoff(session_factory) -> TipOff:
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff).order_by(TipOff.id.desc()))
    assert tipoff is not None
    return tipoff


# -- /reveal and the other staff commands by an ADMIN_IDS administrator -----------------
async def test_a_reveal_by_an_admin_named_only_in_admin_ids_names_who_looked(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    boss = fake.user("Boss", language_code="zh-hans")
    await bot.restart(admin_ids=(boss.id,))  # no person row: only the settings name them
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=True, album=0)
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)
    tipoff = await _the_tipoff(session_factory)

    await boss.send(f"/tipblock {tipoff.reference} 一天报了十几次")
    await boss.send(f"/tipunblock {tipoff.reference}")
    await boss.send(f"/reveal {tipoff.reference} 派出所需要证人笔录")
    assert f"{tipoff.reference} 的反映人是 Alice" in boss.last_message.text

    async with session_factory() as session:
        entries = (await session.scalars(select(AuditEntry).where(
            AuditEntry.action.like("tipoff.%")).order_by(AuditEntry.id))).all()
        looked = await session.scalar(select(TipOffEvent).where(
            TipOffEvent.kind == TipOffEventKind.REVEALED))
        boss_person = await session.scalar(select(Person).where(Person.telegram_id == boss.id))
    assert [e.action for e in entries] == ["tipoff.block_reporter", "tipoff.unblock_reporter",
                                           "tipoff.reveal_reporter"]
    assert boss_person is not None
    assert {e.actor_id for e in entries} == {boss_person.id}
    assert looked.actor_id == boss_person.id


# -- reassigning stays in the report's community -----------------------------------------
async def test_reassign_offers_and_accepts_only_teams_of_the_reports_community(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    town = scene.town
    zhao = fake.user("Zhao", language_code="zh-hans")
    zhao.record.started = True
    next_door = fake.group("青石桥巡逻队群", [zhao])
    next_door.record.bot_status = "member"
    staff = fake.user("Staff", language_code="zh-hans")
    async with transaction(session_factory) as session:
        office = await session.get(Area, town.community.parent_id)
        other = await make_tree(session, community="青石桥社区", grid="1网格", building="3栋",
                                parent=office)
        foreign = await make_team(session, area=other.community, name="青石桥巡逻队")
        person = await make_person(session, name="赵队长", role=Role.MEMBER,
                                   area=other.community, telegram_id=zhao.id)
        await add_to_team(session, person=person, team=foreign, leader=True)
        session.add(Chat(telegram_chat_id=next_door.id, type="group", title="青石桥巡逻队群",
                         team_id=foreign.id, status=ChatStatus.ACTIVE))
        await make_person(session, name="社区干部", role=Role.STAFF, area=town.community,
                          telegram_id=staff.id)
        foreign_id = foreign.id
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=True, album=0)
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)
    tipoff = await _the_tipoff(session_factory)

    # The list offers the community's own teams, not the neighbours'.
    await scene.leader.press(text="↪️ 转给其他队", chat=scene.group)
    offered = [b for row in scene.group.messages[-1].buttons for b in row]
    assert "民事调解队" in offered and "青石桥巡逻队" not in offered

    # A forged press with the other community's team is refused and changes nothing,
    # whether from the team or from the community's staff (whose scope it is outside).
    for who, chat in ((scene.leader, scene.group), (staff, None)):
        if chat is None:
            await who.send("/report")  # any message with buttons to forge a press on
        await who.press(data=f"tp:t:{tipoff.id}:{foreign_id}", chat=chat, forged=True)
        assert "失效" in (who.last_callback_answer.text or "")
        if chat is None:
            await who.send("/cancel")
    await fake.settle()
    after = await _the_tipoff(session_factory)
    assert (after.team_id, after.status) == (town.patrol.id, TipOffStatus.NEW)
    assert next_door.messages == []
    async with session_factory() as session:
        reassigned = await session.scalar(select(func.count(TipOffEvent.id)).where(
            TipOffEvent.kind == TipOffEventKind.REASSIGNED))
    assert reassigned == 0

    # Within the community it still works.
    await scene.leader.press(text="民事调解队", chat=scene.group)
    assert (await _the_tipoff(session_factory)).team_id == town.mediation.id


# -- additions are rate-limited, and a photo flood is answered once ---------------------
async def test_additions_count_against_the_hourly_limit_and_an_album_counts_once(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    group = scene.group
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=False, album=0)  # 1 of the 5 an hour allows
    await fake.wait_for(lambda: card_in(group.messages) is not None)
    tipoff = await _the_tipoff(session_factory)
    ref = tipoff.reference

    await alice.send("/mytips")
    await alice.press(text=f"➕ 补充 {ref}")
    await alice.send_album(count=10, quiet=1.5)  # ten photos, one addition: 2 of 5
    assert "已经转给处理的队伍了" in alice.last_message.text
    # Then 25 comments in a row, each from the “add” button: three more get through.
    for i in range(25):
        await alice.press(text=f"➕ 补充 {ref}")
        await alice.send(f"第{i}条补充")
    await fake.settle()
    assert "请稍等一会儿再补充" in (alice.last_callback_answer.text or "")
    assert alice.last_callback_answer.show_alert
    passed = [m.text for m in group.messages if "条补充" in (m.text or "")]
    assert len(passed) == 3 and all(f"第{i}条补充" in passed[i] for i in range(3))
    assert len([m for m in group.messages if m.media_group_id]) == 10
    async with session_factory() as session:
        additions = await session.scalar(select(func.count(Broadcast.id)).where(
            Broadcast.kind == "tipoff_addition"))
    assert additions == 4


async def test_an_addition_is_refused_when_the_limit_was_reached_after_the_press(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=True, album=0)
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)
    tipoff = await _the_tipoff(session_factory)
    await alice.send("/mytips")
    await alice.press(text=f"➕ 补充 {tipoff.reference}")
    async with transaction(session_factory) as session:  # meanwhile, from elsewhere
        for i in range(4):
            session.add(TipOff(reference=f"TX-LIM{i}", reporter_id=tipoff.reporter_id,
                               category="other", created_at=tipoff.created_at))
    await alice.send("还有一个同伙")
    assert "请稍等一会儿再补充" in alice.last_message.text
    await fake.settle()
    assert not any("同伙" in (m.text or "") for m in scene.group.messages)
    async with session_factory() as session:
        kinds = [e.kind for e in await session.scalars(
            select(TipOffEvent).where(TipOffEvent.tipoff_id == tipoff.id))]
        drafts = await session.scalar(select(func.count(TipOffDraft.person_id)))
    assert TipOffEventKind.COMMENT not in kinds and drafts == 0


async def test_thirty_photos_at_intake_are_answered_once(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    alice = fake.user("Alice", language_code="zh-hans")
    await alice.send("/report")
    await alice.press(text="👀 可疑人员或行为")
    await alice.send("楼道里有人撬门")
    before = len(alice.messages)
    for _ in range(3):
        await alice.send_album(count=10)
    await fake.settle(quiet=1.5)  # past the album window
    replies = alice.messages[before:]
    assert len(replies) == 1
    assert "已经有 10 张照片了" in replies[0].text
    assert replies[0].button(text="✅ 完成") is not None
    async with session_factory() as session:
        draft = await session.scalar(select(TipOffDraft))
    assert len(draft.photos) == 10
