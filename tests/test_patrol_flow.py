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
from bot.patrol.models import DayAnswer, PatrolDayReport, PatrolDuty, PatrolPost, PatrolShift
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
                     f"pt:out:{zhang.id}"):
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
