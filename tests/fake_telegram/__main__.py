"""Run the fake standalone: ``python -m tests.fake_telegram --port 8081 [--no-limits]``.

Prints the settings to point a bot at it, then serves until Ctrl-C. Drive it
with the ``/_control/`` endpoints documented in ``control.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .limits import Limits
from .server import FakeTelegram


async def serve(port: int, host: str, limits: Limits, username: str) -> None:
    """Start, print how to connect, wait forever."""
    fake = FakeTelegram(limits=limits, bot_username=username)
    await fake.start(port=port, host=host)
    print(f"Fake Telegram Bot API on {fake.url}")
    print(f"  TELEGRAM_API_URL={fake.base_url}")
    print(f"  TELEGRAM_FILE_URL={fake.base_file_url}")
    print(f"  BOT_TOKEN={fake.token}")
    print(f"  limits: {limits}")
    print(f"  control: curl -XPOST {fake.url}/_control/users -d '{{\"first_name\": \"Alice\"}}'",
          flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main() -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--no-limits", action="store_true", help="do not enforce flood limits")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every limit")
    parser.add_argument("--bot-username", default="pingan_test_bot")
    args = parser.parse_args()
    limits = Limits(enforce=not args.no_limits).scaled(args.scale)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.host, limits, args.bot_username))


if __name__ == "__main__":
    main()
