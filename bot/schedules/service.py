"""Schedules and campaigns: create, list, pause, resume, edit, delete, and when each fires.

Plain async functions over an `AsyncSession` (session first, keyword-only arguments); they
flush, never commit. No Telegram import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.models import SensitivePeriod
from bot.alerts.service import AlertConfig
from bot.audit import record
from bot.auth import Actor, Permission, can
from bot.directory.audience import AudienceSpec, may_target
from bot.directory.models import Area
from bot.i18n import N_
from bot.schedules.models import Campaign, Schedule
from bot.schedules.triggers import (
    TriggerKind,
    TriggerSpec,
    build_trigger,
    fires_between,
    upcoming,
    validate,
)

DEFAULT_GRACE = timedelta(hours=2)
#: Alerts re-notify this often inside a campaign's sensitive period (alerts' own default).
SENSITIVE_RENOTIFY_MINUTES = AlertConfig().sensitive_renotify_minutes
#: Catch-up never looks further back than this (a year-long outage skips everything anyway).
LOOKBACK = timedelta(days=366)
TIP_KIND = "safety_tip"  # bot.broadcasting.service.BroadcastKind values
NOTICE_KIND = "notice"


# -- content ----------------------------------------------------------------------------------

def text_content(text: str, photo: str | None = None) -> dict[str, Any]:
    return {"type": "text", "text": text, "photo": photo}


def tip_content(categories: Sequence[str] = ()) -> dict[str, Any]:
    """The next library tip; with several categories, they take turns day by day."""
    return {"type": "tip", "categories": list(categories)}


def tip_category_for(content: dict[str, Any], fire: datetime, tz: ZoneInfo) -> str | None:
    """Which category a tip fire draws from (None: any), the same on every retry."""
    categories = content.get("categories") or []
    if not categories:
        return None
    return categories[fire.astimezone(tz).date().toordinal() % len(categories)]


def is_tip(content: dict[str, Any]) -> bool:
    return content.get("type") == "tip"


# -- reading -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduleView:
    """A schedule as a list shows it."""

    schedule: Schedule
    next_fires: list[datetime]  # UTC
    campaign: Campaign | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.schedule.timezone)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)


def trigger_of(schedule: Schedule) -> BaseTrigger:
    return build_trigger(TriggerSpec.from_json(schedule.trigger), schedule.timezone)


def _period_ended_by(campaign: Campaign) -> datetime | None:
    """When the campaign's sensitive period ends (it may be ended early with /sensitive)."""
    return campaign.period.ends_at if campaign.period is not None else None


def in_window(campaign: Campaign | None, fire: datetime) -> bool:
    """Whether a fire lies inside its campaign's window (always, with no campaign)."""
    if campaign is None:
        return True
    if campaign.ended_at is not None and fire >= campaign.ended_at:
        return False
    period_end = _period_ended_by(campaign)
    if period_end is not None and fire >= period_end:
        return False
    local_day = fire.astimezone(ZoneInfo(campaign.timezone)).date()
    return campaign.starts_on <= local_day <= campaign.ends_on


def campaign_active(campaign: Campaign, *, now: datetime) -> bool:
    if campaign.ended_at is not None:
        return False
    period_end = _period_ended_by(campaign)
    if period_end is not None and period_end <= now:
        return False
    today = now.astimezone(ZoneInfo(campaign.timezone)).date()
    return today <= campaign.ends_on


def next_fires(schedule: Schedule, *, now: datetime, count: int = 3,
               campaign: Campaign | None = None) -> list[datetime]:
    """The next `count` fires after now (and after the last one handled), in UTC; inside
    the campaign window if there is one; none while paused."""
    if schedule.paused or schedule.deleted:
        return []
    trigger = trigger_of(schedule)
    after = max(now, schedule.last_fire_at or now, schedule.planned_from)
    if campaign is None:
        return upcoming(trigger, after, count)
    if campaign.ended_at is not None or not campaign_active(campaign, now=now):
        return []
    found: list[datetime] = []
    end = datetime.combine(campaign.ends_on + timedelta(days=1), time(0),
                           ZoneInfo(campaign.timezone)).astimezone(UTC)
    for fire in fires_between(trigger, after, end, limit=2000):
        if in_window(campaign, fire):
            found.append(fire)
            if len(found) == count:
                break
    return found


