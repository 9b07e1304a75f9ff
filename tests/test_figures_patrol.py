"""Patrol figures over built duties and evening all-clears, worked out by hand."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from bot.db import transaction
from bot.figures import periods, render, service, workbook
from bot.figures.counting import Scope
from bot.figures.patrol import patrol_figures
from bot.i18n import translator
from bot.patrol.models import DayAnswer, PatrolDayReport, PatrolDuty, PatrolPost, PatrolShift
from tests.factories import make_person
from tests.figures_support import seed, utc

TZ = ZoneInfo("Asia/Shanghai")
NOVEMBER = periods.month_period(2026, 11, tz=TZ, now=utc(2026, 12, 5, 2))


def duty(shift: int, starts: datetime, *, signed_in_after: timedelta | None = None,
         late: bool = False, planned: bool = True, covered: bool = False,
         excused: bool = False) -> PatrolDuty:
    return PatrolDuty(
        shift_id=shift, post_id=1, team_id=1, person_id=1, on_date=starts.date(),
        starts_at=starts, ends_at=starts + timedelta(hours=2), planned=planned, grace_s=900,
        signed_in_at=starts + signed_in_after if signed_in_after is not None else None,
        late=late, covered_by_id=2 if covered else None, excused=excused)


def evening(day: int, answer: DayAnswer) -> PatrolDayReport:
    return PatrolDayReport(team_id=1, community_id=1, on_date=date(2026, 11, day),
                           asked_at=utc(2026, 11, day, 13), answer=answer)


def test_patrol_figures_count_shifts_sign_ins_and_the_all_clear() -> None:
    morning, night = utc(2026, 11, 3, 0), utc(2026, 11, 3, 12)
    duties = [
        # Shift 1 on 3 November: two on time, one late, one missed.
        duty(1, morning, signed_in_after=timedelta(minutes=5)),
        duty(1, morning, signed_in_after=timedelta(minutes=0)),
        duty(1, morning, signed_in_after=timedelta(minutes=40), late=True),
        duty(1, morning),
        # Shift 2 the same evening: one covered, one excused, one helper not on the roster.
        duty(2, night, covered=True),
        duty(2, night, excused=True),
        duty(2, night, signed_in_after=timedelta(minutes=1), planned=False),
        # Shift 1 again on 4 November: missed.
        duty(1, morning + timedelta(days=1)),
        # October and December: not November's.
        duty(1, utc(2026, 10, 30, 0)),
        duty(1, utc(2026, 11, 30, 17), signed_in_after=timedelta(minutes=1)),
        # The last minutes of November (local): its grace time runs past the month's end,
        # so it is not yet counted as missed.
        duty(3, NOVEMBER.end - timedelta(minutes=5)),
    ]
    evenings = [evening(3, DayAnswer.NORMAL), evening(4, DayAnswer.ISSUE),
                evening(5, DayAnswer.NONE), evening(6, DayAnswer.NORMAL),
                PatrolDayReport(team_id=1, community_id=1, on_date=date(2026, 10, 31),
                                asked_at=utc(2026, 10, 31, 13), answer=DayAnswer.NORMAL)]
    figures = patrol_figures(duties, evenings, NOVEMBER)
    assert (figures.shifts, figures.duties) == (4, 8)
    assert (figures.on_time, figures.late, figures.missed, figures.covered_or_excused,
            figures.helpers) == (2, 1, 2, 2, 1)
    assert figures.on_time_rate == 2 / 5
    assert (figures.allclear_asked, figures.allclear_answered,
            figures.allclear_issues) == (4, 3, 1)
    assert figures.allclear_rate == 3 / 4


def test_no_patrol_is_no_figures_not_zero_percent() -> None:
    figures = patrol_figures([], [], NOVEMBER)
    assert (figures.duties, figures.on_time_rate, figures.allclear_rate) == (0, None, None)


async def test_patrol_figures_reach_the_message_and_the_workbook_in_scope_only(
    session_factory,
) -> None:
    ids = await seed(session_factory)
    async with transaction(session_factory) as session:
        for team, token in ((ids["patrol"], "here"), (ids["elsewhere"], "next_door")):
            post = PatrolPost(team_id=team.id, area_id=team.area_id, name="东门", token=token)
            session.add(post)
            await session.flush()
            shift = PatrolShift(team_id=team.id, post_id=post.id, name="早班",
                                starts=time(8), ends=time(10))
            session.add(shift)
            await session.flush()
            starts = utc(2026, 11, 3, 0)
            for signed_in, late in ((timedelta(minutes=3), False),
                                    (timedelta(minutes=40), True), (None, False)):
                person = await make_person(session)
                session.add(PatrolDuty(
                    shift_id=shift.id, post_id=post.id, team_id=team.id, person_id=person.id,
                    on_date=date(2026, 11, 3), starts_at=starts,
                    ends_at=starts + timedelta(hours=2), grace_s=900, late=late,
                    signed_in_at=starts + signed_in if signed_in is not None else None))
            session.add(PatrolDayReport(team_id=team.id, community_id=team.area_id,
                                        on_date=date(2026, 11, 3),
                                        asked_at=utc(2026, 11, 3, 13), answer=DayAnswer.NORMAL))
    now = utc(2026, 12, 5, 2)
    async with session_factory() as session:
        report = await service.collect(
            session, scope=Scope(area_path=ids["community"].path), period=NOVEMBER,
            previous=periods.previous(NOVEMBER, tz=TZ),
            months=periods.months_back(count=12, tz=TZ, now=now))
    p = report.patrol
    assert (p.shifts, p.duties, p.on_time, p.late, p.missed, p.allclear_asked,
            p.allclear_answered) == (1, 3, 1, 1, 1, 1, 1)
    text = render.figures_text(report, scope_name="社区", _=translator("zh-CN"),
                               language="zh-CN", tz=TZ)
    assert "🚶 巡逻：1 个班次，3 人次；准时 1，迟到 1，缺勤 1" in text
    assert "平安日报答复 1/1 晚" in text
    data = workbook.build_workbook(report, scope_name="社区", language="zh-CN", tz=TZ)
    sheet = load_workbook(io.BytesIO(data), read_only=True)["概况"]
    rows = {r[0]: r[1] for r in sheet.iter_rows(max_row=60, max_col=3, values_only=True)}
    assert (rows["巡逻人次"], rows["准时签到"], rows["迟到签到"], rows["缺勤（未签到）"],
            rows["平安日报已答复"]) == (3, 1, 1, 1, 1)
