"""One `python -m bot run` process on SQLite: broadcasts another process commits, and the
bot killed half-way through 3,000 chats and restarted.

The bot runs in webhook mode (as in tests/bench_instances.py) with its limits ×scale, on
a database of its own that this process writes to like `python -m bot broadcast` would.

- `pickup_s`: the broadcast's commit here → its first delivery at the fake; the worst
  of five.
- `kill_recovery_s`: after a SIGKILL half-way, the restart (the process spawned) → the
  last row sent, minus what the remaining rows need at the rate the bot sent at before
  the kill: what the crash cost beyond the sending itself, process start included
  (`kill_first_send_s`, the restart → its first delivery, is mostly that start: Python
  importing the bot, the migrations' check, going online).
- `kill_possible_duplicates`: rows the bot flagged (at most its concurrency, 16);
  `kill_duplicates`: chats the fake saw get a copy twice (never more than the flagged).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from bot.db import create_engine, create_session_factory
from broadcasts import Delivery
from tests.test_two_instances import broadcast, start_instance, unsettled, until

if TYPE_CHECKING:
    from tests.bench import Context

N = 3000
PICKUPS = 5


async def bench_recovery(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'recovery.db'}"
        await ctx.fake.reset(ctx.fake_limits)
        bot = await start_instance(ctx.fake, url, Path(tmp), "first", ctx.scale)
        instances = [bot]
        engine = create_engine(url)
        factory = create_session_factory(engine)
        try:
            async def sending() -> bool:
                return bool((await instances[-1].health() or {}).get("sends_here"))

            await until(sending, "the bot sends", instances)
            worst = 0.0
            for _ in range(PICKUPS):
                [chat] = await ctx.fake.users(1)
                before = (await ctx.fake.stats())["delivered"]
                await broadcast(factory, [chat])
                committed = time.monotonic()

                async def delivered(before: int = before) -> bool:
                    return (await ctx.fake.stats())["delivered"] > before

                await until(delivered, "the broadcast is picked up", instances, 0.005)
                worst = max(worst, time.monotonic() - committed)
            yield "pickup_s", worst

            await ctx.fake.reset(ctx.fake_limits)
            chats = await ctx.fake.users(N)
            await broadcast(factory, chats)

            async def half_way() -> bool:
                return (await ctx.fake.stats())["delivered"] >= N // 2

            await until(half_way, "half the broadcast is sent", instances, 0.02)
            bot.process.kill()
            await bot.process.wait()
            stats = await ctx.fake.stats(chats)
            remaining, rate = stats["lost"], stats["delivery_rate"]
            restarted = datetime.now(UTC)
            instances.append(await start_instance(ctx.fake, url, Path(tmp), "second",
                                                  ctx.scale))

            async def resumed(before: int = stats["delivered"]) -> bool:
                return (await ctx.fake.stats())["delivered"] > before

            async def settled() -> bool:
                return await unsettled(factory) == 0

            await until(resumed, "the restarted bot sends", instances, 0.01)
            first_send = datetime.now(UTC)
            await until(settled, "the broadcast is settled", instances, 0.05)
            async with factory() as session:
                last = await session.scalar(select(func.max(Delivery.sent_at)))
                flagged = await session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.possible_duplicate))
            assert last is not None
            stats = await ctx.fake.stats(chats)
            yield ("kill_recovery_s",
                   (last - restarted).total_seconds() - remaining / rate)
            yield "kill_first_send_s", (first_send - restarted).total_seconds()
            yield "kill_possible_duplicates", int(flagged or 0)
            yield "kill_duplicates", len(stats["duplicate_chats"])
            yield "kill_lost", stats["lost"]
        finally:
            for instance in instances:
                if instance.process.returncode is None:
                    instance.process.terminate()
                    await instance.process.wait()
            await engine.dispose()