async def visible_schedules(session: AsyncSession, *, actor: Actor,
                            now: datetime) -> list[ScheduleView]:
    """The schedules this person may manage, oldest first, with their next three fires."""
    rows = (await session.execute(
        select(Schedule, Area.path).outerjoin(Area, Area.id == Schedule.area_id)
        .where(Schedule.deleted.is_(False)).order_by(Schedule.id)
    )).all()
    campaigns = await _campaigns_by_id(session, {s.campaign_id for s, _ in rows})
    views = []
    for schedule, path in rows:
        if not _may_manage_path(actor, path):
            continue
        campaign = campaigns.get(schedule.campaign_id) if schedule.campaign_id else None
        views.append(ScheduleView(schedule, next_fires(schedule, now=now, campaign=campaign),
                                  campaign))
    return views


async def _campaigns_by_id(session: AsyncSession, ids: set[int | None]) -> dict[int, Campaign]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {c.id: c for c in await session.scalars(select(Campaign).where(
        Campaign.id.in_(wanted)))}


def _may_manage_path(actor: Actor | None, area_path: str | None) -> bool:
    if actor is None or not can(actor, Permission.BROADCAST):
        return False
    if actor.is_admin:
        return True
    return area_path is not None and can(actor, Permission.BROADCAST, area_path=area_path)


async def area_path_of(session: AsyncSession, area_id: int | None) -> str | None:
    if area_id is None:
        return None
    return await session.scalar(select(Area.path).where(Area.id == area_id))


async def load_for(session: AsyncSession, *, actor: Actor | None,
                   schedule_id: int) -> Schedule | None:
    """The schedule if it exists, is not deleted, and this person may manage it."""
    schedule = await session.get(Schedule, schedule_id)
    if schedule is None or schedule.deleted:
        return None
    if not _may_manage_path(actor, await area_path_of(session, schedule.area_id)):
        return None
    return schedule


async def view_of(session: AsyncSession, schedule: Schedule, *, now: datetime) -> ScheduleView:
    campaign = await session.get(Campaign, schedule.campaign_id) if schedule.campaign_id else None
    return ScheduleView(schedule, next_fires(schedule, now=now, campaign=campaign), campaign)


# -- writing --------------------------------------------------------------------------------

class ScheduleRefused(Exception):
    """The person may not send to this audience (or the scope is unknown)."""


@dataclass
class NewSchedule:
    name: str
    trigger: TriggerSpec
    audience: AudienceSpec
    content: dict[str, Any]
    timezone: str
    kind: str | None = None
    grace: timedelta = DEFAULT_GRACE
    campaign_id: int | None = None
    area_id: int | None = None  # scope; defaults to the author's area
    extra: dict[str, Any] = field(default_factory=dict)


async def create_schedule(session: AsyncSession, *, actor: Actor, author_id: int | None,
                          new: NewSchedule, now: datetime) -> Schedule:
    """Validate the trigger (TriggerError) and the audience (ScheduleRefused), then store."""
    validate(new.trigger, new.timezone, now=now)
    if not await may_target(session, actor, new.audience):
        raise ScheduleRefused
    area_id = new.area_id
    if area_id is None and not actor.is_admin:
        area_id = await actor_area_id(session, actor)
        if area_id is None:
            raise ScheduleRefused
    schedule = Schedule(
        name=new.name[:100], kind=new.kind or (TIP_KIND if is_tip(new.content) else NOTICE_KIND),
        audience=new.audience.to_json(), content=new.content,
        trigger_kind=new.trigger.kind, trigger=new.trigger.to_json(), timezone=new.timezone,
        grace_seconds=int(new.grace.total_seconds()), area_id=area_id,
        campaign_id=new.campaign_id, author_id=author_id, planned_from=now, created_at=now,
        updated_at=now,
    )
    session.add(schedule)
    await session.flush()
    return schedule


async def actor_area_id(session: AsyncSession, actor: Actor) -> int | None:
    if actor.area_path is None:
        return None
    return await session.scalar(select(Area.id).where(Area.path == actor.area_path))


async def set_paused(session: AsyncSession, schedule: Schedule, *, paused: bool,
                     now: datetime, actor_id: int | None = None) -> None:
    """Pause or resume; fires planned while paused are not caught up afterwards."""
    if schedule.paused == paused:
        return
    await _audit(session, actor_id, "schedule.pause" if paused else "schedule.resume",
                 schedule, {"paused": schedule.paused}, {"paused": paused})
    schedule.paused = paused
    if not paused:
        schedule.planned_from = now
    schedule.updated_at = now
    await session.flush()


