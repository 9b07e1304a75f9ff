"""Emergency alerts end to end over the fake server: groups first, acknowledgements once per
person, the live count, re-notify, escalation, all-clear, restart, refusals, forged presses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.alerts import drafts, render
from bot.alerts.handlers import CLOCK_KEY, SCAN_JOB
from bot.alerts.models import Alert, AlertRecipient, AlertStatus, AlertStep
from bot.alerts.service import AlertConfig
from bot.db import transaction, utcnow
from bot.directory.models import Chat, ChatStatus, Person, Role, Team, TeamKind
from bot.i18n import translator
from tests.factories import Tree, add_to_team, make_person, make_team, make_tree
from tests.fake_telegram import FakeGroup, FakeTelegram, FakeUser
from tests.support import BotRunner


@dataclass
class Town:
    tree: Tree
    patrol: Team
    mediation: Team
    staff: FakeUser
    leaders: dict[int, FakeUser]  # team id → leader
    people: list[FakeUser]  # 30: 15 per team, the first of each the leader
    names: dict[int, str]  # fake user id → name in the directory
    pin_group: FakeGroup  # patrol's group, the bot may pin
    plain_group: FakeGroup  # mediation's group, the bot may not pin
    resident: FakeUser
    other_staff: FakeUser


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


async def _town(bot: BotRunner, fake: FakeTelegram, session_factory) -> Town:
    staff = fake.user("Li", language_code="zh-hans")
    other_staff = fake.user("Zhao", language_code="zh-hans")
    resident = fake.user("Chen", language_code="zh-hans")
    people = [fake.user(f"P{i}", language_code="zh-hans") for i in range(30)]
    for u in [staff, other_staff, resident, *people]:
        u.record.started = True
    pin_group = fake.group("巡逻队群", [staff, *people[:15]])
    plain_group = fake.group("调解队群", [staff, *people[15:]])
    pin_group.record.bot_status = "administrator"
    pin_group.record.bot_rights = {"can_pin_messages": True}
    plain_group.record.bot_status = "member"
    names: dict[int, str] = {}
    async with transaction(session_factory) as session:
        tree = await make_tree(session)
        other = await make_tree(session, community="青石桥社区", parent=tree.street_office)
        patrol = await make_team(session, area=tree.community, name="治安巡逻队")
        mediation = await make_team(session, area=tree.community, name="民事调解队",
                                    kind=TeamKind.MEDIATION)
        await make_person(session, name="李干部", role=Role.STAFF, area=tree.community,
                          telegram_id=staff.id)
        await make_person(session, name="赵干部", role=Role.STAFF, area=other.community,
                          telegram_id=other_staff.id)
        await make_person(session, name="陈阿姨", role=Role.RESIDENT, area=other.building,
                          telegram_id=resident.id)
        leaders = {}
        for i, user in enumerate(people):
            team = patrol if i < 15 else mediation
            name = f"队员{i:02d}"
            person = await make_person(session, name=name, role=Role.MEMBER, area=tree.grid,
                                       telegram_id=user.id)
            names[user.id] = name
            await add_to_team(session, person=person, team=team, leader=i in (0, 15))
            if i in (0, 15):
                leaders[team.id] = user
        session.add(Chat(telegram_chat_id=pin_group.id, type="group", title="巡逻队群",
                         team_id=patrol.id, status=ChatStatus.ACTIVE, can_pin=True))
        session.add(Chat(telegram_chat_id=plain_group.id, type="group", title="调解队群",
                         team_id=mediation.id, status=ChatStatus.ACTIVE, can_pin=False))
    return Town(tree, patrol, mediation, staff, leaders, people, names, pin_group, plain_group,
                resident, other_staff)


async def _dispatcher(bot: BotRunner, session_factory):
    dispatcher = bot.application.bot_data["services"].dispatcher
    assert dispatcher is not None  # post_init starts the Application's own
    return dispatcher


async def _send_alert(town: Town, text: str = "3号楼发现可疑人员，请大家注意门户安全") -> None:
    staff = town.staff
    await staff.send("/alert")
    await staff.press(data=f"al:a:{town.tree.community.id}")
    await staff.press(data="al:ok")
    await staff.send(text)
    await staff.press(data="al:s:e")
    await staff.press(data="al:r:1")
    await staff.press(data="al:go")


async def _alert(session_factory) -> Alert:
    async with session_factory() as session:
        alert = await session.scalar(select(Alert).order_by(Alert.id.desc()))
    assert alert is not None
    return alert


async def _settle(fake: FakeTelegram, dispatcher) -> None:
    await dispatcher.wait_idle()
    await fake.settle()


def _alert_copies(user_or_group) -> list:
    return [m for m in user_or_group.messages
            if m.reply_markup and "ak:" in str(m.reply_markup)]


async def _scan(bot: BotRunner, fake: FakeTelegram, dispatcher) -> None:
    (job,) = bot.application.job_queue.get_jobs_by_name(SCAN_JOB)
    await job.run(bot.application)
    await _settle(fake, dispatcher)


async def test_alert_goes_groups_first_and_counts_each_person_once(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    town = await _town(bot, fake, session_factory)
    dispatcher = await _dispatcher(bot, session_factory)
    clock = Clock()
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    await _send_alert(town)
    await _settle(fake, dispatcher)
    alert = await _alert(session_factory)

    # Delivered: both groups, then the 30 people (not the staff member who sent it).
    sends = [c.params.get("chat_id") for c in fake.calls("sendMessage")
             if "ak:" in str(c.params.get("reply_markup", ""))]
    sends = [int(s) for s in sends]
    # Sends run concurrently (16 on the wire), so arrival order can jitter by a place or
    # two; groups-first puts both groups among the first few of 32, not near the end.
    assert sends.index(town.pin_group.id) < 4 and sends.index(town.plain_group.id) < 4
    assert len(sends) == 32
    assert _alert_copies(town.staff) == []
    assert all(len(_alert_copies(u)) == 1 for u in town.people)
    assert [m.pinned for m in _alert_copies(town.pin_group)] == [True]
    assert [m.pinned for m in _alert_copies(town.plain_group)] == [False]

    # P0 acknowledges in the group and privately; P1 twice privately; P20 in the group.
    p0, p1, p20 = town.people[0], town.people[1], town.people[20]
    await p0.press(data=f"ak:{alert.id}", chat=town.pin_group)
    assert p0.last_callback_answer.text == "已收到，谢谢！🙏"
    await p0.press(data=f"ak:{alert.id}")
    await p1.press(data=f"ak:{alert.id}")
    await p1.press(data=f"ak:{alert.id}")
    assert p1.last_callback_answer.text == "您已经确认过了，谢谢。"
    await p20.press(data=f"ak:{alert.id}", chat=town.plain_group)
    async with session_factory() as session:
        acked = await session.scalar(select(func.count()).where(
            AlertRecipient.alert_id == alert.id, AlertRecipient.acknowledged_at.is_not(None)))
        people = await session.scalar(select(func.count()).where(
            AlertRecipient.alert_id == alert.id))
    assert (acked, people) == (3, 30)

    # The live status message (the staff member's confirm message, edited, at most once a
    # second, so the last edit comes a little later) shows 3 / 30.
    await _scan(bot, fake, dispatcher)
    status = fake.message(town.staff.id, alert.status_message_id)
    await fake.wait_for(lambda: "3 / 30" in status.text and "32 / 32" in status.text)

    # Re-notify after 10 minutes: exactly the 27 who have not acknowledged.
    clock.advance(11)
    await _scan(bot, fake, dispatcher)
    reminded = {u.id for u in [town.staff, *town.people] if len(_alert_copies(u)) == 2}
    expected = {u.id for u in town.people if u not in (p0, p1, p20)}
    assert reminded == expected
    assert len(_alert_copies(town.pin_group)) == 1  # groups are not re-notified

    # Two rounds, then the leaders get the names of their own team's non-acknowledgers.
    clock.advance(11)
    await _scan(bot, fake, dispatcher)
    clock.advance(11)
    await _scan(bot, fake, dispatcher)
    patrol_leader = town.leaders[town.patrol.id]
    mediation_leader = town.leaders[town.mediation.id]
    (note,) = [m for m in patrol_leader.messages if "⏰" in (m.text or "")]
    assert town.names[town.people[5].id] in note.text
    assert town.names[town.people[1].id] not in note.text  # acknowledged
    assert town.names[town.people[20].id] not in note.text  # other team
    (note2,) = [m for m in mediation_leader.messages if "⏰" in (m.text or "")]
    assert town.names[town.people[21].id] in note2.text
    assert town.names[town.people[5].id] not in note2.text
    clock.advance(11)
    await _scan(bot, fake, dispatcher)
    assert len([m for m in patrol_leader.messages if "⏰" in (m.text or "")]) == 1

    # All clear: closes, unpins, tells everyone, stops the chase; acks no longer count.
    await town.staff.press(data=f"am:end:{alert.id}")
    await town.staff.press(data=f"am:endok:{alert.id}")
    await _settle(fake, dispatcher)
    assert town.pin_group.pinned == []
    assert "✅" in town.pin_group.last_message.text
    assert "✅" in town.people[7].last_message.text
    before = len(town.people[7].messages)
    clock.advance(60)
    await _scan(bot, fake, dispatcher)
    assert len(town.people[7].messages) == before
    await town.people[7].press(data=f"ak:{alert.id}", forged=True)
    async with session_factory() as session:
        closed = await session.get(Alert, alert.id)
        late = await session.scalar(select(AlertRecipient.acknowledged_at).join(
            Person, Person.id == AlertRecipient.person_id).where(
            AlertRecipient.alert_id == alert.id, Person.telegram_id == town.people[7].id))
    assert closed.status is AlertStatus.CLOSED and late is None


async def test_restart_between_alert_and_renotify_still_renotifies(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    town = await _town(bot, fake, session_factory)
    dispatcher = await _dispatcher(bot, session_factory)
    clock = Clock()
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    await _send_alert(town)
    await _settle(fake, dispatcher)
    await town.people[3].press(data=f"ak:{(await _alert(session_factory)).id}")
    if bot.application.post_stop is None:  # a dispatcher this test started: stop it too
        await dispatcher.stop()
    await bot.restart()
    dispatcher = await _dispatcher(bot, session_factory)
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    clock.advance(9)
    await _scan(bot, fake, dispatcher)
    assert len(_alert_copies(town.people[4])) == 1  # not yet
    clock.advance(2)
    await _scan(bot, fake, dispatcher)
    assert len(_alert_copies(town.people[4])) == 2
    assert len(_alert_copies(town.people[3])) == 1  # acknowledged before the restart


async def test_resident_and_other_community_staff_cannot_alert(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    town = await _town(bot, fake, session_factory)
    dispatcher = await _dispatcher(bot, session_factory)
    await town.resident.send("/alert")
    assert "只有" in town.resident.last_message.text or "only" in town.resident.last_message.text
    # Zhao (staff next door) sees only his own community; a forged choice of ours is ignored,
    # and a forged all-clear or send changes nothing.
    await town.other_staff.send("/alert")
    await town.other_staff.press(data=f"al:a:{town.tree.community.id}", forged=True)
    await town.other_staff.press(data="al:ok", forged=True)
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 0
    await _send_alert(town)
    await _settle(fake, dispatcher)
    alert = await _alert(session_factory)
    await town.other_staff.press(data=f"am:endok:{alert.id}", forged=True)
    assert "不" in (town.other_staff.last_callback_answer.text or "")
    await town.other_staff.press(data=f"ak:{alert.id}", forged=True)  # not addressed to him
    await town.other_staff.press(data="ak:999999", forged=True)  # unknown alert
    await town.other_staff.press(data="ak:x", forged=True)  # not even a number
    async with session_factory() as session:
        alert = await session.get(Alert, alert.id)
        acked = await session.scalar(select(func.count()).where(
            AlertRecipient.acknowledged_at.is_not(None)))
        residents = await session.scalar(select(func.count()).select_from(AlertRecipient).join(
            Person, Person.id == AlertRecipient.person_id).where(
            Person.telegram_id.in_([town.resident.id, town.other_staff.id])))
    assert alert.status is AlertStatus.OPEN and acked == 0 and residents == 0
    assert town.pin_group.pinned != []


async def test_an_alert_too_long_for_its_heading_is_refused_while_typing(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    town = await _town(bot, fake, session_factory)
    dispatcher = await _dispatcher(bot, session_factory)
    clock = Clock()
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    _ = translator("zh-CN")
    limit = render.text_limit(_, photo=False, renotify_max=AlertConfig().renotify_max)
    caption_limit = render.text_limit(_, photo=True, renotify_max=AlertConfig().renotify_max)
    assert 3800 < limit < 4000 and 800 < caption_limit < 1000
    staff = town.staff
    await staff.send("/alert")
    await staff.press(data=f"al:a:{town.tree.community.id}")
    await staff.press(data="al:ok")

    # Told at once how long it may be and how long theirs is; nothing is kept.
    replies = await staff.send("注" * 4000)
    assert [m.text for m in replies] == [
        f"通知最多只能写 {limit} 个字，您写了 4000 个字。请改短一些再发一次。"]
    replies = await staff.send_photo(caption="注" * 1000)
    assert [m.text for m in replies] == [
        f"带照片的通知，文字最多 {caption_limit} 个字，您写了 1000 个字。"
        "请给照片配上短一些的文字，再发一次。"]
    async with session_factory() as session:
        draft = await drafts.load_draft(session, telegram_id=staff.id)
    assert draft is not None and draft.step is AlertStep.AWAITING_TEXT
    assert draft.text is None and draft.photo is None

    # Exactly as long as allowed: the preview, every copy and a reminder all fit.
    text = "注" * limit
    replies = await staff.send(text)
    assert [m.text for m in replies] == ["情况有多紧急？"]
    await staff.press(data="al:s:e")
    await staff.press(data="al:r:1")
    assert text in staff.last_message.text and staff.last_message.buttons
    await staff.press(data="al:go")
    await _settle(fake, dispatcher)
    alert = await _alert(session_factory)
    assert alert.text == text
    assert all(text in _alert_copies(u)[0].text for u in town.people)
    clock.advance(11)
    await _scan(bot, fake, dispatcher)
    assert all(len(_alert_copies(u)) == 2 for u in town.people)
    assert [r.description for r in fake.requests if r.status == 400] == []
