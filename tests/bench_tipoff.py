"""Benchmark: a confirmed tip-off reaching its team's group chat (`tipoff_route_s`).

The real Application (polling, handlers, the outbox dispatcher it starts in post_init,
one shared rate limiter) against the in-process fake Bot API server with Telegram's
real limits (30/s overall, 1/s per private chat, 20/min per group — not sped up). A
patrol team with a linked group chat; a resident writes a report with a 3-photo album
and a location, up to the summary. Timed: from the reporter's press on “send” (the
update is queued at the fake) until the team's group holds both the 3-photo album and
the card. Target: under 2 s.

Run alone: `.venv/bin/python -m tests.bench_tipoff` prints `tipoff_route_s: X`.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bot.db import create_engine, create_session_factory, upgrade_database_async
from bot.settings import load_settings
from tests.fake_telegram import FakeGroup, FakeTelegram, Limits
from tests.support import BotRunner
from tests.tipoff_support import card_in, patrol_scene, report

ALBUM = 3


def _arrived(group: FakeGroup) -> bool:
    messages = group.messages
    return (len([m for m in messages if m.media_group_id]) == ALBUM
            and card_in(messages) is not None)


async def bench_tipoff() -> list[tuple[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade_database_async(url)
        engine = create_engine(url)
        session_factory = create_session_factory(engine)
        fake = FakeTelegram(limits=Limits())  # Telegram's own limits
        await fake.start(port=0)
        settings = load_settings(bot_token=fake.token, database_url=url,
                                 telegram_api_url=fake.base_url, admin_ids=(1,),
                                 _env_file=None)
        runner = BotRunner(settings=settings, session_factory=session_factory, fake=fake)
        await runner.start()
        try:
            scene = await patrol_scene(fake, session_factory)
            alice = fake.user("Alice", language_code="zh-hans")
            await report(alice, anonymous=True, album=ALBUM, send=False)
            assert not _arrived(scene.group)
            started = time.perf_counter()
            press = asyncio.create_task(alice.press(text="✅ 发送"))
            await fake.wait_for(lambda: _arrived(scene.group), timeout=30, interval=0.002)
            elapsed = time.perf_counter() - started
            await press
            assert fake.stats.answered_429 == 0, "the bot overran Telegram's limits"
        finally:
            await runner.stop()
            await fake.stop()
            await engine.dispose()
    return [("tipoff_route_s", elapsed)]


def main() -> None:
    for name, value in asyncio.run(bench_tipoff()):
        print(f"{name}: {value:.3f}")


if __name__ == "__main__":
    main()