async def change_trigger(session: AsyncSession, schedule: Schedule, *, trigger: TriggerSpec,
                         now: datetime, actor_id: int | None = None) -> None:
    validate(trigger, schedule.timezone, now=now)
    await _audit(session, actor_id, "schedule.edit_time", schedule,
                 {"trigger": schedule.trigger}, {"trigger": trigger.to_json()})
    schedule.trigger_kind = trigger.kind
    schedule.trigger = trigger.to_json()
    schedule.planned_from = now
    schedule.updated_at = now
    await session.flush()


async def change_text(session: AsyncSession, schedule: Schedule, *, text: str,
                      photo: str | None = None, now: datetime,
                      actor_id: int | None = None) -> None:
    await _audit(session, actor_id, "schedule.edit_text", schedule,
                 {"content": schedule.content}, {"content": text_content(text, photo)})
    schedule.content = text_content(text, photo)
    if schedule.kind == TIP_KIND:
        schedule.kind = NOTICE_KIND
    schedule.updated_at = now
    await session.flush()


async def delete_schedule(session: AsyncSession, schedule: Schedule, *, now: datetime,
                          actor_id: int | None = None) -> None:
    """Soft delete: its broadcasts keep pointing at its key."""
    await _audit(session, actor_id, "schedule.delete", schedule, {"deleted": schedule.deleted},
                 {"deleted": True})
    schedule.deleted = True
    schedule.updated_at = now
    await session.flush()


async def _audit(session: AsyncSession, actor_id: int | None, action: str, schedule: Schedule,
                 before: dict[str, Any], after: dict[str, Any]) -> None:
    await record(session, actor_id=actor_id, action=action, object_type="schedule",
                 object_id=schedule.id, before=before, after=after)


# -- firing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class FirePlan:
    """What to do for one schedule at one tick."""

    send: datetime | None = None  # the fire to send now
    late: tuple[datetime, ...] = ()  # in the window but older than the grace time
    superseded: tuple[datetime, ...] = ()  # within grace, but a later fire is sent instead
    handled_up_to: datetime | None = None  # the new last_fire_at


def plan_fires(schedule: Schedule, *, now: datetime, campaign: Campaign | None = None,
               trigger: BaseTrigger | None = None) -> FirePlan:
    """Planned fires since the last one handled (or since it was planned) up to now: the
    latest within the grace time is sent; older ones are skipped."""
    trigger = trigger or trigger_of(schedule)
    since = max(schedule.last_fire_at or schedule.planned_from, schedule.planned_from,
                now - LOOKBACK)
    grace = timedelta(seconds=schedule.grace_seconds)
    fires = list(fires_between(trigger, since, now))
    if not fires:
        return FirePlan()
    due = [f for f in fires if in_window(campaign, f)]
    fresh = [f for f in due if now - f <= grace]
    send = fresh[-1] if fresh else None
    late = tuple(f for f in due if now - f > grace)
    superseded = tuple(f for f in fresh if f != send)
    return FirePlan(send=send, late=late, superseded=superseded, handled_up_to=fires[-1])


async def due_schedule_ids(session: AsyncSession) -> list[int]:
    return list(await session.scalars(
        select(Schedule.id).where(Schedule.deleted.is_(False), Schedule.paused.is_(False))
        .order_by(Schedule.id)))


# -- campaigns --------------------------------------------------------------------------------

