"""Tip-offs end to end, after the report is sent: the reporter adds to it from /mytips,
the claimer is reminded of an unresolved report, staff set where reports go with /routing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.db import transaction, utcnow
from bot.directory.models import Chat, ChatStatus, Role
from bot.tipoffs.handlers import SCAN_JOB
from bot.tipoffs.intake import CLOCK_KEY
from bot.tipoffs.models import (
    ReporterBlock,
    RoutingRule,
    TipOff,
    TipOffDraft,
    TipOffEvent,
    TipOffPhoto,
    TipOffStatus,
)
from broadcasts import Broadcast
from tests.factories import add_to_team, make_person, make_team, make_tree
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.support import BotRunner
from tests.tipoff_support import card_in, patrol_scene, report


class Clock:
    """The tip-off timers' clock, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def _the_tipoff(session_factory) -> TipOff:
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff).order_by(TipOff.id.desc()))
    assert tipoff is not None
    return tipoff


async def _events(session_factory, tipoff_id: int) -> list[str]:
    async with session_factory() as session:
        return [e.kind.value for e in await session.scalars(
            select(TipOffEvent).where(TipOffEvent.tipoff_id == tipoff_id)
            .order_by(TipOffEvent.id))]


def _everything_sent_to(fake: FakeTelegram, chat_ids: list[int]) -> list[str]:
    out: list[str] = []
    for chat_id in chat_ids:
        for m in fake.messages_to(chat_id, include_deleted=True):
            out.append(f"{m.text} {m.caption} {m.reply_markup} {m.raw_text}")
            out.extend(str(e) for e in m.edits)
    return out


def _names(texts: list[str], who: FakeUser, *extra: str) -> list[str]:
    marks = [who.first_name, str(who.id), *extra]
    return [t for t in texts if any(mark in t for mark in marks)]


