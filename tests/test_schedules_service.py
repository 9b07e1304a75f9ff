"""Schedules without Telegram: trigger maths, the runner's ticks at explicit times
(idempotent fires, catch-up with grace, campaign windows), and who may manage what."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit import AuditEntry
from bot.db import transaction
from bot.directory.audience import AudienceSpec
from bot.directory.models import Person
from bot.schedules import service
from bot.schedules.models import Campaign, Schedule
from bot.schedules.runner import ScheduleRunner
from bot.schedules.triggers import (
    TriggerError,
    TriggerKind,
    TriggerSpec,
    build_trigger,
    upcoming,
    validate,
)
from broadcasts.models import Broadcast, Delivery
from tests.factories import Cast, actor_for, make_cast

Factory = async_sessionmaker[AsyncSession]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    """A Shanghai wall-clock time as aware UTC."""
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)  # type: ignore[misc]


def shown(fires: list[datetime]) -> list[str]:
    return [f.astimezone(SHANGHAI).strftime("%a %Y-%m-%d %H:%M") for f in fires]


# -- trigger maths -----------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "expected"), [
    (TriggerSpec(TriggerKind.DAILY, at=time(8, 30)),
     ["Sat 2025-03-01 08:30", "Sun 2025-03-02 08:30", "Mon 2025-03-03 08:30"]),
    (TriggerSpec(TriggerKind.WEEKLY, at=time(9, 0), weekdays=(0, 4)),
     ["Mon 2025-03-03 09:00", "Fri 2025-03-07 09:00", "Mon 2025-03-10 09:00"]),
    (TriggerSpec(TriggerKind.MONTHLY, at=time(9, 0), day=31),  # months without a 31st skip
     ["Mon 2025-03-31 09:00", "Sat 2025-05-31 09:00", "Thu 2025-07-31 09:00"]),
    (TriggerSpec(TriggerKind.ONCE, on=date(2025, 3, 5), at=time(8, 0)),
     ["Wed 2025-03-05 08:00"]),
    # Standard crontab weekdays: 1-5 is Monday to Friday, 0 and 7 are Sunday.
    (TriggerSpec(TriggerKind.CRON, cron="0 8 * * 1-5"),
     ["Mon 2025-03-03 08:00", "Tue 2025-03-04 08:00", "Wed 2025-03-05 08:00"]),
    (TriggerSpec(TriggerKind.CRON, cron="0 8 * * 0,6"),
     ["Sat 2025-03-01 08:00", "Sun 2025-03-02 08:00", "Sat 2025-03-08 08:00"]),
    (TriggerSpec(TriggerKind.CRON, cron="30 7 1,15 * 7"),  # both day and weekday must match
     ["Sun 2025-06-01 07:30", "Sun 2025-06-15 07:30", "Sun 2026-02-01 07:30"]),
])
def test_next_three_fire_times_in_shanghai(spec: TriggerSpec, expected: list[str]) -> None:
    now = local(2025, 3, 1, 0, 0)
    trigger = validate(spec, "Asia/Shanghai", now=now)
    assert shown(upcoming(trigger, now, 3)) == expected


def test_a_fire_time_in_another_zone_is_its_own_wall_clock() -> None:
    spec = TriggerSpec(TriggerKind.DAILY, at=time(8, 0))
    now = datetime(2025, 3, 1, tzinfo=UTC)
    fires = upcoming(build_trigger(spec, "Asia/Urumqi"), now, 2)
    assert fires == [datetime(2025, 3, 1, 2, 0, tzinfo=UTC), datetime(2025, 3, 2, 2, 0, tzinfo=UTC)]


@pytest.mark.parametrize(("cron", "fragment"), [
    ("0 8 * *", "five parts"),
    ("0 25 * * *", "hour 0–23"),
    ("0 8 * * 9", "out of range"),
    ("0 8 * * funday", "do not understand"),
    ("*/5 * * * *", "more than once an hour"),
])
def test_bad_cron_expressions_are_refused_with_a_reason(cron: str, fragment: str) -> None:
    with pytest.raises(TriggerError) as caught:
        validate(TriggerSpec(TriggerKind.CRON, cron=cron), "Asia/Shanghai",
                 now=local(2025, 3, 1, 0, 0))
    assert fragment in caught.value.msgid.format(detail=caught.value.detail)


def test_a_one_off_in_the_past_is_refused() -> None:
    with pytest.raises(TriggerError, match="already passed"):
        validate(TriggerSpec(TriggerKind.ONCE, on=date(2025, 2, 1), at=time(8, 0)),
                 "Asia/Shanghai", now=local(2025, 3, 1, 0, 0))


# -- the runner --------------------------------------------------------------------------------

@pytest.fixture
async def cast(session_factory: Factory) -> Cast:
    async with transaction(session_factory) as session:
        return await make_cast(session)


async def new_schedule(factory: Factory, cast: Cast, *, trigger: TriggerSpec, now: datetime,
                       content: dict | None = None, grace: timedelta = service.DEFAULT_GRACE,
                       campaign_id: int | None = None) -> int:
    async with transaction(factory) as session:
        actor = await actor_for(session, cast.staff)
        schedule = await service.create_schedule(
            session, actor=actor, author_id=cast.staff.id, now=now,
            new=service.NewSchedule(
                name="每日提示", trigger=trigger,
                audience=AudienceSpec(area_ids={cast.tree.community.id}),
                content=content or service.tip_content(["anti_fraud"]),
                timezone="Asia/Shanghai", grace=grace, campaign_id=campaign_id))
        return schedule.id


async def broadcasts_of(factory: Factory, schedule_id: int) -> list[Broadcast]:
    async with factory() as session:
        return list(await session.scalars(
            select(Broadcast).where(Broadcast.schedule_key == f"schedule:{schedule_id}")
            .order_by(Broadcast.fire_at)))


def runner(factory: Factory) -> ScheduleRunner:
    return ScheduleRunner(factory, default_language="zh-CN")


async def test_a_fire_writes_one_broadcast_to_the_audience_in_each_language(
    session_factory: Factory, cast: Cast
) -> None:
    async with transaction(session_factory) as session:
        (await session.get_one(Person, cast.member.id)).language = "en"
    sid = await new_schedule(session_factory, cast, now=local(2025, 3, 1, 7, 0),
                             trigger=TriggerSpec(TriggerKind.DAILY, at=time(9, 0)))
    assert await runner(session_factory).tick(now=local(2025, 3, 1, 8, 59)) == []
    [outcome] = await runner(session_factory).tick(now=local(2025, 3, 1, 9, 0, 20))
    assert outcome.fire_at == local(2025, 3, 1, 9, 0)
    [broadcast] = await broadcasts_of(session_factory, sid)
    assert broadcast.fire_at == local(2025, 3, 1, 9, 0) and broadcast.kind == "anti_fraud"
    async with session_factory() as session:
        rows = dict((await session.execute(select(Delivery.chat_id, Delivery.language).where(
            Delivery.broadcast_id == broadcast.id))).all())
    # Staff, leader, member (in English) and resident live in the community; the other
    # community's staff does not.
    assert rows == {cast.staff.telegram_id: "zh-CN", cast.leader.telegram_id: "zh-CN",
                    cast.member.telegram_id: "en", cast.resident.telegram_id: "zh-CN"}
    assert set(broadcast.content) == {"zh-CN", "zh-TW", "en"}
    async with session_factory() as session:
        schedule = await session.get_one(Schedule, sid)
    assert schedule.last_fire_at == local(2025, 3, 1, 9, 0)


async def test_two_fires_of_the_same_time_send_once(session_factory: Factory, cast: Cast) -> None:
    sid = await new_schedule(session_factory, cast, now=local(2025, 3, 1, 7, 0),
                             trigger=TriggerSpec(TriggerKind.DAILY, at=time(9, 0)))
    first, second = runner(session_factory), runner(session_factory)
    assert len(await first.tick(now=local(2025, 3, 1, 9, 0, 5))) == 1
    assert await second.tick(now=local(2025, 3, 1, 9, 0, 25)) == []  # already handled
    # A second process that read the schedule before the first wrote last_fire_at:
    # the broadcast's unique (schedule, fire time) stops it.
    async with transaction(session_factory) as session:
        (await session.get_one(Schedule, sid)).last_fire_at = None
    [again] = await second.tick(now=local(2025, 3, 1, 9, 1))
    assert again.broadcast_id is None
    assert len(await broadcasts_of(session_factory, sid)) == 1
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 4


async def test_catch_up_sends_the_latest_fire_within_grace_and_logs_older_ones(
    session_factory: Factory, cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    sid = await new_schedule(session_factory, cast, now=local(2025, 3, 1, 7, 0),
                             trigger=TriggerSpec(TriggerKind.DAILY, at=time(9, 0)),
                             grace=timedelta(hours=2))
    await runner(session_factory).tick(now=local(2025, 3, 1, 9, 0, 10))
    # Down from 1 March 10:00 until 4 March 10:30: the 2nd and 3rd are too old.
    caplog.set_level(logging.INFO, logger="bot.schedules.runner")
    [outcome] = await runner(session_factory).tick(now=local(2025, 3, 4, 10, 30))
    assert outcome.fire_at == local(2025, 3, 4, 9, 0)
    assert [b.fire_at for b in await broadcasts_of(session_factory, sid)] == [
        local(2025, 3, 1, 9, 0), local(2025, 3, 4, 9, 0)]
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert [(r.levelno, r.schedule_id, r.fire_at) for r in skipped] == [  # type: ignore[attr-defined]
        (logging.INFO, sid, local(2025, 3, 2, 9, 0)),
        (logging.INFO, sid, local(2025, 3, 3, 9, 0)),
    ]
    # Later the same day nothing more happens, and nothing is logged twice.
    caplog.clear()
    assert await runner(session_factory).tick(now=local(2025, 3, 4, 12, 0)) == []
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]


async def test_a_fire_older_than_grace_is_skipped_not_sent(
    session_factory: Factory, cast: Cast
) -> None:
    sid = await new_schedule(session_factory, cast, now=local(2025, 3, 1, 7, 0),
                             trigger=TriggerSpec(TriggerKind.DAILY, at=time(9, 0)),
                             grace=timedelta(minutes=30))
    assert await runner(session_factory).tick(now=local(2025, 3, 1, 9, 45)) == []
    assert await broadcasts_of(session_factory, sid) == []
    async with session_factory() as session:
        schedule = await session.get_one(Schedule, sid)
    assert (schedule.last_fire_at, schedule.last_outcome) == (local(2025, 3, 1, 9, 0), "skipped")


async def test_paused_schedules_do_not_fire_and_resume_without_catching_up(
    session_factory: Factory, cast: Cast
) -> None:
    sid = await new_schedule(session_factory, cast, now=local(2025, 3, 1, 7, 0),
                             trigger=TriggerSpec(TriggerKind.DAILY, at=time(9, 0)))
    async with transaction(session_factory) as session:
        schedule = await session.get_one(Schedule, sid)
        await service.set_paused(session, schedule, paused=True, now=local(2025, 3, 1, 8, 0))
    assert await runner(session_factory).tick(now=local(2025, 3, 1, 9, 1)) == []
    async with transaction(session_factory) as session:
        schedule = await session.get_one(Schedule, sid)
        await service.set_paused(session, schedule, paused=False, now=local(2025, 3, 1, 9, 30))
    assert await runner(session_factory).tick(now=local(2025, 3, 1, 9, 31)) == []
    assert len(await runner(session_factory).tick(now=local(2025, 3, 2, 9, 0, 1))) == 1


async def test_a_campaign_schedule_runs_only_inside_its_window(
    session_factory: Factory, cast: Cast
) -> None:
    created = local(2025, 3, 1, 7, 0)
    async with transaction(session_factory) as session:
        actor = await actor_for(session, cast.staff)
        campaign, schedule = await service.create_campaign(
            session, actor=actor, author_id=cast.staff.id, name="两会", preset="two_sessions",
            area_id=cast.tree.community.id, starts_on=date(2025, 3, 3),
            ends_on=date(2025, 3, 5), timezone="Asia/Shanghai", at=time(9, 0),
            categories=("anti_theft", "anti_fraud"),
            audience=await service.campaign_audience(session, area_id=cast.tree.community.id),
            now=created)
        sid, cid = schedule.id, campaign.id
        view = await service.view_of(session, schedule, now=created)
    assert shown(view.next_fires) == ["Mon 2025-03-03 09:00", "Tue 2025-03-04 09:00",
                                      "Wed 2025-03-05 09:00"]
    for day in range(1, 8):
        await runner(session_factory).tick(now=local(2025, 3, day, 9, 0, 30))
    sent = await broadcasts_of(session_factory, sid)
    assert [b.fire_at for b in sent] == [local(2025, 3, d, 9, 0) for d in (3, 4, 5)]
    # The two categories take turns day by day.
    assert len({b.kind for b in sent}) == 2

    # Ended early: nothing more, even inside the window.
    async with transaction(session_factory) as session:
        actor = await actor_for(session, cast.staff)
        campaign, schedule = await service.create_campaign(
            session, actor=actor, author_id=cast.staff.id, name="国庆", preset="national_day",
            area_id=cast.tree.community.id, starts_on=date(2025, 10, 1),
            ends_on=date(2025, 10, 7), timezone="Asia/Shanghai", at=time(9, 0),
            categories=("anti_theft",),
            audience=await service.campaign_audience(session, area_id=cast.tree.community.id),
            now=local(2025, 9, 30, 12, 0))
        sid2 = schedule.id
    await runner(session_factory).tick(now=local(2025, 10, 1, 9, 0, 30))
    async with transaction(session_factory) as session:
        staff = await actor_for(session, cast.staff)
        ending = await service.load_campaign_for(session, actor=staff, campaign_id=campaign.id)
        assert ending is not None
        await service.end_campaign(session, ending, now=local(2025, 10, 1, 12, 0))
    await runner(session_factory).tick(now=local(2025, 10, 2, 9, 0, 30))
    assert [b.fire_at for b in await broadcasts_of(session_factory, sid2)] == [
        local(2025, 10, 1, 9, 0)]
    async with session_factory() as session:
        schedule = await session.get_one(Schedule, sid2)
        assert (await service.view_of(session, schedule, now=local(2025, 10, 2, 10, 0))
                ).next_fires == []
    assert cid != campaign.id


async def test_staff_see_and_manage_only_their_own_areas_schedules(
    session_factory: Factory, cast: Cast
) -> None:
    now = local(2025, 3, 1, 7, 0)
    sid = await new_schedule(session_factory, cast, now=now,
                             trigger=TriggerSpec(TriggerKind.DAILY, at=time(9, 0)))
    async with session_factory() as session:
        staff = await actor_for(session, cast.staff)
        other = await actor_for(session, cast.other_staff)
        member = await actor_for(session, cast.member)
        admin = await actor_for(session, cast.admin)
        assert [v.schedule.id for v in await service.visible_schedules(
            session, actor=staff, now=now)] == [sid]
        assert await service.visible_schedules(session, actor=other, now=now) == []
        assert await service.visible_schedules(session, actor=member, now=now) == []
        assert await service.load_for(session, actor=other, schedule_id=sid) is None
        assert await service.load_for(session, actor=member, schedule_id=sid) is None
        assert await service.load_for(session, actor=staff, schedule_id=sid) is not None
        assert admin.standing >= staff.standing
    # Staff may not schedule for the neighbouring community.
    async with transaction(session_factory) as session:
        staff = await actor_for(session, cast.staff)
        with pytest.raises(service.ScheduleRefused):
            await service.create_schedule(
                session, actor=staff, author_id=cast.staff.id, now=now,
                new=service.NewSchedule(
                    name="x", trigger=TriggerSpec(TriggerKind.DAILY, at=time(9, 0)),
                    audience=AudienceSpec(area_ids={cast.other.community.id}),
                    content=service.text_content("hi"), timezone="Asia/Shanghai"))


async def test_a_campaign_is_the_sensitive_period_alerts_read_and_ends_with_it(
    session_factory: Factory, cast: Cast
) -> None:
    """One notion of a sensitive period: a campaign's window is an alerts SensitivePeriod;
    alerts find it (shorter re-notify), ending either ends both."""
    from bot.alerts import service as alerts

    created = local(2025, 3, 1, 7, 0)
    grid_path = cast.tree.grid.path
    async with transaction(session_factory) as session:
        actor = await actor_for(session, cast.staff)
        campaign, schedule = await service.create_campaign(
            session, actor=actor, author_id=cast.staff.id, name="两会", preset="two_sessions",
            area_id=cast.tree.community.id, starts_on=date(2025, 3, 3),
            ends_on=date(2025, 3, 5), timezone="Asia/Shanghai", at=time(9, 0),
            categories=("anti_fraud",), renotify_minutes=4,
            audience=await service.campaign_audience(session, area_id=cast.tree.community.id),
            now=created)
        cid, sid = campaign.id, schedule.id
    async with session_factory() as session:
        # Before, inside (a grid of the community) and after the window; not elsewhere.
        assert await alerts.active_period(session, area_path=grid_path, now=created) is None
        period = await alerts.active_period(session, area_path=grid_path,
                                            now=local(2025, 3, 3, 0, 0))
        assert period is not None and period.renotify_minutes == 4 and period.note == "两会"
        assert await alerts.active_period(session, area_path=grid_path,
                                          now=local(2025, 3, 5, 23, 59)) is not None
        assert await alerts.active_period(session, area_path=grid_path,
                                          now=local(2025, 3, 6, 0, 0)) is None
        assert await alerts.active_period(session, area_path=cast.other.grid.path,
                                          now=local(2025, 3, 4, 12, 0)) is None
        period_id = period.id

    # /sensitive ends the period early (its "off" button): the campaign's reminders stop.
    async with transaction(session_factory) as session:
        assert await alerts.end_period(session, period_id=period_id, now=local(2025, 3, 4, 12, 0))
    await runner(session_factory).tick(now=local(2025, 3, 4, 9, 0, 30))  # before: sent
    await runner(session_factory).tick(now=local(2025, 3, 5, 9, 0, 30))  # after: not
    assert [b.fire_at for b in await broadcasts_of(session_factory, sid)] == [
        local(2025, 3, 4, 9, 0)]
    async with session_factory() as session:
        campaign = await session.get_one(Campaign, cid)
        assert not service.campaign_active(campaign, now=local(2025, 3, 4, 13, 0))
        staff = await actor_for(session, cast.staff)
        assert await service.visible_campaigns(session, actor=staff,
                                               now=local(2025, 3, 4, 13, 0)) == []

    # Ending a campaign from /campaigns ends its sensitive period for alerts as well.
    async with transaction(session_factory) as session:
        actor = await actor_for(session, cast.staff)
        campaign, _schedule = await service.create_campaign(
            session, actor=actor, author_id=cast.staff.id, name="国庆", preset="national_day",
            area_id=cast.tree.community.id, starts_on=date(2025, 10, 1),
            ends_on=date(2025, 10, 7), timezone="Asia/Shanghai", at=time(9, 0),
            categories=("anti_theft",),
            audience=await service.campaign_audience(session, area_id=cast.tree.community.id),
            now=local(2025, 9, 30, 12, 0))
        await service.end_campaign(session, campaign, now=local(2025, 10, 2, 12, 0))
    async with session_factory() as session:
        assert await alerts.active_period(session, area_path=grid_path,
                                          now=local(2025, 10, 2, 11, 0)) is not None
        assert await alerts.active_period(session, area_path=grid_path,
                                          now=local(2025, 10, 2, 13, 0)) is None


async def test_schedule_and_campaign_changes_are_audited(session_factory: Factory,
                                                         cast: Cast) -> None:
    now = local(2025, 3, 1, 7, 0)
    sid = await new_schedule(session_factory, cast, now=now,
                             trigger=TriggerSpec(TriggerKind.DAILY, at=time(9, 0)))
    by = cast.staff.id
    async with transaction(session_factory) as session:
        schedule = await session.get_one(Schedule, sid)
        await service.set_paused(session, schedule, paused=True, now=now, actor_id=by)
        await service.set_paused(session, schedule, paused=False, now=now, actor_id=by)
        await service.change_trigger(session, schedule, now=now, actor_id=by,
                                     trigger=TriggerSpec(TriggerKind.DAILY, at=time(10, 0)))
        await service.change_text(session, schedule, text="新的通知", now=now, actor_id=by)
        await service.delete_schedule(session, schedule, now=now, actor_id=by)
        actor = await actor_for(session, cast.staff)
        campaign, _schedule = await service.create_campaign(
            session, actor=actor, author_id=by, name="两会", preset="two_sessions",
            area_id=cast.tree.community.id, starts_on=date(2025, 3, 3),
            ends_on=date(2025, 3, 5), timezone="Asia/Shanghai", at=time(9, 0),
            categories=("anti_fraud",),
            audience=await service.campaign_audience(session, area_id=cast.tree.community.id),
            now=now)
        await service.end_campaign(session, campaign, now=now, actor_id=by)
    async with session_factory() as session:
        entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action.not_in(
            ("schedule.create",))).order_by(AuditEntry.id))).all()
    assert [(e.action, e.actor_id) for e in entries] == [
        (action, by) for action in ("schedule.pause", "schedule.resume", "schedule.edit_time",
                                    "schedule.edit_text", "schedule.delete", "campaign.create",
                                    "campaign.end")]
    paused, _resumed, timed, texted, deleted, created, ended = entries
    assert (paused.before, paused.after) == ({"paused": False}, {"paused": True})
    assert timed.after["trigger"]["at"].startswith("10:00")
    assert texted.after["content"]["text"] == "新的通知"
    assert (deleted.object_id, deleted.after) == (sid, {"deleted": True})
    assert created.after["name"] == "两会" and ended.object_id == created.object_id