async def create_campaign(
    session: AsyncSession, *, actor: Actor, author_id: int | None, name: str,
    preset: str | None, area_id: int | None, starts_on: date, ends_on: date, timezone: str,
    at: time, categories: Sequence[str], audience: AudienceSpec, now: datetime,
    renotify_minutes: int = SENSITIVE_RENOTIFY_MINUTES,
) -> tuple[Campaign, Schedule]:
    """A campaign, its sensitive period (alerts re-notify every `renotify_minutes` inside
    it) and its default daily schedule: the next tip of `categories` at `at`."""
    if ends_on < starts_on:
        raise ValueError("a campaign ends after it starts")
    if area_id is None and not actor.is_admin:
        raise ScheduleRefused
    if area_id is not None and not can(actor, Permission.BROADCAST,
                                       area_path=await area_path_of(session, area_id)):
        raise ScheduleRefused
    starts_at, ends_at = window_bounds(starts_on, ends_on, timezone)
    period = SensitivePeriod(area_id=area_id, starts_at=starts_at, ends_at=ends_at,
                             renotify_minutes=renotify_minutes, note=name[:200],
                             created_by_id=author_id, created_at=now)
    campaign = Campaign(name=name[:100], preset=preset, area_id=area_id, starts_on=starts_on,
                        ends_on=ends_on, timezone=timezone, author_id=author_id, created_at=now,
                        period=period)
    session.add(campaign)
    await session.flush()
    schedule = await create_schedule(
        session, actor=actor, author_id=author_id, now=now,
        new=NewSchedule(name=name, trigger=TriggerSpec(TriggerKind.DAILY, at=at),
                        audience=audience, content=tip_content(categories), timezone=timezone,
                        kind=TIP_KIND, campaign_id=campaign.id, area_id=area_id))
    await record(session, actor_id=author_id, action="campaign.create", object_type="campaign",
                 object_id=campaign.id,
                 after={"name": campaign.name, "area_id": area_id,
                        "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(),
                        "schedule_id": schedule.id})
    return campaign, schedule


async def visible_campaigns(session: AsyncSession, *, actor: Actor,
                            now: datetime) -> list[Campaign]:
    """Campaigns not yet over that this person may manage, soonest first."""
    rows = (await session.execute(
        select(Campaign, Area.path).outerjoin(Area, Area.id == Campaign.area_id)
        .where(Campaign.ended_at.is_(None)).order_by(Campaign.starts_on, Campaign.id)
    )).all()
    return [c for c, path in rows
            if campaign_active(c, now=now) and _may_manage_path(actor, path)]


async def load_campaign_for(session: AsyncSession, *, actor: Actor | None,
                            campaign_id: int) -> Campaign | None:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        return None
    if not _may_manage_path(actor, await area_path_of(session, campaign.area_id)):
        return None
    return campaign


async def end_campaign(session: AsyncSession, campaign: Campaign, *, now: datetime,
                       actor_id: int | None = None) -> None:
    """End early: its schedules stop firing from now on, and its sensitive period ends."""
    if campaign.ended_at is None:
        await record(session, actor_id=actor_id, action="campaign.end", object_type="campaign",
                     object_id=campaign.id, before={"ended_at": None},
                     after={"ended_at": now.isoformat()})
        campaign.ended_at = now
    if campaign.period is not None and campaign.period.ends_at > now:
        campaign.period.ends_at = now
    await session.flush()


def window_bounds(starts_on: date, ends_on: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants of a window of inclusive local dates: `[start, end)`."""
    tz = ZoneInfo(timezone)
    return (datetime.combine(starts_on, time(0), tz).astimezone(UTC),
            datetime.combine(ends_on + timedelta(days=1), time(0), tz).astimezone(UTC))


async def campaign_audience(session: AsyncSession, *, area_id: int | None) -> AudienceSpec:
    """Everyone in the campaign's area (with sub-areas) and the group chats linked there;
    everywhere: every top-level area."""
    if area_id is not None:
        ids = frozenset({area_id})
    else:
        ids = frozenset(await session.scalars(select(Area.id).where(Area.parent_id.is_(None))))
    return AudienceSpec(area_ids=ids, include_linked_chats_of_areas=True)


@dataclass(frozen=True)
class CampaignPreset:
    """A sensitive period staff can start with two presses: its name, how long it may run,
    and its default daily reminder (the next library tip, categories taking turns)."""

    key: str
    name: str  # an N_() msgid
    lengths: tuple[int, ...]  # days offered, "from today until …"
    at: time
    categories: tuple[str, ...] = ("anti_theft", "anti_fraud")


CAMPAIGN_PRESETS: dict[str, CampaignPreset] = {
    preset.key: preset for preset in (
        CampaignPreset("two_sessions", N_("Two Sessions"), (7, 14), time(9, 0)),
        CampaignPreset("national_day", N_("National Day"), (7, 10), time(9, 0)),
        CampaignPreset("spring_festival", N_("Spring Festival market"), (15, 30), time(8, 30)),
    )
}
