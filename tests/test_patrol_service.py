"""Patrol duty without Telegram: planning from the rotation, signing in on time, late and
by a pin, and the chase timers (remind → nudge → leader → done) in the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.models import SensitivePeriod
from bot.db import transaction
from bot.directory.models import Person, Role, Team
from bot.patrol import chase, service
from bot.patrol.models import DutyStage, PatrolDuty, PatrolPost, PatrolShift
from bot.patrol.service import DutyState, PatrolConfig, SignInResult
from broadcasts import Broadcast, Delivery
from tests.factories import Tree, add_to_team, make_person, make_team, make_tree

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 3, 2)
CONFIG = PatrolConfig()


def at(hour: int, minute: int = 0, day: date = MONDAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ).astimezone(UTC)


@dataclass
class Scene:
    tree: Tree
    team: Team
    leader: Person
    member: Person
    post: PatrolPost
    shift: PatrolShift


async def _scene(session: AsyncSession, *, every_day: bool = True) -> Scene:
    tree = await make_tree(session)
    team = await make_team(session, area=tree.community)
    leader = await make_person(session, name="王队长", role=Role.MEMBER, area=tree.community,
                               telegram_id=700_000_001)
    member = await make_person(session, name="张队员", role=Role.MEMBER, area=tree.community,
                               telegram_id=700_000_002, language="en")
    await add_to_team(session, person=leader, team=team, leader=True)
    await add_to_team(session, person=member, team=team)
    post = await service.create_post(session, team_id=team.id, name="东门岗", now=at(6))
    service.set_location(post, latitude=32.0, longitude=118.8, radius_m=100)
    shift = await service.create_shift(session, post=post, name="早班", starts=time(8),
                                       ends=time(12), sensitive_only=False, now=at(6))
    for weekday in range(7) if every_day else (MONDAY.weekday(),):
        await service.toggle_rotation(session, shift=shift, person_id=member.id,
                                      weekday=weekday)
    return Scene(tree, team, leader, member, post, shift)


async def _duty(session: AsyncSession, person: Person) -> PatrolDuty:
    duty = await session.scalar(select(PatrolDuty).where(PatrolDuty.person_id == person.id)
                                .order_by(PatrolDuty.starts_at))
    assert duty is not None
    return duty


async def test_the_rotation_plans_duties_once_with_a_reminder_timer(session_factory) -> None:
    async with transaction(session_factory) as session:
        scene = await _scene(session)
        written = await service.plan_duties(session, now=at(6), tz=TZ, config=CONFIG)
        again = await service.plan_duties(session, now=at(6, 1), tz=TZ, config=CONFIG)
        duty = await _duty(session, scene.member)
    assert written == 2 and again == 0  # today and tomorrow; yesterday's shift is over
    assert duty.on_date == MONDAY
    assert (duty.starts_at, duty.ends_at) == (at(8), at(12))
    assert duty.stage is DutyStage.REMIND and duty.next_due_at == at(7, 30)
    assert duty.grace_s == 15 * 60


async def test_a_night_shift_ends_the_next_morning(session_factory) -> None:
    async with transaction(session_factory) as session:
        scene = await _scene(session)
        night = await service.create_shift(session, post=scene.post, name="夜巡",
                                           starts=time(22), ends=time(2),
                                           sensitive_only=False, now=at(6))
    assert service.shift_window(night, MONDAY, TZ) == (at(22), at(2, day=date(2026, 3, 3)))


@pytest.mark.parametrize(("minute", "late"), [(7 * 60 + 50, False), (8 * 60 + 5, False),
                                              (8 * 60 + 6, True), (11 * 60 + 59, True)])
async def test_scanning_the_post_signs_in_on_time_or_late(session_factory, minute: int,
                                                          late: bool) -> None:
    async with transaction(session_factory) as session:
        scene = await _scene(session)
        await service.plan_duties(session, now=at(6), tz=TZ, config=CONFIG)
        now = at(minute // 60, minute % 60)
        outcome = await service.sign_in_at_post(session, token=scene.post.token,
                                                person_id=scene.member.id, now=now, tz=TZ,
                                                config=CONFIG)
        twice = await service.sign_in_at_post(session, token=scene.post.token,
                                              person_id=scene.member.id, now=now, tz=TZ,
                                              config=CONFIG)
        duty = await _duty(session, scene.member)
    assert outcome.result is SignInResult.SIGNED_IN and outcome.late is late
    assert twice.result is SignInResult.ALREADY
    assert duty.signin_method == "qr" and duty.stage is DutyStage.SIGN_OUT
    assert duty.next_due_at == at(12)  # signed out automatically at the end
    assert service.duty_state(duty, now) is (DutyState.ON_DUTY_LATE if late
                                             else DutyState.ON_DUTY)


async def test_scanning_refuses_strangers_old_codes_and_empty_hours(session_factory) -> None:
    async with transaction(session_factory) as session:
        scene = await _scene(session)
        await service.plan_duties(session, now=at(6), tz=TZ, config=CONFIG)
        stranger = await make_person(session, name="路人", telegram_id=700_000_009)
        results = [
            (await service.sign_in_at_post(session, token=scene.post.token,
                                           person_id=stranger.id, now=at(8), tz=TZ,
                                           config=CONFIG)).result,
            (await service.sign_in_at_post(session, token="not-a-token", person_id=scene.member.id,
                                           now=at(8), tz=TZ, config=CONFIG)).result,
            (await service.sign_in_at_post(session, token=scene.post.token,
                                           person_id=scene.member.id, now=at(14), tz=TZ,
                                           config=CONFIG)).result,
        ]
        signed = await session.scalar(select(PatrolDuty.id).where(
            PatrolDuty.signed_in_at.is_not(None)))
    assert results == [SignInResult.NOT_MEMBER, SignInResult.UNKNOWN_POST, SignInResult.NO_SHIFT]
    assert signed is None


async def test_a_teammate_off_the_roster_signs_in_as_a_helper(session_factory) -> None:
    async with transaction(session_factory) as session:
        scene = await _scene(session)
        outcome = await service.sign_in_at_post(session, token=scene.post.token,
                                                person_id=scene.leader.id, now=at(9), tz=TZ,
                                                config=CONFIG)
        duty = await _duty(session, scene.leader)
    assert outcome.result is SignInResult.SIGNED_IN and outcome.late
    assert duty.planned is False and duty.shift_id == scene.shift.id


@pytest.mark.parametrize(("lat", "lon", "far"), [(32.0003, 118.8, False), (32.01, 118.8, True)])
async def test_a_pin_inside_or_outside_the_radius_is_accepted_and_marked(
        session_factory, lat: float, lon: float, far: bool) -> None:
    async with transaction(session_factory) as session:
        scene = await _scene(session)
        await service.plan_duties(session, now=at(6), tz=TZ, config=CONFIG)
        outcome = await service.sign_in_by_location(session, person_id=scene.member.id,
                                                    latitude=lat, longitude=lon, now=at(8),
                                                    config=CONFIG)
    assert outcome.result is SignInResult.SIGNED_IN and outcome.far is far
    assert outcome.distance_m is not None
    assert (outcome.distance_m > 100) is far


async def _deliveries(session: AsyncSession) -> list[tuple[str, int]]:
    return [(k, c) for k, c in (await session.execute(
        select(Broadcast.kind, Delivery.chat_id).join(Delivery)
        .order_by(Delivery.id))).all()]


async def test_the_chase_reminds_nudges_then_tells_the_leader_once(session_factory) -> None:
    async with transaction(session_factory) as session:
        scene = await _scene(session, every_day=False)
        await service.plan_duties(session, now=at(6), tz=TZ, config=CONFIG)
    steps = [at(7, 29), at(7, 30), at(8, 15), at(8, 16), at(8, 30), at(8, 31)]
    counts = []
    for now in steps:
        async with transaction(session_factory) as session:
            result = await chase.run_chase(session, now=now, tz=TZ, config=CONFIG,
                                           default_language="zh-CN")
            counts.append((result.reminded, result.nudged, result.leaders_told))
    assert counts == [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 0), (0, 0, 1), (0, 0, 0)]
    async with session_factory() as session:
        sent = await _deliveries(session)
        duty = await _duty(session, scene.member)
        reminder = await session.scalar(select(Broadcast).where(Broadcast.kind == "patrol_remind"))
    assert sent == [("patrol_remind", scene.member.telegram_id),
                    ("patrol_nudge", scene.member.telegram_id),
                    ("patrol_missing", scene.leader.telegram_id)]
    assert duty.stage is DutyStage.DONE and duty.next_due_at is None
    assert service.duty_state(duty, at(8, 31)) is DutyState.MISSING
    assert reminder is not None and "30 minutes" in reminder.content["en"]["text"]
    assert next(iter(reminder.content)) == "en"  # the member's own language first


async def test_signing_in_stops_the_chase_and_covered_ends_missing(session_factory) -> None:
    async with transaction(session_factory) as session:
        scene = await _scene(session, every_day=False)
        await service.plan_duties(session, now=at(6), tz=TZ, config=CONFIG)
        await chase.run_chase(session, now=at(7, 30), tz=TZ, config=CONFIG,
                              default_language="zh-CN")
        await service.sign_in_at_post(session, token=scene.post.token, person_id=scene.member.id,
                                      now=at(7, 58), tz=TZ, config=CONFIG)
    for now in (at(8, 15), at(8, 30), at(12)):
        async with transaction(session_factory) as session:
            await chase.run_chase(session, now=now, tz=TZ, config=CONFIG,
                                  default_language="zh-CN")
    async with session_factory() as session:
        kinds = [k for k, _ in await _deliveries(session)]
        duty = await _duty(session, scene.member)
    assert kinds == ["patrol_remind"]
    assert duty.auto_signed_out and duty.signed_out_at == at(12)

    async with transaction(session_factory) as session:
        duty = await _duty(session, scene.member)
        duty.signed_in_at = None  # as if they had never come
        await service.resolve_missing(session, duty=duty, by_person_id=scene.leader.id,
                                      covered_by_id=scene.leader.id, excused=False)
    assert service.duty_state(duty, at(9)) is DutyState.COVERED


async def test_extra_shifts_and_a_short_grace_only_in_a_sensitive_period(session_factory) -> None:
    async with transaction(session_factory) as session:
        scene = await _scene(session)
        extra = await service.create_shift(session, post=scene.post, name="加密巡逻",
                                           starts=time(19), ends=time(21),
                                           sensitive_only=True, now=at(6))
        await service.toggle_rotation(session, shift=extra, person_id=scene.member.id,
                                      weekday=MONDAY.weekday())
        await service.plan_duties(session, now=at(6), tz=TZ, config=CONFIG)
        before = await session.scalar(select(PatrolDuty.id).where(
            PatrolDuty.shift_id == extra.id))
        session.add(SensitivePeriod(area_id=scene.tree.community.id, starts_at=at(6),
                                    ends_at=at(23), renotify_minutes=3))
        await session.flush()
        await service.plan_duties(session, now=at(6, 1), tz=TZ, config=CONFIG)
        during = await session.scalar(select(PatrolDuty).where(PatrolDuty.shift_id == extra.id))
    assert before is None
    assert during is not None and during.starts_at == at(19)
    assert during.grace_s == 5 * 60


@pytest.mark.parametrize(("text", "expected"), [
    ("晚班 20:00-22:00", ("晚班", time(20), time(22))),
    ("夜间 巡逻 22:00 – 6:00", ("夜间 巡逻", time(22), time(6))),
    ("早班 8：00~12：00", ("早班", time(8), time(12))),
    ("早班 8:00 至 8:00", None), ("20:00-22:00", None), ("早班 八点", None),
    ("早班 25:00-26:00", None),
])
def test_a_new_shift_is_read_from_a_name_and_times(
        text: str, expected: tuple[str, time, time] | None) -> None:
    assert service.parse_new_shift(text) == expected


async def test_a_shift_runs_only_on_its_days_and_a_changed_day_replans(session_factory) -> None:
    async with transaction(session_factory) as session:
        s = await _scene(session)
        await service.plan_duties(session, now=at(6), tz=TZ, config=CONFIG)
        planned = set(await session.scalars(select(PatrolDuty.on_date)))
        assert MONDAY in planned
        await service.edit_shift(session, shift=s.shift, now=at(6), weekday=MONDAY.weekday())
        await service.plan_duties(session, now=at(6), tz=TZ, config=CONFIG)
        after = set(await session.scalars(select(PatrolDuty.on_date)))
        assert MONDAY not in after and after == planned - {MONDAY}
        outcome = await service.sign_in_at_post(session, token=s.post.token,
                                                person_id=s.leader.id, now=at(8, 10), tz=TZ,
                                                config=CONFIG)
        assert outcome.result is SignInResult.NO_SHIFT  # no shift at the post on Mondays now
        with pytest.raises(service.PatrolError):
            for weekday in range(1, 7):  # the last day cannot go
                await service.edit_shift(session, shift=s.shift, now=at(6), weekday=weekday)
        assert s.shift.weekdays == 1 << 6


def test_the_signs_font_may_be_one_registered_with_matplotlib(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A CJK font package registered with matplotlib's font manager draws the sign's text."""
    from matplotlib import font_manager

    from bot.patrol import sign

    entry = font_manager.FontEntry(fname=str(tmp_path / "NotoSansSC-Regular.otf"),
                                   name="Noto Sans SC")
    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [entry, *font_manager.fontManager.ttflist])
    assert sign.font_path() == entry.fname
