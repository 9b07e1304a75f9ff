"""The duty timers: the reminder before a shift, the nudge after the grace time, the
leader's notice after another, the automatic sign-out. No Telegram.

Every timer is `PatrolDuty.next_due_at` (indexed) with its `stage`: a scan with an
injectable `now` reads the due ones, writes the message to the outbox in the same
transaction as the next stage, so a restart neither loses nor repeats one (each message
also has an idempotency key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.render import in_all_languages
from bot.directory.models import Area, Membership, Person
from bot.i18n import Translate, normalize_language
from bot.patrol import callbacks as cb
from bot.patrol import render
from bot.patrol.models import DutyStage, PatrolDuty, PatrolPost, PatrolShift
from bot.patrol.service import PatrolConfig, sensitive_at
from broadcasts import OutgoingMessage, Priority, enqueue_broadcast

logger = logging.getLogger(__name__)

#: A member's own reminder and nudge: ahead of tips, behind tip-offs.
MEMBER_PRIORITY = Priority.REPORTER_UPDATE
#: The leader's notice of a missed sign-in is as pressing as a routed tip-off.
LEADER_PRIORITY = Priority.TIPOFF
BATCH = 500
#: A leader still hears of a missed shift this long after its end (a bot down for a while).
STALE_NOTICE = timedelta(hours=6)


def language_of(person: Person, default_language: str) -> str:
    return person.language or normalize_language(person.telegram_language, default_language)


def due_query(now: datetime) -> Select[tuple[int]]:
    """Due duties: one search of ix_patrol_duties_due (done duties hold no time)."""
    return (select(PatrolDuty.id).where(PatrolDuty.next_due_at <= now)
            .order_by(PatrolDuty.next_due_at).limit(BATCH))


@dataclass
class ChaseResult:
    reminded: int = 0
    nudged: int = 0
    leaders_told: int = 0
    signed_out: int = 0

    @property
    def sent(self) -> bool:
        return bool(self.reminded or self.nudged or self.leaders_told)


async def run_chase(session: AsyncSession, *, now: datetime, tz: ZoneInfo,
                    config: PatrolConfig, default_language: str) -> ChaseResult:
    """Move every due duty one stage on."""
    result = ChaseResult()
    rows = (await session.execute(
        select(PatrolDuty, Person, PatrolPost, PatrolShift)
        .join(Person, Person.id == PatrolDuty.person_id)
        .join(PatrolPost, PatrolPost.id == PatrolDuty.post_id)
        .join(PatrolShift, PatrolShift.id == PatrolDuty.shift_id)
        .where(PatrolDuty.next_due_at <= now)
        .order_by(PatrolDuty.next_due_at).limit(BATCH))).all()
    for duty, person, post, shift in rows:
        stage = duty.stage
        # After a long stop (the bot was down) a message whose moment has passed is skipped.
        if stage is DutyStage.REMIND:
            if now < duty.starts_at:
                await _remind(session, duty, person, post, shift, tz=tz, config=config,
                              default_language=default_language)
                duty.reminded_at = now
            duty.stage = DutyStage.NUDGE
            duty.next_due_at = duty.starts_at + timedelta(seconds=duty.grace_s)
            result.reminded += duty.reminded_at == now
        elif stage is DutyStage.NUDGE:
            if now < duty.ends_at:
                await _nudge(session, duty, person, post, shift, tz=tz,
                             default_language=default_language)
                duty.nudged_at = now
            duty.stage = DutyStage.TELL_LEADER
            duty.next_due_at = now + timedelta(seconds=duty.grace_s)
            result.nudged += duty.nudged_at == now
        elif stage is DutyStage.TELL_LEADER:
            if now < duty.ends_at + STALE_NOTICE:
                await _tell_leaders(session, duty, person, post, shift, tz=tz,
                                    default_language=default_language)
                duty.leader_told_at = now
            duty.stage, duty.next_due_at = DutyStage.DONE, None
            result.leaders_told += duty.leader_told_at == now
        elif stage is DutyStage.SIGN_OUT:
            if duty.signed_out_at is None:
                duty.signed_out_at = duty.ends_at
                duty.auto_signed_out = True
                result.signed_out += 1
            duty.stage, duty.next_due_at = DutyStage.DONE, None
        else:
            duty.next_due_at = None
    return result


async def _member_message(session: AsyncSession, duty: PatrolDuty, person: Person, what: str,
                          build: Callable[[Translate], str], default_language: str) -> None:
    if person.telegram_id is None:
        return
    language = language_of(person, default_language)
    await enqueue_broadcast(
        session, kind=f"patrol_{what}", priority=MEMBER_PRIORITY,
        content=in_all_languages(lambda _: OutgoingMessage(
            text=build(_)), language),
        recipients=[(person.telegram_id, language)], audience={"patrol_duty": duty.id},
        schedule_key=f"patrol:{duty.id}:{what}", fire_at=duty.starts_at)


async def _remind(session: AsyncSession, duty: PatrolDuty, person: Person, post: PatrolPost,
                  shift: PatrolShift, *, tz: ZoneInfo, config: PatrolConfig,
                  default_language: str) -> None:
    area_path = await session.scalar(select(Area.path).where(Area.id == post.area_id)) or "/"
    sensitive = await sensitive_at(session, area_path=area_path, moment=duty.starts_at)
    minutes = max(0, round((duty.starts_at - (duty.next_due_at or duty.starts_at))
                           .total_seconds() / 60))
    await _member_message(
        session, duty, person, "remind",
        lambda _: render.reminder_text(_, name=person.name, post=post.name, shift=shift.name,
                                       starts_at=duty.starts_at, ends_at=duty.ends_at,
                                       minutes=minutes, tz=tz, sensitive=sensitive),
        default_language)


async def _nudge(session: AsyncSession, duty: PatrolDuty, person: Person, post: PatrolPost,
                 shift: PatrolShift, *, tz: ZoneInfo, default_language: str) -> None:
    await _member_message(
        session, duty, person, "nudge",
        lambda _: render.nudge_text(_, name=person.name, post=post.name, shift=shift.name,
                                    starts_at=duty.starts_at, tz=tz),
        default_language)


async def _tell_leaders(session: AsyncSession, duty: PatrolDuty, person: Person,
                        post: PatrolPost, shift: PatrolShift, *, tz: ZoneInfo,
                        default_language: str) -> None:
    """Who is missing at which post, to each leader of the team (not the missing one)."""
    leaders = list(await session.scalars(
        select(Person).join(Membership, Membership.person_id == Person.id)
        .where(Membership.team_id == duty.team_id, Membership.is_leader.is_(True),
               Person.id != person.id, Person.telegram_id.is_not(None))))
    if not leaders:
        logger.warning("A missed sign-in but the team has no leader to tell",
                       extra={"team_id": duty.team_id, "duty_id": duty.id})
        return
    for leader in leaders:
        assert leader.telegram_id is not None
        language = language_of(leader, default_language)
        await enqueue_broadcast(
            session, kind="patrol_missing", priority=LEADER_PRIORITY,
            content=in_all_languages(lambda _: OutgoingMessage(
                text=render.missing_text(_, name=person.name, post=post.name, shift=shift.name,
                                         starts_at=duty.starts_at, tz=tz),
                buttons=(((_(render.COVERED_BY), cb.data("cv", duty.id)),
                          (_(render.EXCUSED), cb.data("ex", duty.id))),)), language),
            recipients=[(leader.telegram_id, language)], audience={"patrol_duty": duty.id},
            schedule_key=f"patrol:{duty.id}:missing:{leader.id}", fire_at=duty.starts_at)
