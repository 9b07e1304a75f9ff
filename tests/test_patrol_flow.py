"""Patrol duty end to end over the fake server: the reminder, the post's QR deep link, a
pin inside and outside the radius, a missed sign-in chased across a restart to the leader
who marks it covered, the evening all-clear and the cadres' summary, a campaign's extra
shift, and refusals of a resident and another community's leader."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.db import transaction
from bot.directory.models import Chat, ChatStatus, Person, Role, Team, TeamKind
from bot.patrol import service
from bot.patrol.common import CLOCK_KEY
from bot.patrol.handlers import SCAN_JOB
from bot.patrol.models import (
    DayAnswer,
    PatrolDayReport,
    PatrolDuty,
    PatrolPost,
    PatrolShift,
    PatrolTimes,
)
from bot.tipoffs.models import TipOff
from tests.factories import Tree, add_to_team, make_person, make_team, make_tree
from tests.fake_telegram import FakeGroup, FakeTelegram, FakeUser
from tests.support import BotRunner

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 3, 2)


def at(hour: int, minute: int = 0, day: date = MONDAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ).astimezone(UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Patrol:
    tree: Tree
    team: Team
    post: PatrolPost
    shift: PatrolShift
    staff: FakeUser
    leader: FakeUser
    zhang: FakeUser  # on the 20:00–22:00 shift
    li: FakeUser  # on the same shift
    resident: FakeUser
    other_leader: FakeUser  # leads the patrol team of the community next door
    cadres_group: FakeGroup
    ids: dict[int, int]  # fake user id → person id


async def _patrol(bot: BotRunner, fake: FakeTelegram, session_factory, clock: Clock) -> Patrol:
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    users = {name: fake.user(name, language_code="zh-hans")
             for name in ("Staff", "Leader", "Zhang", "Li", "Resident", "Other")}
    for user in users.values():
        user.record.started = True
    cadres_group = fake.group("社区干部群", [users["Staff"]])
    cadres_group.record.bot_status = "member"
    ids: dict[int, int] = {}
    async with transaction(session_factory) as session:
        tree = await make_tree(session)
        other = await make_tree(session, community="青石桥社区", parent=tree.street_office)
        team = await make_team(session, area=tree.community, name="红袖标巡逻队")
        other_team = await make_team(session, area=other.community, name="青石桥巡逻队")
        cadres = await make_team(session, area=tree.community, name="社区干部",
                                 kind=TeamKind.CADRES)
        session.add(Chat(telegram_chat_id=cadres_group.id, type="group", title="社区干部群",
                         team_id=cadres.id, status=ChatStatus.ACTIVE))
        people = {
            "Staff": ("李干部", Role.STAFF, None, False),
            "Leader": ("王队长", Role.MEMBER, team, True),
            "Zhang": ("张队员", Role.MEMBER, team, False),
            "Li": ("李队员", Role.MEMBER, team, False),
            "Resident": ("陈阿姨", Role.RESIDENT, None, False),
            "Other": ("赵队长", Role.MEMBER, other_team, True),
        }
        for key, (name, role, in_team, leads) in people.items():
            person = await make_person(session, name=name, role=role,
                                       area=other.community if key == "Other" else tree.community,
                                       telegram_id=users[key].id)
            ids[users[key].id] = person.id
            if in_team is not None:
                await add_to_team(session, person=person, team=in_team, leader=leads)
        post = await service.create_post(session, team_id=team.id, name="东门岗", now=clock())
        service.set_location(post, latitude=32.0, longitude=118.8, radius_m=100)
        shift = await service.create_shift(session, post=post, name="晚班", starts=time(20),
                                           ends=time(22), sensitive_only=False, now=clock())
        for key in ("Zhang", "Li"):
            await service.toggle_rotation(session, shift=shift, person_id=ids[users[key].id],
                                          weekday=MONDAY.weekday())
    return Patrol(tree, team, post, shift, users["Staff"], users["Leader"], users["Zhang"],
                  users["Li"], users["Resident"], users["Other"], cadres_group, ids)


async def _scan(bot: BotRunner, fake: FakeTelegram) -> None:
    (job,) = bot.application.job_queue.get_jobs_by_name(SCAN_JOB)
    await job.run(bot.application)
    dispatcher = bot.application.bot_data["services"].dispatcher
    await dispatcher.wait_idle()
    await fake.settle()


async def _duty(session_factory, person_id: int) -> PatrolDuty:
    async with session_factory() as session:
        duty = await session.scalar(select(PatrolDuty).where(PatrolDuty.person_id == person_id))
    assert duty is not None
    return duty


def _texts(user: FakeUser) -> list[str]:
    return [m.text or m.caption or "" for m in user.messages]


async def test_reminded_then_scanning_the_post_signs_in_on_time(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    clock = Clock(at(19))
    p = await _patrol(bot, fake, session_factory, clock)
    await _scan(bot, fake)  # plans tonight's duties
    assert not any("⏰" in t for t in _texts(p.zhang))
    clock.now = at(19, 31)
    await _scan(bot, fake)
    reminder = [t for t in _texts(p.zhang) if t.startswith("⏰")]
    assert len(reminder) == 1 and "30 分钟后开始" in reminder[0] and "东门岗" in reminder[0]

    clock.now = at(19, 56)
    replies = await p.zhang.send(f"/start post_{p.post.token}")
    assert "✅ 已签到：东门岗 · 晚班 · 20:00–22:00" in replies[-1].text
    assert "准时到岗" in replies[-1].text
    assert replies[-1].buttons == [["🔎 发现情况", "🏁 签退"]]
    duty = await _duty(session_factory, p.ids[p.zhang.id])
    assert duty.signin_method == "qr" and not duty.late and duty.signed_in_at == at(19, 56)
    # No nudge for someone on duty; the board shows them on duty.
    clock.now = at(20, 20)
    await _scan(bot, fake)
    assert not any("还没看到您签到" in t for t in _texts(p.zhang))
    board = await p.leader.send("/today")
    assert "张队员 ✅ 在岗" in board[-1].text and "李队员 ❌ 缺岗" in board[-1].text


async def test_found_something_on_duty_is_a_named_report_from_the_post(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    from tests.tipoff_support import card_in

    clock = Clock(at(19, 40))
    p = await _patrol(bot, fake, session_factory, clock)
    await _scan(bot, fake)
    clock.now = at(20, 5)
    await p.zhang.send(f"/start post_{p.post.token}")
    asked = await p.zhang.press(text="🔎 发现情况")
    assert "您要反映什么情况" in asked[-1].text and "🔥 安全隐患 / 火情" in str(asked[-1].buttons)
    advice = await p.zhang.press(text="🔥 安全隐患 / 火情")
    assert "119" in advice[-1].text  # urgent advice, as in /report
    summary = await p.zhang.send("东门旁边的垃圾桶冒烟了")
    assert "东门岗" in summary[-1].text and "署名" in summary[-1].text
    assert summary[-1].buttons[0][0] == "✅ 发送"
    await p.zhang.press(text="✅ 发送")
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff))
    assert tipoff is not None and not tipoff.anonymous
    assert tipoff.reporter_id == p.ids[p.zhang.id] and tipoff.urgent
    assert (tipoff.area_id, tipoff.address) == (p.post.area_id, "东门岗")
    assert (tipoff.latitude, tipoff.longitude) == (32.0, 118.8)
    await fake.wait_for(lambda: card_in(p.cadres_group.messages, tipoff.reference) is not None)
    card = card_in(p.cadres_group.messages, tipoff.reference).text
    assert "东门岗" in card and "张队员" in card and "32.00000, 118.80000" in card

    # Signed out, the button no longer opens a report.
    await p.zhang.send(f"/start post_{p.post.token}")
    await p.zhang.press(text="🏁 签退")
    await p.zhang.press(text="🔎 发现情况")
    assert p.zhang.last_callback_answer.text == "您没有签到这个班次。"


async def test_a_pin_inside_the_radius_is_at_the_post_and_one_outside_is_marked(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    clock = Clock(at(19))
    p = await _patrol(bot, fake, session_factory, clock)
    await _scan(bot, fake)
    clock.now = at(20, 2)
    duty_screen = await p.zhang.send("/duty")
    assert "20:00–22:00 · 晚班 · 东门岗" in duty_screen[-1].text
    assert duty_screen[-1].reply_markup["keyboard"][0][0]["request_location"] is True
    near = await p.zhang.send_location(32.0004, 118.8)  # about 45 m
    assert "✅ 已签到" in near[-1].text and "不在岗点" not in near[-1].text
    clock.now = at(20, 12)
    far = await p.li.send_location(32.01, 118.8)  # about 1.1 km
    assert "✅ 已签到" in far[-1].text and "记为迟到" in far[-1].text
    assert "离岗点 1112 米" in far[-1].text
    zhang = await _duty(session_factory, p.ids[p.zhang.id])
    li = await _duty(session_factory, p.ids[p.li.id])
    assert (zhang.far, zhang.late, li.far, li.late) == (False, False, True, True)
    board = await p.leader.send("/today")
    assert "李队员 ✅ 在岗（迟到） （不在岗点）" in board[-1].text


async def test_a_missed_sign_in_nudges_then_tells_the_leader_across_a_restart(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    clock = Clock(at(19, 40))
    p = await _patrol(bot, fake, session_factory, clock)
    await _scan(bot, fake)  # planned and reminded (19:30 has passed)
    await p.li.send(f"/start post_{p.post.token}")
    clock.now = at(20, 15)
    await _scan(bot, fake)
    nudges = [t for t in _texts(p.zhang) if "还没看到您签到" in t]
    assert len(nudges) == 1 and not any("未签到" in t for t in _texts(p.leader))

    await bot.restart()  # the timers are columns: nothing is lost, nothing repeats
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    clock.now = at(20, 29)
    await _scan(bot, fake)
    assert not any("未签到" in t for t in _texts(p.leader))
    clock.now = at(20, 30)
    await _scan(bot, fake)
    notices = [m for m in p.leader.messages if "⚠️ 未签到：张队员" in (m.text or "")]
    assert len(notices) == 1 and "东门岗的晚班从 20:00 开始" in notices[0].text
    assert len([t for t in _texts(p.zhang) if "还没看到您签到" in t]) == 1

    await p.leader.press(text="🔁 谁顶班了…")
    await p.leader.press(text="李队员")
    assert p.leader.messages[-1].text == "🔁 东门岗的张队员：由李队员顶班。"
    duty = await _duty(session_factory, p.ids[p.zhang.id])
    assert duty.covered_by_id == p.ids[p.li.id] and duty.resolved_by_id == p.ids[p.leader.id]
    board = await p.leader.send("/today")
    assert "张队员 🔁 有人顶班 （李队员）" in board[-1].text


async def test_the_evening_all_clear_and_the_cadres_summary(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    clock = Clock(at(19, 40))
    p = await _patrol(bot, fake, session_factory, clock)
    quiet = fake.user("Quiet", language_code="zh-hans")
    calm = fake.user("Calm", language_code="zh-hans")
    for user in (quiet, calm):
        user.record.started = True
    async with transaction(session_factory) as session:
        for user, name, team_name in ((calm, "孙队长", "护校巡逻队"), (quiet, "周队长", "夜巡队")):
            person = await make_person(session, name=name, role=Role.MEMBER,
                                       area=p.tree.community, telegram_id=user.id)
            await add_to_team(session, person=person, leader=True, team=await make_team(
                session, area=p.tree.community, name=team_name))
    await _scan(bot, fake)
    await p.zhang.send(f"/start post_{p.post.token}")  # Zhang on time; Li never comes
    clock.now = at(21)
    await _scan(bot, fake)
    for user in (p.leader, calm, quiet):
        asks = [m for m in user.messages if (m.text or "").startswith("今日巡逻情况")]
        assert len(asks) == 1 and asks[0].buttons == [["✅ 一切正常", "⚠️ 有情况要报告"]]
    await calm.press(text="✅ 一切正常")
    assert calm.messages[-1].text == "✅ 护校巡逻队：今日一切正常。辛苦了，晚安！"
    await p.leader.press(text="⚠️ 有情况要报告")
    prompt = p.leader.messages[-1]
    thanks = await p.leader.send("菜市场门口有人兜售假烟，已劝离", reply_to=prompt)
    assert "已作为线索 TX-" in thanks[-1].text
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff))
        reports = {r.team_id: r for r in await session.scalars(select(PatrolDayReport))}
    assert tipoff is not None and not tipoff.anonymous and tipoff.area_id == p.tree.community.id
    assert "假烟" in tipoff.description and tipoff.team_id is not None
    assert reports[p.team.id].answer is DayAnswer.ISSUE
    assert reports[p.team.id].tipoff_id == tipoff.id
    await fake.wait_for(lambda: any(tipoff.reference in (m.text or m.caption or "")
                                    for m in p.cadres_group.messages))

    clock.now = at(21, 20)  # ten minutes before the summary: only the silent one is reminded
    await _scan(bot, fake)
    assert len([t for t in _texts(quiet) if t.startswith("🔁 提醒：今日巡逻情况")]) == 1
    assert not any(t.startswith("🔁 提醒") for t in _texts(calm) + _texts(p.leader))
    clock.now = at(21, 30)
    await _scan(bot, fake)
    await _scan(bot, fake)
    (summary,) = [t for t in _texts(p.staff) if t.startswith("🌙 平安日报")]
    assert "【红袖标巡逻队】 ⚠️ 有情况报告" in summary
    assert f"线索 {tipoff.reference}：菜市场门口有人兜售假烟" in summary
    assert "📍 东门岗：准时 1，迟到 0，缺岗 1，顶班或请假 0" in summary
    assert "【护校巡逻队】 ✅ 一切正常" in summary
    assert "【夜巡队】 ❔ 未回复" in summary
    # A late answer is still recorded; the summary is not sent again.
    await quiet.press(text="✅ 一切正常")
    await _scan(bot, fake)
    async with session_factory() as session:
        report = await session.scalar(select(PatrolDayReport).join(Team).where(
            Team.name == "夜巡队"))
    assert report is not None and report.answer is DayAnswer.NORMAL
    assert len([t for t in _texts(p.staff) if t.startswith("🌙 平安日报")]) == 1


async def test_a_resident_and_another_communitys_leader_are_refused_everything(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    clock = Clock(at(20, 20))
    p = await _patrol(bot, fake, session_factory, clock)
    await _scan(bot, fake)
    clock.now = at(21)
    await _scan(bot, fake)
    async with session_factory() as session:
        report = await session.scalar(select(PatrolDayReport).where(
            PatrolDayReport.team_id == p.team.id))
        zhang = await session.scalar(select(PatrolDuty).where(
            PatrolDuty.person_id == p.ids[p.zhang.id]))
    assert report is not None and zhang is not None
    for outsider in (p.resident, p.other_leader):
        scanned = await outsider.send(f"/start post_{p.post.token}")
        assert "属于您不在的巡逻队" in scanned[-1].text
        for command in ("/posts", "/today"):
            answer = (await outsider.send(command))[-1].text
            if outsider is p.resident:
                assert answer == "抱歉，您没有权限这样做。", (command, answer)
            else:  # their own team only
                assert "青石桥巡逻队" in answer
                assert "红袖标" not in answer and "东门岗" not in answer
        for data in (f"pt:ok:{report.id}", f"pt:is:{report.id}", f"pt:ex:{zhang.id}",
                     f"pt:cv:{zhang.id}", f"pt:cb:{zhang.id}:{p.ids[outsider.id]}",
                     f"pt:pq:{p.post.id}", f"pt:pr:{p.post.id}:500", f"pt:pn:{p.team.id}",
                     f"pt:out:{zhang.id}", f"pt:fs:{zhang.id}", f"pt:wo:{zhang.id}",
                     f"pt:wt:{zhang.id}:{p.ids[outsider.id]}", f"pt:wy:{zhang.id}",
                     f"pt:wn:{zhang.id}"):
            await outsider.press(data=data, forged=True, message=scanned[-1])
            assert outsider.last_callback_answer.text == "抱歉，您没有权限这样做。", data
    async with session_factory() as session:
        report = await session.get(PatrolDayReport, report.id)
        zhang = await session.get(PatrolDuty, zhang.id)
        post = await session.get(PatrolPost, p.post.id)
        signed = await session.scalar(select(PatrolDuty.id).where(
            PatrolDuty.person_id.in_([p.ids[p.resident.id], p.ids[p.other_leader.id]])))
    assert report.answer is DayAnswer.NONE
    assert zhang.covered_by_id is None and not zhang.excused
    assert post.radius_m == 100 and signed is None
    assert not any(m.document for m in p.resident.messages + p.other_leader.messages)


async def test_posts_prints_the_qr_sign_and_adds_a_post(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    clock = Clock(at(10))
    p = await _patrol(bot, fake, session_factory, clock)
    screen = await p.staff.send("/posts")
    assert "【红袖标巡逻队】 东门岗" in screen[-1].text
    await p.staff.press(text="📍 东门岗")
    sign = await p.staff.press(text="🖨 打印签到二维码")
    document = sign[-1]
    assert document.document is not None and document.document["file_name"].endswith(".png")
    assert f"https://t.me/pingan_test_bot?start=post_{p.post.token}" in document.caption
    data = fake.files[document.document["file_id"]].data
    assert data.startswith(b"\x89PNG")
    await p.staff.send("/posts")
    await p.staff.press(text="➕ 给红袖标巡逻队加岗点")
    prompt = p.staff.messages[-1]
    assert prompt.reply_markup == {"force_reply": True, "selective": True}
    await bot.restart()  # the question waits in the database
    answer = await p.staff.send("菜市场入口", reply_to=prompt)
    assert answer[0].text.startswith("岗点：菜市场入口")
    assert answer[-1].document is not None
    async with session_factory() as session:
        names = set(await session.scalars(select(PatrolPost.name)))
    assert names == {"东门岗", "菜市场入口"}


async def test_a_campaigns_extra_shift_runs_only_inside_its_window(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    from bot.schedules import service as schedules

    clock = Clock(at(9))
    p = await _patrol(bot, fake, session_factory, clock)
    async with transaction(session_factory) as session:
        extra = await service.create_shift(session, post=p.post, name="加密巡逻",
                                           starts=time(14), ends=time(16), sensitive_only=True,
                                           now=clock())
        for weekday in range(7):
            await service.toggle_rotation(session, shift=extra, person_id=p.ids[p.zhang.id],
                                          weekday=weekday)
        staff = await session.scalar(select(Person).where(Person.telegram_id == p.staff.id))
        from tests.factories import actor_for

        actor = await actor_for(session, staff)
        await schedules.create_campaign(
            session, actor=actor, author_id=staff.id, name="两会", preset=None,
            area_id=p.tree.community.id, starts_on=MONDAY + timedelta(days=1),
            ends_on=MONDAY + timedelta(days=1), timezone="Asia/Shanghai", at=time(9),
            categories=["anti_theft"],
            audience=await schedules.campaign_audience(session, area_id=p.tree.community.id),
            now=clock(), renotify_minutes=3)
    await _scan(bot, fake)
    monday = [m for m in await p.zhang.send("/duty") if m.text.startswith("您的巡逻排班")]
    assert "加密巡逻" not in monday[-1].text.split("03-03")[0]
    clock.now = at(9, day=MONDAY + timedelta(days=1))  # inside the campaign
    await _scan(bot, fake)
    tuesday = [m for m in await p.zhang.send("/duty") if m.text.startswith("您的巡逻排班")]
    assert "🔴 现在是敏感时期" in tuesday[-1].text
    assert "03-03 14:00–16:00 · 加密巡逻 · 东门岗" in tuesday[-1].text
    clock.now = at(9, day=MONDAY + timedelta(days=2))  # after it
    await _scan(bot, fake)
    wednesday = [m for m in await p.zhang.send("/duty") if m.text.startswith("您的巡逻排班")]
    assert "加密巡逻" not in wednesday[-1].text and "敏感时期" not in wednesday[-1].text


def _xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def test_a_roster_file_is_checked_row_by_row_then_imported_and_exported(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    clock = Clock(at(10))
    p = await _patrol(bot, fake, session_factory, clock)
    screen = await p.leader.send("/shifts")
    assert "20:00–22:00 晚班 · 东门岗" in screen[-1].text
    await p.leader.press(text="📥 导入排班表")
    prompt = p.leader.messages[-1]
    data = _xlsx([
        ["日期", "班次", "岗点", "姓名"],
        ["2026-03-03", "晚班", "东门岗", "张队员"],
        ["2026-03-03", "晚班", "东门岗", "张队员"],
        ["2026-02-27", "晚班", "东门岗", "李队员"],
        ["2026-03-04", "夜班", "东门岗", "李队员"],
        ["2026-03-04", "晚班", "东门岗", "路人甲"],
        ["三月四日", "晚班", None, "李队员"],
        [datetime(2026, 3, 4), "晚班", None, "李队员"],
    ])
    # A file sent as a reply to the question (what ForceReply opens on the phone).
    document = fake.store_document(
        data, "排班表.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    checked = await fake.user_message(p.leader.record, fake.chats[p.leader.id], None, 10.0,
                                      document=document, reply_to=prompt)
    text = checked[-1].text
    assert "共检查了 7 行：2 行没问题，5 行需要修改" in text, text
    for line in ("第 3 行（张队员）：文件里已经有同样的一行", "第 4 行（李队员）：日期已经过去了",
                 "第 5 行（李队员）：本队没有这个班次", "第 6 行（路人甲）：队里没有叫这个名字的人",
                 "第 7 行（李队员）：日期格式不对"):
        assert line in text, line
    async with session_factory() as session:
        assert await session.scalar(select(func.count(PatrolDuty.id)).where(
            PatrolDuty.on_date > MONDAY)) == 0  # a dry run
    upload_data = checked[-1].button_data[0][0]
    await p.resident.send("/duty")
    await p.resident.press(data=upload_data, forged=True, message=p.resident.messages[-1])
    assert p.resident.last_callback_answer.text == "这个按钮已经失效了。"
    await p.leader.press(text="导入 2 条排班")
    assert p.leader.messages[-1].text == "完成：已排上 2 个班。"
    async with session_factory() as session:
        imported = sorted((d.on_date, d.person_id) for d in await session.scalars(
            select(PatrolDuty).where(PatrolDuty.on_date > MONDAY)))
    assert imported == [(date(2026, 3, 3), p.ids[p.zhang.id]),
                        (date(2026, 3, 4), p.ids[p.li.id])]

    await p.leader.send("/shifts")
    exported = await p.leader.press(text="📤 导出")
    document = exported[-1].document
    assert document is not None and document["file_name"].endswith(".xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(fake.files[document["file_id"]].data)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["日期", "班次", "岗点", "姓名", "时间"]
    assert ["2026-03-02", "晚班", "东门岗", "张队员", "20:00-22:00"] in rows
    assert ["2026-03-03", "晚班", "东门岗", "张队员", "20:00-22:00"] in rows
    assert ["2026-03-04", "晚班", "东门岗", "李队员", "20:00-22:00"] in rows


async def test_a_duty_sheet_is_found_under_its_title_and_team_line(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    """A 排班表 as committees make it: a merged title, a line naming the team and its phone
    (which looks like a roster header), then the real header, a totals row and a note."""
    from openpyxl import Workbook

    clock = Clock(at(10))
    p = await _patrol(bot, fake, session_factory, clock)
    await p.leader.send("/shifts")
    await p.leader.press(text="📥 导入排班表")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["龙江路社区治安巡逻排班表（2026年3月）"])
    sheet.merge_cells("A1:E1")
    sheet.append(["队伍", "治安巡逻队", "联系电话", "13800001111"])
    sheet.append(["日期", "班次", "岗点", "姓名", "时间"])
    sheet.append(["2026-03-03", "晚班", "东门岗", "张队员", "20:00-22:00"])
    sheet.append(["2026-03-04", "晚班", "东门岗", "李队员", "20:00-22:00"])
    sheet.append(["合计", "2 班"])
    sheet.append(["注：请按时到岗。"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    document = fake.store_document(
        buffer.getvalue(), "排班表.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    checked = await fake.user_message(p.leader.record, fake.chats[p.leader.id], None, 10.0,
                                      document=document, reply_to=p.leader.messages[-1])
    assert "共检查了 2 行：2 行没问题" in checked[-1].text, checked[-1].text
    await p.leader.press(text="导入 2 条排班")
    async with session_factory() as session:
        imported = sorted((d.on_date, d.person_id) for d in await session.scalars(
            select(PatrolDuty).where(PatrolDuty.on_date > MONDAY)))
    assert imported == [(date(2026, 3, 3), p.ids[p.zhang.id]),
                        (date(2026, 3, 4), p.ids[p.li.id])]


async def test_the_weekly_rotation_is_set_with_buttons(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    clock = Clock(at(10))
    p = await _patrol(bot, fake, session_factory, clock)
    await p.leader.send("/shifts")
    await p.leader.press(text="👥 晚班 · 东门岗")
    screen = p.leader.messages[-1]
    assert "每周一" in screen.text and "✅ 张队员" in str(screen.buttons)
    await p.leader.press(text="▫️ 王队长")
    await p.leader.press(text="✅ 张队员")
    async with session_factory() as session:
        tonight = set(await session.scalars(select(PatrolDuty.person_id).where(
            PatrolDuty.on_date == MONDAY)))
    assert tonight == {p.ids[p.leader.id], p.ids[p.li.id]}


async def test_shifts_are_added_changed_and_removed_with_buttons(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    clock = Clock(at(10))
    p = await _patrol(bot, fake, session_factory, clock)
    await _scan(bot, fake)
    screen = await p.leader.send("/shifts")
    assert not any("晚间时间" in b for row in screen[-1].buttons for b in row)  # staff only
    await p.leader.press(text="➕ 新增班次")  # the team's only post is taken
    prompt = p.leader.messages[-1]
    assert "东门岗新班次的名称和时间" in prompt.text
    wrong = await p.leader.send("早班八点", reply_to=prompt)
    assert wrong[-1].text.startswith("请回复名称（最多 40 个字）和时间")
    made = await p.leader.send("早班 08:00 - 12:00", reply_to=prompt)
    assert made[-1].text.startswith("班次：东门岗 · 早班\n时间：08:00–12:00\n"
                                    "哪几天：周一、周二、周三、周四、周五、周六、周日\n每周都排")
    await p.leader.press(text="✅ 周日")
    await p.leader.press(text="▫️ 只在敏感时期")
    assert ("哪几天：周一、周二、周三、周四、周五、周六\n只在敏感时期排"
            in p.leader.messages[-1].text)
    await p.leader.press(text="✏️ 改名")
    await p.leader.send("上午班", reply_to=p.leader.messages[-1])
    await p.leader.press(text="🕐 改时间")
    prompt = p.leader.messages[-1]
    wrong = await p.leader.send("八点半到十二点", reply_to=prompt)
    assert wrong[-1].text.startswith("请回复时间，例如 20:00-22:00")
    changed = await p.leader.send("8:30~12:00", reply_to=prompt)
    assert changed[-1].text.startswith("班次：东门岗 · 上午班\n时间：08:30–12:00")
    async with session_factory() as session:
        morning = await session.scalar(select(PatrolShift).where(PatrolShift.name == "上午班"))
    assert morning is not None
    assert (morning.starts, morning.ends, morning.weekdays, morning.sensitive_only) == (
        time(8, 30), time(12), 0b0111111, True)

    # Tonight's 晚班 stops running on Mondays: the duties planned for tonight go.
    await p.leader.send("/shifts")
    await p.leader.press(data=f"pt:sh:{p.shift.id}")
    assert p.leader.messages[-1].text.startswith("班次：东门岗 · 晚班")
    await p.leader.press(text="✅ 周一")
    async with session_factory() as session:
        tonight = await session.scalar(select(func.count(PatrolDuty.id)).where(
            PatrolDuty.on_date == MONDAY))
    assert tonight == 0
    await p.leader.press(text="🗑 删除")
    assert p.leader.messages[-1].text.startswith("删除班次「晚班」吗？")
    await p.leader.press(text="🗑 确定删除")
    assert p.leader.messages[-1].text == "班次「晚班」已删除。"
    assert "晚班" not in (await p.leader.send("/shifts"))[-1].text

    # Refused: a resident and the other community's leader, pressing forged buttons.
    for outsider in (p.resident, p.other_leader):
        screen = await outsider.send("/duty")
        for data in (f"pt:sa:{p.team.id}", f"pt:sp:{p.post.id}", f"pt:sh:{morning.id}",
                     f"pt:sd:{morning.id}:0", f"pt:sf:{morning.id}", f"pt:sn:{morning.id}",
                     f"pt:st:{morning.id}", f"pt:sx:{morning.id}", f"pt:sy:{morning.id}",
                     f"pt:et:{p.tree.community.id}"):
            await outsider.press(data=data, forged=True, message=screen[-1])
            assert outsider.last_callback_answer.text == "抱歉，您没有权限这样做。", data
    # A leader may not set the community's evening times.
    await p.leader.press(data=f"pt:et:{p.tree.community.id}", forged=True,
                         message=p.leader.messages[-1])
    assert p.leader.last_callback_answer.text == "抱歉，您没有权限这样做。"
    async with session_factory() as session:
        morning = await session.get(PatrolShift, morning.id)
        assert await session.scalar(select(func.count()).select_from(PatrolTimes)) == 0
    assert morning is not None and not morning.archived and morning.weekdays == 0b0111111


async def test_staff_set_the_communitys_evening_times(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    clock = Clock(at(10))
    p = await _patrol(bot, fake, session_factory, clock)
    await p.staff.send("/shifts")
    await p.staff.press(text="🌙 晚间时间：龙江路社区")
    prompt = p.staff.messages[-1]
    assert "每晚 21:00 请队长报平安，21:30 把平安日报发给干部" in prompt.text
    wrong = await p.staff.send("21:30 21:00", reply_to=prompt)
    assert wrong[-1].text.startswith("请回复同一个晚上的两个时间")
    done = await p.staff.send("20:30 21:00", reply_to=prompt)
    assert done[-1].text == "好了：龙江路社区每晚 20:30 请队长报平安，21:00 发平安日报。"
    clock.now = at(20, 30)
    await _scan(bot, fake)
    assert any(t.startswith("今日巡逻情况") for t in _texts(p.leader))
    clock.now = at(21)
    await _scan(bot, fake)
    assert len([t for t in _texts(p.staff) if t.startswith("🌙 平安日报")]) == 1


async def test_a_member_swaps_a_shift_with_a_teammate_and_the_leader_is_told(
        bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    clock = Clock(at(10))
    p = await _patrol(bot, fake, session_factory, clock)
    sun = fake.user("Sun", language_code="zh-hans")
    sun.record.started = True
    async with transaction(session_factory) as session:
        person = await make_person(session, name="孙队员", role=Role.MEMBER,
                                   area=p.tree.community, telegram_id=sun.id)
        await add_to_team(session, person=person, team=p.team)
    await _scan(bot, fake)
    duty = await _duty(session_factory, p.ids[p.zhang.id])
    await p.zhang.send("/duty")
    await p.zhang.press(text="🔄 换班 03-02 晚班")
    assert p.zhang.messages[-1].text == "您的班（03-02 20:00–22:00 东门岗 · 晚班）想请谁来替？"
    await p.zhang.press(text="李队员")  # already on it
    assert p.zhang.last_callback_answer.text == "对方那天已经在这个班上了。"
    await p.zhang.press(text="孙队员")
    assert p.zhang.messages[-1].text == "已经问孙队员了，有回复我会告诉您。"
    await fake.wait_for(lambda: any("想请您替一个巡逻班" in t for t in _texts(sun)))
    offer = sun.messages[-1]
    assert offer.text == "🔄 张队员想请您替一个巡逻班：03-02 20:00–22:00 东门岗 · 晚班。您能来吗？"
    # Only the teammate asked may accept; the one who offered may not accept for them.
    for other in (p.li, p.zhang):
        screen = await other.send("/duty")
        await other.press(data=f"pt:wy:{duty.id}", forged=True, message=screen[-1])
        assert other.last_callback_answer.text == "抱歉，您没有权限这样做。"
    await sun.press(text="✅ 我来值", message=offer)
    assert sun.messages[-1].text == "✅ 谢谢您！这个班现在由您值：03-02 20:00–22:00 东门岗 · 晚班。"
    await fake.wait_for(lambda: any("换班：孙队员替张队员值班" in t for t in _texts(p.leader)))
    assert any(t.startswith("✅ 孙队员替您值这个班") for t in _texts(p.zhang))
    await sun.press(data=f"pt:wy:{duty.id}", forged=True, message=offer)  # the offer is gone
    assert sun.last_callback_answer.text == "抱歉，您没有权限这样做。"

    await _scan(bot, fake)  # the rotation does not give Zhang tonight's shift back
    async with session_factory() as session:
        tonight = dict((await session.execute(
            select(PatrolDuty.person_id, PatrolDuty.swapped_from_id)
            .where(PatrolDuty.on_date == MONDAY))).all())
    assert tonight == {person.id: p.ids[p.zhang.id], p.ids[p.li.id]: None}
    clock.now = at(19, 31)
    await _scan(bot, fake)
    assert any(t.startswith("⏰") for t in _texts(sun))
    assert not any(t.startswith("⏰") for t in _texts(p.zhang))

    # Li asks the leader, who cannot come: Li is told, the duty stays hers.
    await p.li.send("/duty")
    await p.li.press(text="🔄 换班 03-02 晚班")
    await p.li.press(text="王队长")
    await fake.wait_for(lambda: any("李队员想请您替" in t for t in _texts(p.leader)))
    await p.leader.press(text="❌ 我去不了")
    assert p.leader.messages[-1].text == "好的，谢谢您的回复。"
    await fake.wait_for(lambda: any(t.startswith("王队长来不了您的班") for t in _texts(p.li)))
    assert (await _duty(session_factory, p.ids[p.li.id])).swap_offered_to_id is None
