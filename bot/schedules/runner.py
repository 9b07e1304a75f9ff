"""The schedule runner: one tick looks at every schedule and sends what is due.

The database is the source of truth. A tick (every `TICK_SECONDS` from a JobQueue job, and
once at start as the catch-up) computes each schedule's planned fires since its
`last_fire_at`; the latest one within the grace time is sent through
`bot.broadcasting.service.send_broadcast` with `schedule_key="schedule:<id>"` and
`fire_at=<the planned time in UTC>`, which writes each fire once however often it is
asked (two ticks, two processes, a restart). Older planned fires are skipped and logged.
Each schedule is handled in its own transaction together with its `last_fire_at`.

Tests call `tick(now=...)` with an explicit time instead of sleeping. No Telegram import.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.broadcasting.service import BroadcastKind, FixedContent, NextTip, send_broadcast
from bot.db import transaction, utcnow
from bot.directory.audience import AudienceSpec
from bot.schedules import service
from bot.schedules.models import Campaign, Schedule

logger = logging.getLogger(__name__)

TICK_SECONDS = 20.0
#: At most this many skipped fires are logged one by one per schedule and tick.
LOG_SKIPPED = 20


@dataclass(frozen=True)
class FireOutcome:
    schedule_id: int
    fire_at: datetime
    broadcast_id: int | None  # None: that fire had been written already


SendFire = Callable[[AsyncSession, Schedule, datetime, datetime], Awaitable[int | None]]


class ScheduleRunner:
    """Runs due schedules; `wake` is called after a tick that wrote a broadcast."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *,
                 default_language: str, wake: Callable[[], None] | None = None,
                 send: SendFire | None = None) -> None:
        self.session_factory = session_factory
        self.default_language = default_language
        self.wake = wake
        self._send = send or self.send_fire

    async def tick(self, *, now: datetime | None = None) -> list[FireOutcome]:
        """Handle every active schedule once; returns the fires sent (or found sent)."""
        now = now or utcnow()
        async with self.session_factory() as session:
            ids = await service.due_schedule_ids(session)
        outcomes: list[FireOutcome] = []
        for schedule_id in ids:
            try:
                outcome = await self._run_one(schedule_id, now)
            except Exception:
                # One broken schedule must not stop the others; retried on the next tick.
                logger.exception("Schedule %s failed; will retry", schedule_id,
                                 extra={"schedule_id": schedule_id})
                continue
            if outcome is not None:
                outcomes.append(outcome)
        if self.wake is not None and any(o.broadcast_id is not None for o in outcomes):
            self.wake()
        return outcomes

    async def _run_one(self, schedule_id: int, now: datetime) -> FireOutcome | None:
        async with transaction(self.session_factory) as session:
            # Locked while it is handled: a second instance ticking at the same moment
            # skips it rather than write the same fire's outcome over ("already sent").
            schedule = (await session.scalars(
                select(Schedule).where(Schedule.id == schedule_id)
                .with_for_update(skip_locked=True))).one_or_none()
            if schedule is None or schedule.paused or schedule.deleted:
                return None
            campaign = (await session.get(Campaign, schedule.campaign_id)
                        if schedule.campaign_id else None)
            plan = service.plan_fires(schedule, now=now, campaign=campaign)
            if plan.handled_up_to is None:
                return None
            self._log_skipped(schedule, plan)
            outcome = None
            if plan.send is not None:
                try:
                    async with session.begin_nested():
                        broadcast_id = await self._send(session, schedule, plan.send, now)
                except ValueError as exc:
                    # Permanent (an audience that is now empty, a bad category): note it
                    # and move on rather than retrying every tick.
                    logger.warning("Schedule %s could not fire for %s: %s", schedule.id,
                                   plan.send.isoformat(), exc,
                                   extra={"schedule_id": schedule.id, "fire_at": plan.send})
                    schedule.last_outcome = f"failed: {exc}"[:200]
                    schedule.last_fire_at = plan.handled_up_to
                    return None
                outcome = FireOutcome(schedule.id, plan.send, broadcast_id)
                schedule.last_outcome = "sent" if broadcast_id is not None else "already sent"
                logger.info("Schedule %s fired for %s (broadcast %s)", schedule.id,
                            plan.send.isoformat(), broadcast_id,
                            extra={"schedule_id": schedule.id, "fire_at": plan.send})
            elif plan.late:
                schedule.last_outcome = "skipped"
            schedule.last_fire_at = plan.handled_up_to
            return outcome

    @staticmethod
    def _log_skipped(schedule: Schedule, plan: service.FirePlan) -> None:
        grace_min = schedule.grace_seconds // 60
        for fire in plan.late[-LOG_SKIPPED:]:
            logger.info("Schedule %s: skipped the fire planned for %s (missed by more than "
                        "its grace time of %s min)", schedule.id, fire.isoformat(), grace_min,
                        extra={"schedule_id": schedule.id, "fire_at": fire})
        if len(plan.late) > LOG_SKIPPED:
            logger.info("Schedule %s: %s older missed fires skipped as well", schedule.id,
                        len(plan.late) - LOG_SKIPPED, extra={"schedule_id": schedule.id})
        for fire in plan.superseded:
            logger.info("Schedule %s: skipped the fire planned for %s (a later one is sent)",
                        schedule.id, fire.isoformat(),
                        extra={"schedule_id": schedule.id, "fire_at": fire})

    async def send_fire(self, session: AsyncSession, schedule: Schedule, fire_at: datetime,
                        now: datetime) -> int | None:
        """Write the broadcast of one fire (idempotent on schedule × fire time)."""
        tz = ZoneInfo(schedule.timezone)
        kind = BroadcastKind(schedule.kind)
        content: FixedContent | NextTip
        if service.is_tip(schedule.content):
            category = service.tip_category_for(schedule.content, fire_at, tz)
            content = NextTip(category)
            if category == "anti_fraud" and kind is BroadcastKind.SAFETY_TIP:
                kind = BroadcastKind.ANTI_FRAUD
        else:
            content = FixedContent(text=schedule.content.get("text") or None,
                                   photo=schedule.content.get("photo"))
        broadcast = await send_broadcast(
            session, kind=kind, audience=AudienceSpec.from_json(schedule.audience),
            content=content, author_id=schedule.author_id, now=now,
            default_language=self.default_language, tz=tz,
            schedule_key=schedule.key, fire_at=fire_at)
        return broadcast.id if broadcast is not None else None
