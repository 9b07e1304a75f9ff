"""`python -m bot run` in webhook mode against the standalone fake — two real processes.

The fake records setWebhook but does not deliver to it, and, like Telegram, it only accepts
an HTTPS URL on port 443, 80, 88 or 8443. So WEBHOOK_URL is the public address a reverse
proxy would serve, and the test plays Telegram (and the proxy): it POSTs the update to the
address the bot listens on, WEBHOOK_LISTEN, with or without the secret header.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.__main__ import listen_address
from tests.fake_telegram.textparse import command_entities
from tests.test_run_standalone import control, free_port, start, stop

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PUBLIC_URL = "https://pingan.example.org/telegram"


@pytest.fixture
def standalone_fake() -> Iterator[str]:
    port = free_port()
    process = start(["-m", "tests.fake_telegram", "--port", str(port)], dict(os.environ))
    assert process.stdout is not None
    line = process.stdout.readline()  # the banner's first line: it is serving
    assert "Fake Telegram Bot API" in line, line
    yield f"http://127.0.0.1:{port}"
    stop(process)


def start_update(update_id: int, user: dict[str, Any], message_id: int) -> dict[str, Any]:
    """The update Telegram would POST for `user` writing /start in private."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
            "from": user | {"language_code": "zh-hans"},
            "text": "/start",
            "entities": command_entities("/start"),
        },
    }


async def post(session: aiohttp.ClientSession, url: str, update: dict[str, Any],
               secret: str | None) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with session.post(url, json=update, headers=headers) as response:
        return response.status


async def test_bot_takes_updates_by_webhook_with_the_secret(standalone_fake: str,
                                                            tmp_path: Path) -> None:
    url = standalone_fake
    port = free_port()
    secret = secrets.token_urlsafe(24)  # [A-Za-z0-9_-]
    env = {**os.environ, "BOT_TOKEN": "123456789:TEST-token", "TELEGRAM_API_URL": f"{url}/bot",
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", "LOG_LEVEL": "WARNING",
           "WEBHOOK_URL": PUBLIC_URL, "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
           "WEBHOOK_SECRET": secret}
    hook = f"http://127.0.0.1:{port}/telegram"
    bot = start(["-m", "bot", "run"], env)
    statuses: dict[str, int] = {}
    webhook: dict[str, Any] | None = None
    replies: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession() as session:
            user = await control(session, url, "users",
                                 {"first_name": "Alice", "language_code": "zh-hans"})
            # Alice writes /start (the fake marks her as having started the bot, so a reply
            # may reach her); with a webhook set, the fake does not deliver it — we do, below.
            for _ in range(300):  # the bot migrates its database, then sets the webhook
                if bot.poll() is not None:
                    break
                webhook = (await control(session, url, "state"))["webhook"]
                if webhook is not None:
                    break
                await asyncio.sleep(0.1)
            assert webhook is not None, "the bot never called setWebhook"
            await control(session, url, "send",
                          {"user_id": user["id"], "text": "/start", "wait": False})

            # (c) without the header, or with a wrong one: 403, and nothing reaches Alice.
            # The webhook server starts listening just after setWebhook: retry until it does.
            for _ in range(100):
                try:
                    statuses["none"] = await post(session, hook, start_update(1, user, 1), None)
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            statuses["wrong"] = await post(session, hook, start_update(2, user, 1),
                                           secret[::-1] + "x")
            statuses["empty"] = await post(session, hook, start_update(3, user, 1), "")
            await asyncio.sleep(1.0)
            unanswered = await control(session, url, f"messages?chat_id={user['id']}")

            # (b) with the secret: the bot answers Alice at the fake.
            statuses["right"] = await post(session, hook, start_update(4, user, 1), secret)
            for _ in range(100):
                replies = await control(session, url, f"messages?chat_id={user['id']}")
                if replies:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # anything more (a late rejected update) would show now
            replies = await control(session, url, f"messages?chat_id={user['id']}")
    finally:
        output = stop(bot)

    # (a) Telegram was told the public URL, the secret and the update kinds we handle.
    assert webhook["url"] == PUBLIC_URL, output
    assert webhook["secret_token"] == secret
    assert "chat_member" in (webhook["allowed_updates"] or [])
    assert statuses == {"none": 403, "wrong": 403, "empty": 403, "right": 200}, output
    assert unanswered == [], unanswered
    assert replies, f"no answer; the bot printed:\n{output}"
    welcomes = [m for m in replies if "平安小助手" in (m.get("text") or "")]
    assert len(welcomes) == 1, replies  # one accepted update, one welcome
    assert "TEST-token" not in output, "the token must never reach the log"
    assert secret not in output, "the webhook secret must never reach the log"


def test_listen_address_forms() -> None:
    assert listen_address("127.0.0.1:8443") == ("127.0.0.1", 8443)
    assert listen_address("[::]:88") == ("::", 88)
    assert listen_address(":8443") == ("0.0.0.0", 8443)
    assert listen_address("8443") == ("0.0.0.0", 8443)
    for bad in ("127.0.0.1", "127.0.0.1:", "host:99999", "host:0"):
        with pytest.raises(ValueError, match="WEBHOOK_LISTEN"):
            listen_address(bad)