# -- 1. the reporter adds to an open report ---------------------------------------------
async def test_reporter_adds_a_comment_and_a_photo_and_a_closed_report_is_refused_kindly(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    group = scene.group
    alice = fake.user("Alice", language_code="zh-hans", username="alice_on_3rd_floor")
    await report(alice, anonymous=True, album=0)
    await fake.wait_for(lambda: card_in(group.messages) is not None)
    tipoff = await _the_tipoff(session_factory)
    ref = tipoff.reference

    # A comment, from the button under /mytips.
    await alice.send("/mytips")
    assert ref in alice.last_message.text and "待接手处理" in alice.last_message.text
    await alice.press(text=f"➕ 补充 {ref}")
    assert f"请发送要补充给 {ref} 的文字、照片或语音" in alice.last_message.text
    await alice.send("那个人穿蓝色外套，骑一辆黑色电动车")
    assert "已经转给处理的队伍了" in alice.last_message.text
    await fake.wait_for(lambda: any("黑色电动车" in (m.text or "") for m in group.messages))
    comment = next(m for m in group.messages if "黑色电动车" in (m.text or ""))
    assert f"反映人对线索 {ref} 的补充" in comment.text

    # A photo with a caption.
    await alice.send("/mytips")
    await alice.press(text=f"➕ 补充 {ref}")
    await alice.send_photo(caption="车就停在这里")
    assert "已经转给处理的队伍了" in alice.last_message.text
    await fake.wait_for(lambda: any(m.photo for m in group.messages))
    (photo,) = [m for m in group.messages if m.photo]
    assert f"反映人给线索 {ref} 补充了一张照片" in photo.caption and "车就停在这里" in photo.caption

    # Both went through the outbox (a broadcast each), and the report's history has them.
    async with session_factory() as session:
        kinds = list(await session.scalars(select(Broadcast.kind).order_by(Broadcast.id)))
        photos = (await session.scalars(select(TipOffPhoto))).all()
    assert kinds.count("tipoff_addition") == 2
    assert len(photos) == 1 and photos[0].tipoff_id == tipoff.id
    assert await _events(session_factory, tipoff.id) == [
        "created", "routed", "comment", "photo_added", "comment"]

    # Alice starts another addition, but the team closes the report before she sends it.
    await alice.send("/mytips")
    await alice.press(text=f"➕ 补充 {ref}")
    await scene.member.press(text="🚓 转派出所", chat=group)
    assert (await _the_tipoff(session_factory)).status is TipOffStatus.REFERRED
    await alice.send("还有一个同伙")
    assert f"{ref} 已经处理完了，不能再补充" in alice.last_message.text
    assert "/report" in alice.last_message.text
    # /mytips no longer offers it; an old "add" button is answered kindly, nothing is added.
    await alice.send("/mytips")
    assert alice.last_message.button(text=f"➕ 补充 {ref}") is None
    replies = await alice.press(data=f"tr:add:{tipoff.id}", forged=True)
    assert any(f"{ref} 已经处理完了" in (m.text or "") for m in replies)
    await fake.settle()
    assert not any("同伙" in (m.text or "") for m in group.messages)
    assert (await _events(session_factory, tipoff.id)).count("comment") == 2

    # Someone else's report cannot be added to, even with forged data.
    mallory = fake.user("Mallory", language_code="zh-hans")
    await mallory.send("/report")  # any message with buttons to forge a press on
    await mallory.press(data=f"tr:add:{tipoff.id}", forged=True)
    assert "失效" in (mallory.last_callback_answer.text or "")

    # Nothing the team saw names Alice.
    team_side = [group.id, scene.leader.id, scene.member.id, scene.cadre.id]
    seen = _everything_sent_to(fake, team_side)
    assert len(seen) >= 4
    assert _names(seen, alice, "alice_on_3rd_floor") == []


# -- 2. the reminder to the claimer -----------------------------------------------------
async def test_the_claimer_is_reminded_once_after_a_day_even_across_a_restart(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    clock = Clock()
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    scene = await patrol_scene(fake, session_factory)
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=True, album=0)
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)
    await scene.member.press(text="✋ 认领", chat=scene.group)
    tipoff = await _the_tipoff(session_factory)
    assert tipoff.status is TipOffStatus.CLAIMED and tipoff.claimed_at == clock.now

    def reminders(user: FakeUser) -> list:
        return [m for m in user.messages if "⏰ 提醒" in (m.text or "")]

    await bot.restart()
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    (job,) = bot.application.job_queue.get_jobs_by_name(SCAN_JOB)
    clock.advance(hours=23, minutes=59)
    await job.run(bot.application)
    await fake.settle(quiet=0.5)
    assert reminders(scene.member) == []  # not due yet

    clock.advance(minutes=2)
    await job.run(bot.application)
    await job.run(bot.application)  # a second scan finds it already reminded
    await fake.wait_for(lambda: reminders(scene.member) != [])
    await fake.settle(quiet=0.5)
    (reminder,) = reminders(scene.member)
    assert tipoff.reference in reminder.text and "还没办结" in reminder.text
    # Only the claimer is reminded: not the leader, not the team's group, not the reporter.
    assert reminders(scene.leader) == [] and reminders(alice) == []
    assert not any("⏰" in (m.text or "") for m in scene.group.messages)
    tipoff = await _the_tipoff(session_factory)
    assert tipoff.reminded_at == clock.now
    assert (await _events(session_factory, tipoff.id)).count("reminded") == 1

    # Another restart, a day later: still the one reminder.
    await bot.restart()
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    clock.advance(days=1)
    (job,) = bot.application.job_queue.get_jobs_by_name(SCAN_JOB)
    await job.run(bot.application)
    await fake.settle(quiet=0.5)
    assert len(reminders(scene.member)) == 1


