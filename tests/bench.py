"""Performance figures: ``python -m tests.bench [--scale N]``; one ``name: value`` a line.

Not a test. Runs the real PTB bot (through ``bot.sending``) against the fake Bot API
server, which is served from a child process (``tests/bench_fake.py``) so the bot's
CPU is measured alone. Telegram's limits are scaled ×``scale`` on both sides (the
fake's buckets and our limiter; PTB's ``AIORateLimiter`` overall rate too): only
ratios are compared. The fake enforces them as strict sliding windows (any 150 sends
in any second at ×5; ``--bucket`` for its token buckets), the least forgiving model
Telegram's unpublished one could be, for the broadcast, storm and alert figures and the
comparisons with them. The storm figures run at the real limits whatever ``scale`` is
(their pauses are real seconds). Each benchmark is an async generator of ``(name, value)``;
add more to ``BENCHES`` (the audience, tip-off and alert figures come from their own
modules, ``tests/bench_<name>.py``; ``--only alerts`` runs one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import io
import logging
import math
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, ExtBot
from telegram.warnings import PTBUserWarning

from bot.db import create_engine, create_session_factory
from bot.sending import AiohttpRequest, TelegramSender
from broadcasts import (
    Base,
    Delivery,
    Dispatcher,
    Limiter,
    Limits,
    OutgoingMessage,
    Priority,
    enqueue_broadcast,
)
from tests.bench_alerts import bench_alerts
from tests.bench_audience import bench_audience
from tests.bench_fake import RemoteFake
from tests.bench_figures import bench_figures
from tests.bench_instances import bench_instances
from tests.bench_patrol import bench_patrol
from tests.bench_recovery import bench_recovery
from tests.bench_roster import bench_roster
from tests.bench_scamcheck import bench_scamcheck
from tests.bench_tipoff import bench_tipoff
from tests.fake_telegram import Limits as FakeLimits

N = 3000
TEXT = "【平安社区】防诈骗提醒：公检法不会通过电话要求转账，接到可疑电话请拨打 110。"
#: 1 % of sends are delivered but their answer is lost: half the connections dropped,
#: half stalled past the bot's 5 s read timeout, so a retry may duplicate them.
STORM = {
    "p429": 0.10, "retry_after": [1, 3], "p5xx": 0.02, "plost": 0.01, "lost_stall": 6.0,
    "seed": 7,
}
CONCURRENCY = 32


@dataclass
class Context:
    fake: RemoteFake
    scale: float
    workdir: Path
    #: Strict sliding windows on the fake (else its token buckets).
    strict: bool = True

    @property
    def fake_limits(self) -> FakeLimits:
        """Telegram's limits ×scale, as the fake enforces them."""
        return FakeLimits(strict=self.strict).scaled(self.scale)

    @property
    def limits(self) -> Limits:
        """The same limits for our limiter."""
        f = self.fake_limits
        return Limits(
            overall_per_s=f.overall_per_s,
            chat_per_s=f.chat_per_s,
            chat_burst=int(f.chat_burst),
            group_per_min=f.group_per_min,
        )

    def bot(self, **kwargs: Any) -> Bot:
        kwargs.setdefault("request", AiohttpRequest(connection_pool_size=CONCURRENCY))
        cls = ExtBot if "rate_limiter" in kwargs else Bot
        return cls(self.fake.token, base_url=self.fake.base_url, **kwargs)

    def database(self, name: str) -> tuple[Any, async_sessionmaker[AsyncSession]]:
        engine = create_engine(f"sqlite+aiosqlite:///{self.workdir / name}.db")
        return engine, create_session_factory(engine)


Bench = Callable[[Context], AsyncIterator[tuple[str, float]]]


# -- the engine ------------------------------------------------------------------------


async def _dispatch(
    ctx: Context, name: str, chats: list[int], limits: Limits
) -> tuple[float, float, set[int]]:
    """Enqueue one broadcast to ``chats`` and run a dispatcher until all is settled.

    Returns (wall seconds, CPU seconds) of the sending alone, and the chats whose
    delivery the bot flagged as a possible duplicate.
    """
    engine, factory = ctx.database(name)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with factory() as s, s.begin():
        await enqueue_broadcast(
            s,
            kind="anti_fraud",
            priority=Priority.NORMAL,
            content={"zh-CN": OutgoingMessage(text=TEXT)},
            recipients=((c, "zh-CN") for c in chats),
        )
    async with ctx.bot() as bot:
        dispatcher = Dispatcher(
            factory, TelegramSender(bot), Limiter(limits), concurrency=CONCURRENCY
        )
        wall, cpu = time.monotonic(), time.process_time()
        await dispatcher.start()
        await dispatcher.wait_idle()
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        await dispatcher.stop()
    async with factory() as s:
        flagged = set(await s.scalars(select(Delivery.chat_id).where(Delivery.possible_duplicate)))
    await engine.dispose()
    return wall, cpu, flagged


