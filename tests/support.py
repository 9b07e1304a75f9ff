"""Helpers that let an end-to-end test read like a story."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.triggers.date import DateTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import BotApplication, build_application
from bot.broadcasting.common import CLOCK_KEY as BROADCASTING_CLOCK
from bot.figures.handlers import CLOCK_KEY as FIGURES_CLOCK
from bot.patrol.common import CLOCK_KEY as PATROL_CLOCK
from bot.settings import Settings
from tests.fake_telegram import FakeTelegram

#: A one-shot job due this soon (an album's collection window, a debounced status edit), or
#: any job running, is the bot still at work: stories wait for it rather than for a quiet
#: spell long enough on a fast machine. Later ones (a draft's 15-minute timeout) are not.
DUE_SOON = timedelta(seconds=5)
#: Clocks of features that act at set local times: patrol leaders are asked for the
#: all-clear at 21:00 and cadres get the summary at 21:30, the monthly figures go out at 09:00
#: on the 1st, and quiet hours (21:30–07:30) hold the composer's and the scam warning's sends.
#: A story run at such a time got other messages, or none (a CI run at 21:00 in Shanghai
#: failed so), so unless a test sets these clocks, they read `daytime_clock`.
DAYTIME_CLOCKS = (PATROL_CLOCK, FIGURES_CLOCK, BROADCASTING_CLOCK)


def daytime_clock(tz: ZoneInfo) -> Callable[[], datetime]:
    """A clock running from 10:00 today in `tz` (the 2nd of the month instead of the 1st),
    as fast as real time."""
    now = datetime.now(tz)
    day = now.date() + timedelta(days=1 if now.day == 1 else 0)
    start, started = datetime.combine(day, time(10, 0), tzinfo=tz), monotonic()
    return lambda: (start + timedelta(seconds=monotonic() - started)).astimezone(UTC)


@dataclass
class BotRunner:
    """Starts and stops the bot the way `run_polling` would, inside the test's event loop.

    `restart()` stops the Application and starts a new one on the same database,
    which is how a crash-and-restart looks from the outside.
    """

    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    fake: FakeTelegram
    application: BotApplication | None = None
    console: list[str] = field(default_factory=list)
    #: Run times submitted to the executor and not yet executed, failed or missed. A run
    #: missed by more than its grace time (the loop was blocked on a busy machine) ends with
    #: EVENT_JOB_MISSED and no EXECUTED event, so counting events would never come back to 0.
    running_jobs: set[tuple[str, datetime]] = field(default_factory=set)
    #: Handlers marked `block=False` (a roster's check) run as tasks the Application
    #: creates; the update counts as handled at once, so stories wait for these too.
    handler_tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start(self, **overrides: Any) -> BotApplication:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        application = build_application(settings, session_factory=self.session_factory)
        clock = daytime_clock(settings.tz)
        for key in DAYTIME_CLOCKS:
            application.bot_data["services"].extras.setdefault(key, clock)
        self.running_jobs = set()
        if application.job_queue is not None:
            application.job_queue.scheduler.add_listener(
                self._count_jobs,
                EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        self._track_tasks(application)
        await application.initialize()
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=1,
                                                drop_pending_updates=False)
        self.application = application
        self.fake.busy_checks.append(self._handling_an_update)
        return application

    def _track_tasks(self, application: BotApplication) -> None:
        """Note each task `Application.create_task` makes (PTB runs a non-blocking handler
        through it) until it is done; the task itself is PTB's, unchanged."""
        create_task = application.create_task
        self.handler_tasks = set()

        def tracked(coroutine: Any, update: object = None, *,
                    name: str | None = None) -> asyncio.Task[Any]:
            task = create_task(coroutine, update=update, name=name)
            self.handler_tasks.add(task)
            task.add_done_callback(self.handler_tasks.discard)
            return task

        application.create_task = tracked  # type: ignore[method-assign]

    def _handling_an_update(self) -> bool:
        application = self.application
        return application is not None and (
            not application.update_queue.empty()
            or application.update_processor.current_concurrent_updates > 0
            or bool(self.handler_tasks)
            or bool(self.running_jobs)
            or self._job_due_soon()
        )

    def _count_jobs(self, event: JobSubmissionEvent | JobExecutionEvent) -> None:
        if isinstance(event, JobSubmissionEvent):
            self.running_jobs.update((event.job_id, at) for at in event.scheduled_run_times)
        else:
            self.running_jobs.discard((event.job_id, event.scheduled_run_time))

    def _job_due_soon(self) -> bool:
        queue = self.application.job_queue if self.application is not None else None
        if queue is None:
            return False
        horizon = datetime.now(UTC) + DUE_SOON
        return any(isinstance(job.job.trigger, DateTrigger) and job.next_t is not None
                   and job.next_t <= horizon for job in queue.jobs())

    async def stop(self) -> None:
        application = self.application
        if application is None:
            return
        self.application = None
        if self._handling_an_update in self.fake.busy_checks:
            self.fake.busy_checks.remove(self._handling_an_update)
        assert application.updater is not None
        if application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        if application.post_stop is not None:
            await application.post_stop(application)
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
        await application.shutdown()

    async def restart(self, **overrides: Any) -> BotApplication:
        await self.stop()
        return await self.start(**overrides)


def menu(fake: FakeTelegram, scope: str, language: str = "") -> list[dict[str, str]] | None:
    """The command menu the bot set for a scope (`default`, `chat:<id>`) and language code."""
    return fake.commands.get((scope, language))
