"""The story helpers themselves: a test that waits for the bot must not wait forever."""

from __future__ import annotations

import asyncio
import time

from tests.fake_telegram import FakeTelegram
from tests.support import DAYTIME_CLOCKS, BotRunner


async def test_a_job_missed_while_the_loop_was_blocked_does_not_keep_the_bot_busy(
    bot: BotRunner, fake: FakeTelegram
) -> None:
    """On a busy machine the loop can stall past a job's grace time; APScheduler then
    reports the run as missed and never as executed. The bot is idle afterwards."""
    ran: list[str] = []

    async def job(_context: object) -> None:
        ran.append("ran")

    assert bot.application is not None and bot.application.job_queue is not None
    bot.application.job_queue.run_once(job, when=0.05, job_kwargs={"misfire_grace_time": 1})
    time.sleep(1.4)  # noqa: ASYNC251 - the loop is stuck: the run is late past its grace
    await asyncio.sleep(0.3)

    await fake.settle(timeout=5.0)

    assert ran == []
    assert not bot.running_jobs


async def test_stories_meet_no_evening_or_monthly_work_whatever_the_hour(bot: BotRunner) -> None:
    """Unless a test sets them, the clocks of patrol's evening (21:00, 21:30) and the monthly
    figures (09:00 on the 1st) read 10:00 on an ordinary day: a story run in Shanghai's
    evening got the patrol leaders' all-clear question and failed."""
    assert bot.application is not None
    extras = bot.application.bot_data["services"].extras
    for key in DAYTIME_CLOCKS:
        local = extras[key]().astimezone(bot.settings.tz)
        assert local.hour == 10 and local.day != 1
