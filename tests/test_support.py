"""The story helpers themselves: a test that waits for the bot must not wait forever."""

from __future__ import annotations

import asyncio
import time

from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner


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
