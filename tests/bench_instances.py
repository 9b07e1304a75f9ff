"""Two instances on one PostgreSQL database: a 1,000-chat broadcast, then the sender
killed mid-broadcast.

Two `python -m bot run` processes in webhook mode share a database on the server in
`TEST_DATABASE_URL`, or on a throw-away cluster (`tests/pg_cluster.py`) started for the
run. The rate ratio is the fake's delivery rate (first to last delivery) over the bot's
configured overall rate; `failover_s` runs from the SIGKILL to the first message the other
instance delivers.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bot.db import create_engine, create_session_factory
from tests import pg_cluster
from tests.databases import create_database, drop_database, server_url
from tests.test_two_instances import broadcast, running_two, unsettled, until

if TYPE_CHECKING:
    from tests.bench import Context

N = 1000


@contextlib.contextmanager
def postgresql() -> Iterator[str]:
    server = server_url()
    if server is not None:
        yield server
        return
    with pg_cluster.cluster() as url:
        yield url


async def bench_instances(ctx: Context) -> AsyncIterator[tuple[str, float]]:
    with postgresql() as server, tempfile.TemporaryDirectory() as tmp:
        url = await create_database(server, "bench")
        engine = create_engine(url)
        factory = create_session_factory(engine)
        try:
            await ctx.fake.reset(ctx.fake_limits)
            async with running_two(ctx.fake, url, Path(tmp), ctx.scale) as instances:

                async def settled() -> bool:
                    return await unsettled(factory) == 0

                chats = await ctx.fake.users(N)
                await broadcast(factory, chats)
                await until(settled, "the broadcast is settled", instances)
                stats = await ctx.fake.stats(chats)
                yield ("two_instances_1000_rate_ratio",
                       stats["delivery_rate"] / ctx.limits.overall_per_s)
                yield "two_instances_1000_429", stats["answered_429"]
                yield "two_instances_1000_lost", stats["lost"]

                await ctx.fake.reset(ctx.fake_limits)
                chats = await ctx.fake.users(N)
                await broadcast(factory, chats)

                async def under_way() -> bool:
                    return (await ctx.fake.stats())["delivered"] >= N // 5

                await until(under_way, "the broadcast is under way", instances, 0.02)
                [leader] = [i for i in instances if (await i.health() or {}).get("sends_here")]
                leader.process.kill()
                killed = time.monotonic()
                await leader.process.wait()
                before = (await ctx.fake.stats())["delivered"]

                async def other_sends() -> bool:
                    # Past the dead leader's last sends on the wire: the other's own.
                    return (await ctx.fake.stats())["delivered"] > before + 10

                await until(other_sends, "the other instance sends", instances, 0.02)
                yield "failover_s", time.monotonic() - killed
                await until(settled, "the broadcast is settled", instances)
                yield "failover_1000_lost", (await ctx.fake.stats(chats))["lost"]
        finally:
            await engine.dispose()
            with contextlib.suppress(Exception):
                await drop_database(url, server)

