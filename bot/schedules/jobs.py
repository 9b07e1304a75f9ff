"""Starting the schedule runner inside the Application: the JobQueue drives its ticks.

PTB's JobQueue keeps jobs in memory only (FACTS.md): it is the clock here, never the
record. `start_schedules` builds one `ScheduleRunner` over the database and a repeating
job; the first tick, a second after start, is the catch-up for fires missed while the bot
was down.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram.ext import Application, CallbackContext

from bot.schedules.runner import TICK_SECONDS, ScheduleRunner

logger = logging.getLogger(__name__)

RUNNER_KEY = "schedule_runner"
TICK_JOB = "schedules.tick"
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def runner_of(application: AnyApplication) -> ScheduleRunner | None:
    return application.bot_data["services"].extras.get(RUNNER_KEY)


async def _tick(context: CallbackContext[Any, Any, Any, Any]) -> None:
    runner = runner_of(context.application)
    if runner is not None:
        await runner.tick()


async def start_schedules(application: AnyApplication, *, first: float = 1.0) -> ScheduleRunner:
    """Build the runner from the database and start ticking (call from `post_init`)."""
    services = application.bot_data["services"]

    def wake() -> None:
        if services.dispatcher is not None:
            services.dispatcher.wake()

    runner = ScheduleRunner(services.session_factory,
                            default_language=services.settings.default_language, wake=wake)
    services.extras[RUNNER_KEY] = runner
    if application.job_queue is None:  # pragma: no cover - the job-queue extra is required
        logger.warning("No job queue: schedules will not run")
        return runner
    for job in application.job_queue.get_jobs_by_name(TICK_JOB):
        job.schedule_removal()
    application.job_queue.run_repeating(_tick, interval=TICK_SECONDS, first=first,
                                        name=TICK_JOB)
    logger.info("Schedules: ticking every %ss", TICK_SECONDS)
    return runner