# -- 3. /routing ----------------------------------------------------------------------
async def test_staff_route_theft_in_a_grid_to_the_night_patrol_and_outsiders_cannot(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    town = scene.town
    staff = fake.user("Staff", language_code="zh-hans")
    outsider_staff = fake.user("Zhao", language_code="zh-hans")
    night_leader = fake.user("Night", language_code="zh-hans")
    night_leader.record.started = True
    night_group = fake.group("夜巡队群", [night_leader])
    night_group.record.bot_status = "member"
    alice = fake.user("Alice", language_code="zh-hans")
    async with transaction(session_factory) as session:
        night = await make_team(session, area=town.community, name="夜巡队")
        person = await make_person(session, name="周夜巡", role=Role.MEMBER,
                                   area=town.community, telegram_id=night_leader.id)
        await add_to_team(session, person=person, team=night, leader=True)
        session.add(Chat(telegram_chat_id=night_group.id, type="group", title="夜巡队群",
                         team_id=night.id, status=ChatStatus.ACTIVE))
        await make_person(session, name="社区干部", role=Role.STAFF, area=town.community,
                          telegram_id=staff.id)
        elsewhere = await make_tree(session, community="青石桥社区")
        await make_person(session, name="赵干部", role=Role.STAFF, area=elsewhere.community,
                          telegram_id=outsider_staff.id)
        await make_person(session, name="Alice", area=town.building, telegram_id=alice.id)
        night_id = night.id

    # A team member is not staff: /routing and a forged "save" press are both refused.
    await scene.leader.send("/routing")
    assert "只有社区干部可以修改线索的分派" in scene.leader.last_message.text
    await scene.leader.send("/report")  # any message with buttons to forge a press on
    await scene.leader.press(data=f"tq:team:theft:{town.grid.id}:{night_id}", forged=True)
    await scene.leader.send("/cancel")
    assert "只有社区干部" in (scene.leader.last_callback_answer.text or "")
    # Staff of another community cannot set a rule for this grid either.
    await outsider_staff.send("/routing")
    await outsider_staff.press(data=f"tq:team:theft:{town.grid.id}:{night_id}", forged=True)
    assert "失效" in (outsider_staff.last_callback_answer.text or "")
    async with session_factory() as session:
        assert await session.scalar(select(func.count(RoutingRule.id))) == 0

    # The community's staff member: category → place → team.
    await staff.send("/routing")
    assert "还没有特别规则" in staff.last_message.text
    await staff.press(text="👜 偷盗")
    assert "哪个地方" in staff.last_message.text
    assert staff.last_message.button(text="青石桥社区") is None  # not their community
    await staff.press(text=town.grid.name)
    assert "交给哪个队伍" in staff.last_message.text
    await staff.press(text="夜巡队")
    assert "已保存：👜 偷盗 → 夜巡队" in staff.last_message.text
    async with session_factory() as session:
        (rule,) = (await session.scalars(select(RoutingRule))).all()
    assert (rule.category, rule.area_id, rule.team_id) == ("theft", town.grid.id, night_id)
    await staff.send("/routing")
    assert f"偷盗 · {town.grid.name} → 夜巡队" in staff.last_message.text

    # A theft in a building of that grid goes to the night patrol, not the usual patrol.
    await report(alice, anonymous=True, album=0, category="👜 偷盗", text="电动车电瓶被偷了",
                 place=town.building.name)
    await fake.wait_for(lambda: card_in(night_group.messages) is not None)
    tipoff = await _the_tipoff(session_factory)
    assert tipoff.team_id == night_id and tipoff.area_id == town.building.id
    # A theft with no place in that grid still goes to the usual patrol.
    bob = fake.user("Bob", language_code="zh-hans")
    await report(bob, anonymous=True, album=0, category="👜 偷盗", text="自行车被偷了")
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)
    assert (await _the_tipoff(session_factory)).team_id == town.patrol.id
    assert len([m for m in night_group.messages if (m.text or "").startswith("🔔")]) == 1


async def test_a_blocked_reporter_cannot_add_to_an_open_report(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=True, album=0)
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)
    tipoff = await _the_tipoff(session_factory)
    await alice.send("/mytips")  # the "add" button is on screen when staff block her
    async with transaction(session_factory) as session:
        session.add(ReporterBlock(person_id=tipoff.reporter_id, reason="spam"))

    await alice.press(text=f"➕ 补充 {tipoff.reference}")

    assert "暂时不能反映情况" in alice.last_callback_answer.text
    async with session_factory() as session:
        drafts = await session.scalar(select(func.count()).select_from(TipOffDraft))
    assert drafts == 0
    assert await _events(session_factory, tipoff.id) == ["created", "routed"]
