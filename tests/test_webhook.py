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
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.__main__ import listen_address
from bot.db import transaction, utcnow
from bot.replays import SeenUpdate, first_sighting, prune
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


def webhook_env(url: str, database_url: str, port: int, secret: str | None) -> dict[str, str]:
    env = {**os.environ, "BOT_TOKEN": "123456789:TEST-token", "TELEGRAM_API_URL": f"{url}/bot",
           "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING",
           "WEBHOOK_URL": PUBLIC_URL, "WEBHOOK_LISTEN": f"127.0.0.1:{port}"}
    env.pop("WEBHOOK_SECRET", None)
    if secret is not None:
        env["WEBHOOK_SECRET"] = secret
    return env


async def webhook_set(session: aiohttp.ClientSession, url: str,
                      bot: subprocess.Popen[str]) -> dict[str, Any] | None:
    """What the bot told the fake in setWebhook, once it has (after migrating its database)."""
    for _ in range(300):
        if bot.poll() is not None:
            return None
        webhook = (await control(session, url, "state"))["webhook"]
        if webhook is not None:
            return webhook
        await asyncio.sleep(0.1)
    return None


async def first_post(session: aiohttp.ClientSession, hook: str, update: dict[str, Any],
                     secret: str | None) -> int:
    """The webhook server starts listening just after setWebhook: retry until it does."""
    for _ in range(100):
        try:
            return await post(session, hook, update, secret)
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.1)
    raise AssertionError("the bot never listened on WEBHOOK_LISTEN")


async def replies_to(session: aiohttp.ClientSession, url: str, user: dict[str, Any],
                     count: int = 1) -> list[dict[str, Any]]:
    """The bot's messages to `user`, once there are `count` (or after 10 s), plus a moment
    for anything more (a late duplicate) to show."""
    for _ in range(100):
        if len(await control(session, url, f"messages?chat_id={user['id']}")) >= count:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    return await control(session, url, f"messages?chat_id={user['id']}")


async def test_bot_takes_updates_by_webhook_with_the_secret(standalone_fake: str,
                                                            database_url: str) -> None:
    url = standalone_fake
    port = free_port()
    secret = secrets.token_urlsafe(24)  # [A-Za-z0-9_-]
    hook = f"http://127.0.0.1:{port}/telegram"
    bot = start(["-m", "bot", "run"], webhook_env(url, database_url, port, secret))
    statuses: dict[str, int] = {}
    replies: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession() as session:
            user = await control(session, url, "users",
                                 {"first_name": "Alice", "language_code": "zh-hans"})
            webhook = await webhook_set(session, url, bot)
            assert webhook is not None, "the bot never called setWebhook"
            # Alice writes /start (the fake marks her as having started the bot, so a reply
            # may reach her); with a webhook set, the fake does not deliver it — we do, below.
            await control(session, url, "send",
                          {"user_id": user["id"], "text": "/start", "wait": False})

            # (c) without the header, or with a wrong one: 403, and nothing reaches Alice.
            statuses["none"] = await first_post(session, hook, start_update(1, user, 1), None)
            statuses["wrong"] = await post(session, hook, start_update(2, user, 1),
                                           secret[::-1] + "x")
            statuses["empty"] = await post(session, hook, start_update(3, user, 1), "")
            await asyncio.sleep(1.0)
            unanswered = await control(session, url, f"messages?chat_id={user['id']}")

            # (b) with the secret: the bot answers Alice at the fake.
            statuses["right"] = await post(session, hook, start_update(4, user, 1), secret)
            replies = await replies_to(session, url, user)
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


async def test_a_replayed_update_is_answered_once(standalone_fake: str,
                                                  database_url: str) -> None:
    """Someone who recorded a genuine POST (secret and all) sends it again: no second answer."""
    url = standalone_fake
    port = free_port()
    secret = secrets.token_urlsafe(24)
    hook = f"http://127.0.0.1:{port}/telegram"
    bot = start(["-m", "bot", "run"], webhook_env(url, database_url, port, secret))
    try:
        async with aiohttp.ClientSession() as session:
            user = await control(session, url, "users",
                                 {"first_name": "Alice", "language_code": "zh-hans"})
            assert await webhook_set(session, url, bot) is not None, "no setWebhook"
            await control(session, url, "send",
                          {"user_id": user["id"], "text": "/start", "wait": False})
            update = start_update(7, user, 1)
            first = await first_post(session, hook, update, secret)
            answered = await replies_to(session, url, user)
            again = await post(session, hook, update, secret)
            replies = await replies_to(session, url, user, count=len(answered) + 1)
    finally:
        output = stop(bot)
    assert (first, again) == (200, 200), output  # Telegram must not be made to retry it
    assert answered, f"no answer; the bot printed:\n{output}"
    assert replies == answered, "the replayed update was answered again"


async def test_webhook_without_a_secret_does_not_start(standalone_fake: str,
                                                       database_url: str) -> None:
    url = standalone_fake
    bot = start(["-m", "bot", "run"], webhook_env(url, database_url, free_port(), None))
    output, _ = bot.communicate(timeout=60)
    async with aiohttp.ClientSession() as session:
        state = await control(session, url, "state")
    assert bot.returncode == 2, output
    assert output.strip().splitlines() == [output.strip()], output  # one line
    assert output.startswith("Setting WEBHOOK_SECRET is wrong: it is required with WEBHOOK_URL")
    assert state["webhook"] is None, "setWebhook must not be called"


async def test_seen_update_ids_are_kept_for_a_day(session_factory) -> None:
    now = utcnow()
    async with transaction(session_factory) as session:
        assert await first_sighting(session, 1, now=now - timedelta(hours=25))
        assert await first_sighting(session, 2, now=now - timedelta(hours=23))
        assert not await first_sighting(session, 2, now=now)
        assert await prune(session, now=now) == 1
    async with session_factory() as session:
        assert list(await session.scalars(select(SeenUpdate.update_id))) == [2]


def test_listen_address_forms() -> None:
    assert listen_address("127.0.0.1:8443") == ("127.0.0.1", 8443)
    assert listen_address("[::]:88") == ("::", 88)
    assert listen_address(":8443") == ("0.0.0.0", 8443)
    assert listen_address("8443") == ("0.0.0.0", 8443)
    for bad in ("127.0.0.1", "127.0.0.1:", "host:99999", "host:0"):
        with pytest.raises(ValueError, match="WEBHOOK_LISTEN"):
            listen_address(bad)


async def test_a_refused_webhook_is_one_line_and_the_bot_stops(standalone_fake: str,
                                                               database_url: str) -> None:
    url = standalone_fake
    env = webhook_env(url, database_url, free_port(), secrets.token_urlsafe(24))
    env["WEBHOOK_URL"] = "https://pingan.example.org:1234/telegram"  # a port Telegram refuses
    bot = start(["-m", "bot", "run"], env)
    try:
        output, _ = bot.communicate(timeout=120)
    finally:
        stop(bot)
    assert bot.returncode == 1, output
    refusal = [line for line in output.splitlines() if "WEBHOOK_URL" in line]
    assert len(refusal) == 1 and "refused" in refusal[0] and "ports 80, 88" in refusal[0], output
    assert "Traceback" not in output and "Task was destroyed" not in output, output