async def broadcast_3000(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    await ctx.fake.reset(ctx.fake_limits)
    chats = await ctx.fake.users(N)
    wall, _, _ = await _dispatch(ctx, "broadcast", chats, ctx.limits)
    stats = await ctx.fake.stats(chats)
    yield "broadcast_3000_rate_ratio", stats["delivered"] / wall / ctx.limits.overall_per_s
    yield "broadcast_3000_429", stats["answered_429"]
    yield "broadcast_3000_lost", stats["lost"]


def _real_limits(ctx: Context) -> Context:
    """The storm's pauses are Telegram's (``retry_after`` of 1–3 s, backoff from 1 s) and
    are not sped up: at ×5 limits they would weigh five times what they do for real."""
    return dataclasses.replace(ctx, scale=1.0)


async def storm_3000(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    """At Telegram's real limits (``_real_limits``), as the issue measured it."""
    ctx = _real_limits(ctx)
    await ctx.fake.reset(ctx.fake_limits, storm=STORM)
    chats = await ctx.fake.users(N)
    wall, _, flagged = await _dispatch(ctx, "storm", chats, ctx.limits)
    stats = await ctx.fake.stats(chats)
    doubled = set(stats["duplicate_chats"])
    yield "storm_3000_lost", stats["lost"]
    yield "storm_3000_duplicates", len(doubled)  # chats the fake saw get 2+ copies
    yield "storm_3000_possible_duplicates", len(flagged)  # rows the bot flagged
    yield "storm_3000_unflagged_duplicates", len(doubled - flagged)
    yield "storm_3000_s", wall
    yield "storm_3000_rate_ratio", (N - stats["lost"]) / wall / ctx.limits.overall_per_s


async def unlimited(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    n = 5000
    await ctx.fake.reset(FakeLimits(enforce=False, max_in_flight=10_000))
    chats = await ctx.fake.users(n)
    lifted = Limits(overall_per_s=math.inf, chat_per_s=math.inf, group_per_min=math.inf)
    wall, cpu, _ = await _dispatch(ctx, "unlimited", chats, lifted)
    stats = await ctx.fake.stats(chats)
    yield "unlimited_msgs_per_s", stats["delivered"] / wall
    yield "cpu_ms_per_msg", cpu / max(1, stats["delivered"]) * 1000


# -- the comparisons: a plain loop, and PTB's own limiter --------------------------------


async def _loop(bot: Bot, chats: list[int], *, gather: bool = False) -> tuple[float, int]:
    """Send one message per chat, counting (not raising) errors; returns (seconds, errors)."""
    errors = 0

    async def one(chat: int) -> None:
        nonlocal errors
        try:
            await bot.send_message(chat, TEXT)
        except TelegramError:
            errors += 1

    start = time.monotonic()
    if gather:
        await asyncio.gather(*(one(c) for c in chats))
    else:
        for chat in chats:
            await one(chat)
    return time.monotonic() - start, errors


def _aioratelimiter(ctx: Context, **kwargs: Any) -> AIORateLimiter:
    """PTB's limiter at its defaults, its overall rate scaled like the fake's."""
    return AIORateLimiter(overall_max_rate=30 * ctx.scale, **kwargs)


async def _compare(
    ctx: Context, prefix: str, storm: dict[str, Any] | None = None, **bot: Any
) -> AsyncIterator[tuple[str, float]]:
    gather = bot.pop("gather", False)
    await ctx.fake.reset(ctx.fake_limits, storm=storm)
    chats = await ctx.fake.users(N)
    async with ctx.bot(**bot) as b:
        wall, _ = await _loop(b, chats, gather=gather)
    stats = await ctx.fake.stats(chats)
    yield f"{prefix}_rate_ratio", stats["delivered"] / wall / ctx.limits.overall_per_s
    if storm is None:
        yield f"{prefix}_429", stats["answered_429"]
    yield f"{prefix}_lost", stats["lost"]


async def naive_3000(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    async for figure in _compare(ctx, "naive_3000"):
        yield figure


async def aioratelimiter_3000(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    async for figure in _compare(ctx, "aioratelimiter_3000", rate_limiter=_aioratelimiter(ctx)):
        yield figure


async def aioratelimiter_storm_3000(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    """With retries on, all sends at once (a sequential loop would sleep out every 429);
    at real limits like ``storm_3000``."""
    ctx = _real_limits(ctx)
    limiter = _aioratelimiter(ctx, max_retries=3)
    async for name, value in _compare(
        ctx, "aioratelimiter_storm_3000", storm=STORM, rate_limiter=limiter, gather=True
    ):
        yield name, value


# -- fan-out -----------------------------------------------------------------------------


def _people(n: int) -> Iterator[tuple[int, str]]:
    for i in range(n):
        yield 800_000_000 + i, ("zh-CN", "zh-TW", "en")[i % 3]


async def _fanout(ctx: Context, name: str) -> float:
    engine, factory = ctx.database(name)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    start = time.monotonic()
    async with factory() as s, s.begin():
        await enqueue_broadcast(
            s,
            kind="tip",
            priority=Priority.NORMAL,
            content={"zh-CN": OutgoingMessage(text=TEXT)},
            recipients=_people(100_000),
        )
    elapsed = time.monotonic() - start
    await engine.dispose()
    return elapsed


async def fanout_100k(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    yield "fanout_100k_s", await _fanout(ctx, "fanout")
    tracemalloc.start()  # a second run: tracing slows it down, so it is not the one timed
    await _fanout(ctx, "fanout_traced")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    yield "fanout_100k_peak_mb", peak / 2**20


# -- the other modules' figures -----------------------------------------------------------
# Each builds its own database and, where it needs the story API (users pressing buttons),
# its own in-process fake; the child-process fake idles meanwhile.


async def audience(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    """Audience resolution over 100,000 people (no limits involved: ``scale`` unused)."""
    with contextlib.redirect_stdout(io.StringIO()):  # its own summary line is not a figure
        figures = await bench_audience()
    for figure in figures:
        yield figure


async def tipoff(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    """A tip-off reaching its team's group, at Telegram's real limits (not scaled)."""
    for figure in await bench_tipoff():
        yield figure


async def two_instances(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    """Two bot processes on one PostgreSQL database (see tests/bench_instances.py)."""
    async for figure in bench_instances(ctx):
        yield figure


async def recovery(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    """One bot process on SQLite: a broadcast another process commits, and the bot killed
    half-way through 3,000 chats and restarted (see tests/bench_recovery.py)."""
    async for figure in bench_recovery(ctx):
        yield figure


async def alerts(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    """An alert overtaking a tip broadcast, and one to 3,000 people; limits ×``scale``."""
    for figure in await bench_alerts(ctx.scale, strict=ctx.strict):
        yield figure


async def roster_import(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    """A 5,000-row roster through /import, and /help answered meanwhile (real limits)."""
    for figure in await bench_roster():
        yield figure


async def scamcheck(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    """The scam checker: recall, false positives, time per message; held-out recall and FPs."""
    for figure in bench_scamcheck():
        yield figure


async def figures(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    """The whole /figures for "this year" over a year of a street office (no limits)."""
    for figure in await bench_figures():
        yield figure


async def patrol(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    """300 patrol sign-ins within a second, and a missed sign-in's notice, at Telegram's real
    limits (not scaled): the issue sets the floor there, 300 ÷ 30/s = 10 s."""
    for figure in await bench_patrol(1.0):
        yield figure


BENCHES: list[Bench] = [
    broadcast_3000,
    naive_3000,
    aioratelimiter_3000,
    storm_3000,
    aioratelimiter_storm_3000,
    unlimited,
    fanout_100k,
    audience,
    tipoff,
    alerts,
    scamcheck,
    figures,
    patrol,
    roster_import,
    recovery,
    two_instances,
]


def _format(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3f}"


async def main(scale: float, only: list[str] | None = None, *, strict: bool = True) -> None:
    print(f"scale: {scale:g}", flush=True)
    print(f"limits: {'strict sliding windows' if strict else 'token buckets'}", flush=True)
    fake = await RemoteFake.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = Context(fake=fake, scale=scale, workdir=Path(tmp), strict=strict)
            for bench in BENCHES:
                if only and bench.__name__ not in only:
                    continue
                async for name, value in bench(ctx):
                    print(f"{name}: {_format(value)}", flush=True)
    finally:
        await fake.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)  # AIORateLimiter logs every loss it causes
    logging.getLogger("broadcasts.limits").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=PTBUserWarning)  # per_message notes at build
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=5.0)
    parser.add_argument("--bucket", action="store_true",
                        help="the fake's token buckets instead of strict sliding windows")
    parser.add_argument("only", nargs="*", help="run only these benchmarks")
    args = parser.parse_args()
    asyncio.run(main(args.scale, args.only, strict=not args.bucket))
