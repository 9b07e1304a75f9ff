"""Schedules end to end: the real Application against the fake Bot API server.

Ticks are driven with an explicit `now` (`runner.tick(now=...)`) instead of sleeping; the
restart test uses the start-up catch-up, with fire times placed around the real clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import transaction, utcnow
from bot.directory.audience import AudienceSpec
from bot.directory.models import Person
from bot.schedules import service
from bot.schedules.jobs import runner_of
from bot.schedules.models import Schedule
from bot.schedules.triggers import TriggerKind, TriggerSpec
from broadcasts.models import Broadcast
from tests.factories import Cast, actor_for, make_cast
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.support import BotRunner

Factory = async_sessionmaker[AsyncSession]
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Scene:
    cast: Cast
    staff: FakeUser
    member: FakeUser
    resident: FakeUser
    tw_leader: FakeUser
    other_staff: FakeUser


@pytest.fixture
async def scene(fake: FakeTelegram, session_factory: Factory) -> Scene:
    staff, member, resident = fake.user("李干部"), fake.user("张队员", "en"), fake.user("陈阿姨")
    tw_leader, other_staff = fake.user("王队长", "zh-hant"), fake.user("赵干部")
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        for person, user in ((cast.staff, staff), (cast.member, member),
                             (cast.resident, resident), (cast.leader, tw_leader),
                             (cast.other_staff, other_staff)):
            person.telegram_id = user.id
        (await session.get_one(Person, cast.member.id)).language = "en"
        (await session.get_one(Person, cast.leader.id)).language = "zh-TW"
    for user in (staff, member, resident, tw_leader, other_staff):
        await user.send("/start")  # open the private chat, as people do
    return Scene(cast, staff, member, resident, tw_leader, other_staff)


async def make_schedule(factory: Factory, scene: Scene, *, trigger: TriggerSpec, now: datetime,
                        content: dict | None = None, grace: timedelta = timedelta(hours=2),
                        area_id: int | None = None) -> int:
    async with transaction(factory) as session:
        actor = await actor_for(session, scene.cast.staff)
        schedule = await service.create_schedule(
            session, actor=actor, author_id=scene.cast.staff.id, now=now,
            new=service.NewSchedule(
                name="防诈骗", trigger=trigger, grace=grace, timezone="Asia/Shanghai",
                audience=AudienceSpec(area_ids={area_id or scene.cast.tree.community.id}),
                content=content or service.tip_content(["anti_fraud"])))
        return schedule.id


def received_after(user: FakeUser, count: int) -> list[str]:
    return [m.text or m.caption or "" for m in user.messages[count:]]


async def test_a_scheduled_tip_reaches_each_chat_in_its_language(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    # 10:00 in Shanghai (outside quiet hours) on a day after the real clock, so the
    # background tick (driven by the real clock) never sees this fire.
    day = (utcnow() + timedelta(days=2)).astimezone(SHANGHAI).date()
    created = datetime.combine(day, time(9, 0), SHANGHAI).astimezone(UTC)
    sid = await make_schedule(session_factory, scene, now=created,
                              trigger=TriggerSpec(TriggerKind.DAILY, at=time(10, 0)))
    before = {u.id: len(u.messages) for u in (scene.staff, scene.member, scene.resident,
                                              scene.tw_leader, scene.other_staff)}
    assert bot.application is not None
    runner = runner_of(bot.application)
    assert runner is not None
    fire_now = datetime.combine(day, time(10, 0, 30), SHANGHAI)
    [outcome] = await runner.tick(now=fire_now)
    await fake.wait_for(lambda: all(len(u.messages) > before[u.id] for u in (
        scene.staff, scene.member, scene.resident, scene.tw_leader)), timeout=10)
    await fake.settle()
    zh_cn = received_after(scene.resident, before[scene.resident.id])
    en = received_after(scene.member, before[scene.member.id])
    zh_tw = received_after(scene.tw_leader, before[scene.tw_leader.id])
    assert len(zh_cn) == len(en) == len(zh_tw) == 1
    assert zh_cn[0].startswith("⚠️ 防诈骗提醒") or "诈骗" in zh_cn[0]
    assert en[0].startswith("⚠️ Anti-fraud alert")
    assert "詐騙" in zh_tw[0]
    assert received_after(scene.staff, before[scene.staff.id]) == zh_cn
    # The neighbouring community's staff is not in the audience.
    assert received_after(scene.other_staff, before[scene.other_staff.id]) == []
    # A second tick for the same time sends nothing more.
    assert await runner.tick(now=fire_now + timedelta(seconds=20)) == []
    async with session_factory() as session:
        schedule = await session.get_one(Schedule, sid)
        assert schedule.last_fire_at == outcome.fire_at


async def test_a_restart_rebuilds_schedules_sends_a_missed_fire_and_skips_an_old_one(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two schedules whose daily fire passed while the bot was down: 20 minutes ago
    (within its 2-hour grace: sent at start) and 3 hours ago (beyond grace: skipped)."""
    await bot.stop()
    now = utcnow()
    recent = (now - timedelta(minutes=20)).astimezone(SHANGHAI)
    old = (now - timedelta(hours=3)).astimezone(SHANGHAI)
    since = now - timedelta(hours=6)
    text = service.text_content("今晚社区停水，请提前储水。")
    recent_id = await make_schedule(session_factory, scene, now=since, content=text,
                                    trigger=TriggerSpec(TriggerKind.DAILY,
                                                        at=recent.time().replace(second=0,
                                                                                 microsecond=0)))
    old_id = await make_schedule(session_factory, scene, now=since, content=text,
                                 trigger=TriggerSpec(TriggerKind.DAILY,
                                                     at=old.time().replace(second=0,
                                                                           microsecond=0)))
    async with transaction(session_factory) as session:
        await _no_quiet_hours(session, scene)
    caplog.set_level(logging.INFO, logger="bot.schedules.runner")
    count = len(scene.resident.messages)
    await bot.start()  # the start-up catch-up runs a second after start
    await fake.wait_for(lambda: len(scene.resident.messages) > count, timeout=15)
    await fake.settle()
    assert received_after(scene.resident, count) == ["📢 社区通知\n\n今晚社区停水，请提前储水。"]
    async with session_factory() as session:
        fires = {b.schedule_key: b.fire_at for b in await session.scalars(select(Broadcast))}
    assert set(fires) == {f"schedule:{recent_id}"}
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert [r.schedule_id for r in skipped] == [old_id]  # type: ignore[attr-defined]
    # And another restart sends nothing twice.
    await bot.restart()
    await fake.settle(quiet=1.5)
    assert len(scene.resident.messages) == count + 1


