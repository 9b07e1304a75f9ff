"""/broadcast → "🕒 Schedule": the composer's draft continues in the schedules feature's
trigger steps, is saved as a Schedule, and the runner sends it to the same audience.

Over the fake Bot API server; the runner is driven with an explicit `now`.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit.models import AuditEntry
from bot.db import utcnow
from bot.schedules import service
from bot.schedules.jobs import runner_of
from bot.schedules.models import Schedule
from tests.fake_telegram import FakeGroup, FakeTelegram, FakeUser
from tests.support import BotRunner
from tests.test_broadcasting_flow import REFUSALS, World, forge, make_world, noon, set_clock

Factory = async_sessionmaker[AsyncSession]
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOTICE = "明早八点在活动室开会，请巡逻队准时参加。"


async def compose_notice_for_team(world: World) -> str:
    """The staff member writes a notice for the team, up to the preview; the draft's tag."""
    staff = world.staff
    await staff.send("/broadcast")
    tag = staff.last_message.button_data[0][0].split(":")[1]
    await staff.press("📢 社区通知")
    await staff.press("▫️ 治安巡逻队 · 龙江路社区")
    await staff.press("下一步 ▶")
    await staff.send(NOTICE)
    assert staff.last_message.button("🕒 定时发送") is not None
    return tag


async def schedules(factory: Factory) -> list[Schedule]:
    async with factory() as session:
        return list(await session.scalars(select(Schedule).order_by(Schedule.id)))


async def test_staff_schedules_a_notice_daily_and_the_runner_sends_it_to_the_team(
    fake: FakeTelegram, bot: BotRunner, session_factory: Factory,
) -> None:
    world = await make_world(fake, bot, session_factory)
    set_clock(bot, noon())
    staff = world.staff
    tag = await compose_notice_for_team(world)

    await staff.press("🕒 定时发送")
    assert staff.last_message.text == "什么时候发？"
    for choice in ("只发一次", "每天", "每周", "每月", "cron 表达式（高级）"):
        assert staff.last_message.button(choice) is not None, choice
    await staff.press("每天")
    assert staff.last_message.text == "几点发？例如 08:30。"
    await staff.send("8点")  # not a time: asked again, kindly
    assert staff.last_message.text == "请按这样的格式发时间：08:30。"
    [reply] = await staff.send("08:00")
    assert reply.text.startswith("已定好时间！")
    assert "发给：2 人和 1 个群" in reply.text
    assert "每天 08:00" in reply.text
    next_line = next(line for line in reply.text.splitlines() if line.startswith("下次："))
    assert next_line.count("08:00") == 3  # the next three fires, in Shanghai time

    [schedule] = await schedules(session_factory)
    assert schedule.kind == "notice"
    assert schedule.trigger == {"kind": "daily", "at": "08:00", "on": None, "weekdays": [],
                                "day": None, "cron": None}
    assert schedule.timezone == "Asia/Shanghai"
    assert schedule.audience["team_ids"] == [world.cast.team.id]
    assert schedule.audience["include_linked_chats_of_teams"] is True
    assert schedule.content == {"type": "text", "text": NOTICE, "photo": None}
    assert schedule.author_id == world.cast.staff.id
    assert schedule.area_id == world.cast.tree.community.id
    async with session_factory() as session:
        audited = await session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "schedule.create", AuditEntry.object_id == schedule.id))
        view = await service.view_of(session, schedule, now=utcnow())
    assert audited == 1
    assert [f"{f.astimezone(SHANGHAI):%H:%M}" for f in view.next_fires] == ["08:00"] * 3

    # The old preview's buttons are spent: a press on them now is politely refused.
    await forge(staff, f"bc:{tag}:go")
    assert staff.last_callback_answer.text.startswith("这个按钮已经失效")
    await forge(staff, f"bc:{tag}:sch")
    assert staff.last_callback_answer.text.startswith("这个按钮已经失效")
    assert len(await schedules(session_factory)) == 1

    # At the first fire the runner sends the notice to the team's people and its group.
    assert bot.application is not None
    runner = runner_of(bot.application)
    assert runner is not None
    [outcome] = await runner.tick(now=view.next_fires[0] + timedelta(seconds=30))
    assert outcome.schedule_id == schedule.id and outcome.broadcast_id is not None

    def got(chat: FakeUser | FakeGroup, text: str) -> bool:
        return any(m.content == text for m in chat.messages)

    await fake.wait_for(lambda: got(world.leader, f"📢 社区通知\n\n{NOTICE}")
                        and got(world.group, f"📢 社区通知\n\n{NOTICE}")
                        and got(world.member, f"📢 社區通知\n\n{NOTICE}"))
    await fake.settle()
    assert not world.resident.messages and not world.outsider.messages
    # The same fire again sends nothing more.
    assert await runner.tick(now=view.next_fires[0] + timedelta(seconds=50)) == []


async def test_a_members_forged_schedule_press_is_refused_and_cancel_saves_nothing(
    fake: FakeTelegram, bot: BotRunner, session_factory: Factory,
) -> None:
    world = await make_world(fake, bot, session_factory)
    set_clock(bot, noon())
    tag = await compose_notice_for_team(world)
    # A member (and the team's leader) press the staff member's Schedule button: refused.
    for person in (world.member, world.leader, world.resident):
        await forge(person, f"bc:{tag}:sch")
        answer = person.last_callback_answer
        assert answer is not None and answer.show_alert and answer.text in REFUSALS
    # Another community's staff cannot use this draft either.
    await forge(world.other_staff, f"bc:{tag}:sch")
    assert world.other_staff.last_callback_answer.text.startswith("这个按钮已经失效")
    assert await schedules(session_factory) == []

    # The staff member goes to the trigger steps and changes their mind.
    await world.staff.press("🕒 定时发送")
    await world.staff.press("每周")
    await world.staff.press("取消")
    assert world.staff.last_message.text == "好的，什么也没有发。"
    await world.staff.send("09:00")  # no longer in any step: nothing is saved
    assert await schedules(session_factory) == []
    # A forged trigger press after that is stale, for staff too.
    await forge(world.staff, "scn:k:daily")
    assert "失效" in world.staff.last_callback_answer.text


async def test_a_library_tip_is_scheduled_once_with_its_category(
    fake: FakeTelegram, bot: BotRunner, session_factory: Factory,
) -> None:
    world = await make_world(fake, bot, session_factory)
    set_clock(bot, noon())
    staff = world.staff
    await staff.send("/broadcast")
    await staff.press("💡 温馨提示")
    await staff.press("区域")
    await staff.press("▫️ 3网格")
    await staff.press("下一步 ▶")
    await staff.press("📚 从提示库取下一条")
    await staff.press("防盗窃")
    await staff.press("🕒 定时发送")
    await staff.press("只发一次")
    day = (utcnow() + timedelta(days=3)).astimezone(SHANGHAI).date()
    [reply] = await staff.send(f"{day.isoformat()} 09:30")
    assert reply.text.startswith("已定好时间！")
    assert f"{day.month}/{day.day}" in reply.text or f"{day.month}月{day.day}日" in reply.text
    [schedule] = await schedules(session_factory)
    assert schedule.kind == "safety_tip"
    assert schedule.content == {"type": "tip", "categories": ["anti_theft"]}
    assert schedule.trigger["kind"] == "once" and schedule.trigger["on"] == day.isoformat()
    assert schedule.audience["area_ids"] == [world.cast.tree.grid.id]
