"""`make demo`: ``python -m tests.demo [--port 8088] [--database data/demo.db]``.

One process serves the fake Bot API and the demo page on the same port, seeds the story
into its own database (never ``data/pingan.db``), starts ``python -m bot run`` against
it, and prints the address to open. Ctrl-C (or SIGTERM) stops both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from pathlib import Path

from tests.fake_telegram import FakeTelegram, Limits

from .web import ROOT, Demo, add_demo_routes

DEFAULT_DATABASE = ROOT / "data" / "demo.db"


async def serve(host: str, port: int, database: Path, speed: float) -> None:
    """Start everything, print where to look, wait for Ctrl-C."""
    fake = FakeTelegram(limits=Limits().scaled(speed), bot_username="pingan_demo_bot",
                        bot_name="平安小助手")
    demo = Demo(fake, database, log=database.with_suffix(".log"), speed=speed)
    add_demo_routes(fake.app, demo)
    await fake.start(port=port, host=host)
    try:
        await demo.begin()
        print(f"演示已启动，请在浏览器打开 / The demo is running, open: {fake.url}", flush=True)
        print(f"  (数据库 / database: {database}; 机器人日志 / bot log: "
              f"{database.with_suffix('.log')}; Ctrl-C 停止 / to stop)", flush=True)
        stopped = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
        await stopped.wait()
    finally:
        await demo.end()
        await fake.stop()


def main() -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8088")))
    parser.add_argument("--database", type=Path, default=DEFAULT_DATABASE)
    parser.add_argument("--speed", type=float, default=1.0,
                        help="multiply Telegram's flood limits (on the fake and the bot alike)")
    args = parser.parse_args()
    database = args.database.resolve()
    if database.name == "pingan.db":
        parser.error("the demo keeps its own database: pick another file than pingan.db")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, database, args.speed))


if __name__ == "__main__":
    main()