async def _no_quiet_hours(session: AsyncSession, scene: Scene) -> None:
    """The restart test runs at any hour of the day: switch the community's quiet hours off."""
    from bot.broadcasting.service import QuietHours, set_quiet_hours

    await set_quiet_hours(session, community_id=scene.cast.tree.community.id,
                          quiet=QuietHours(time(0, 0), time(0, 0)), actor_id=None)


async def test_staff_list_pause_and_delete_and_others_are_refused(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    now = utcnow()
    sid = await make_schedule(session_factory, scene, now=now,
                              trigger=TriggerSpec(TriggerKind.DAILY, at=time(9, 0)))
    # Residents, members and strangers cannot reach /schedules or its buttons.
    for user in (scene.resident, scene.member):
        replies = await user.send("/schedules")
        assert [r.text for r in replies] == ["抱歉，只有社区干部可以管理定时消息。"] or \
            [r.text for r in replies] == [
                "Sorry, only community staff can manage scheduled messages."]
    for data in (f"sch:p:{sid}", f"sch:D:{sid}", f"sch:t:{sid}", "scn:s", "cmp:n:national_day"):
        await scene.resident.press(data=data, forged=True)
        answer = scene.resident.last_callback_answer
        assert answer is not None and answer.show_alert
        assert answer.text == "抱歉，只有社区干部可以管理定时消息。"
    # Staff of the other community do not see it and cannot press its buttons.
    replies = await scene.other_staff.send("/schedules")
    assert "防诈骗" not in replies[0].text
    await scene.other_staff.press(data=f"sch:D:{sid}", forged=True)
    assert scene.other_staff.last_callback_answer.text == "这个按钮已经失效了。" or \
        "失效" in scene.other_staff.last_callback_answer.text
    async with session_factory() as session:
        schedule = await session.get_one(Schedule, sid)
        assert not schedule.paused and not schedule.deleted

    replies = await scene.staff.send("/schedules")
    listing = replies[0].text
    assert f"#{sid} 防诈骗 · 每天 09:00" in listing and listing.count("09:00") == 4
    await scene.staff.press(f"#{sid} 防诈骗")
    await scene.staff.press("⏸ 暂停")
    assert "⏸ 已暂停" in scene.staff.last_message.text
    async with session_factory() as session:
        assert (await session.get_one(Schedule, sid)).paused
    await scene.staff.press("▶ 恢复")
    await scene.staff.press("🗑 删除")
    await scene.staff.press("确定删除")
    assert scene.staff.last_message.text == f"已删除：#{sid} 防诈骗。"
    async with session_factory() as session:
        assert (await session.get_one(Schedule, sid)).deleted


async def test_staff_compose_a_weekly_schedule_and_a_bad_cron_is_explained(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    await scene.staff.send("/schedule")
    await scene.staff.press("cron 表达式（高级）")
    replies = await scene.staff.send("0 25 * * *")
    assert "这个 cron 表达式不对" in replies[0].text
    replies = await scene.staff.send("*/10 * * * *")
    assert "太频繁" in replies[0].text
    await scene.staff.send("/cancel")

    await scene.staff.send("/schedule")
    await scene.staff.press("每周")
    await scene.staff.press("周一")
    await scene.staff.press("周五")
    await scene.staff.press("完成")
    await scene.staff.send("8:30")
    await scene.staff.press("队伍：治安巡逻队")
    await scene.staff.press("下一条防诈骗提示")
    summary = scene.staff.last_message.text
    assert "每周周一、周五 08:30" in summary and "下次：" in summary
    await scene.staff.press("✅ 保存")
    async with session_factory() as session:
        [schedule] = list(await session.scalars(select(Schedule)))
    assert schedule.trigger == {"kind": "weekly", "at": "08:30", "on": None, "weekdays": [0, 4],
                                "day": None, "cron": None}
    assert schedule.audience["team_ids"] == [scene.cast.team.id]
    assert schedule.content == {"type": "tip", "categories": ["anti_fraud"]}
    assert schedule.area_id == scene.cast.tree.community.id


async def test_staff_start_a_campaign_from_today_and_end_it_early(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    await scene.staff.send("/campaigns")
    await scene.staff.press("开始：国庆")
    await scene.staff.press("从今天起 7 天")
    assert scene.staff.last_message.text.startswith("已开始！")
    async with session_factory() as session:
        [schedule] = list(await session.scalars(select(Schedule)))
    assert schedule.campaign_id is not None and schedule.content["categories"] == [
        "anti_theft", "anti_fraud"]
    await scene.staff.send("/campaigns")
    await scene.staff.press("提前结束：国庆")
    await scene.staff.press("确定现在结束")
    assert scene.staff.last_message.text == "已结束：国庆。"
    async with session_factory() as session:
        schedule = await session.get_one(Schedule, schedule.id)
        view = await service.view_of(session, schedule, now=utcnow())
    assert view.next_fires == []
