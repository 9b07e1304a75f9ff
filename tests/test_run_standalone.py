"""`python -m bot run` against the standalone fake server answers /start — two real processes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import pytest

from tests.databases import on_postgresql

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str], env: dict[str, str], log: TextIO | None = None
          ) -> subprocess.Popen[str]:
    """Output goes to a pipe read at `stop()`, or to `log` when it may outgrow the pipe."""
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, text=True,
                            stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@pytest.fixture
def standalone_fake() -> Iterator[str]:
    port = free_port()
    process = start(["-m", "tests.fake_telegram", "--port", str(port)], dict(os.environ))
    assert process.stdout is not None
    line = process.stdout.readline()  # the banner's first line: it is serving
    assert "Fake Telegram Bot API" in line, line
    yield f"http://127.0.0.1:{port}"
    stop(process)


async def control(session: aiohttp.ClientSession, url: str, path: str,
                  body: dict[str, Any] | None = None) -> Any:
    method = session.post if body is not None else session.get
    async with method(f"{url}/_control/{path}", json=body) as response:
        payload = await response.json()
    assert payload["ok"], payload
    return payload["result"]


def bot_env(url: str, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a bot pointed at the standalone fake, with its own database."""
    return {**os.environ, "BOT_TOKEN": "123456789:TEST-token", "TELEGRAM_API_URL": f"{url}/bot",
            "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING",
            **extra}


async def answered_start(session: aiohttp.ClientSession, url: str, bot: subprocess.Popen[str],
                         user: dict[str, Any]) -> list[dict[str, Any]]:
    """Send /start until the bot (migrating its database, then polling) answers it."""
    for _ in range(300):
        if bot.poll() is not None:
            break
        await control(session, url, "send",
                      {"user_id": user["id"], "text": "/start", "wait": False})
        await asyncio.sleep(0.2)
        messages = await control(session, url, f"messages?chat_id={user['id']}")
        if messages:
            return messages
    return []


async def test_bot_process_answers_start(standalone_fake: str, database_url: str) -> None:
    url = standalone_fake
    bot = start(["-m", "bot", "run"], bot_env(url, database_url))
    try:
        async with aiohttp.ClientSession() as session:
            user = await control(session, url, "users",
                                 {"first_name": "Alice", "language_code": "zh-hans"})
            messages = await answered_start(session, url, bot, user)
    finally:
        output = stop(bot)
    assert messages, f"no answer; the bot printed:\n{output}"
    assert "平安小助手" in messages[0]["text"]
    assert "TEST-token" not in output, "the token must never reach the log"


async def test_debug_log_shows_neither_the_token_nor_what_people_write(
    standalone_fake: str, tmp_path: Path, database_url: str
) -> None:
    url = standalone_fake
    report = "有个人一直在撬电动车的锁 Building7"
    log_path = tmp_path / "bot.log"
    with log_path.open("w", encoding="utf-8") as log:
        bot = start(["-m", "bot", "run"], bot_env(url, database_url, LOG_LEVEL="DEBUG"), log)
    try:
        async with aiohttp.ClientSession() as session:
            user = await control(session, url, "users",
                                 {"first_name": "Alice", "language_code": "zh-hans"})
            answered = await answered_start(session, url, bot, user)
            before = len(answered)
            await control(session, url, "send",
                          {"user_id": user["id"], "text": report, "wait": False})
            for _ in range(100):  # the bot answers the text (it did not understand it)
                replies = await control(session, url, f"messages?chat_id={user['id']}")
                if len(replies) > before:
                    break
                await asyncio.sleep(0.1)
    finally:
        stop(bot)
    output = log_path.read_text(encoding="utf-8")
    assert answered and len(replies) > before, f"no answer; the bot printed:\n{output}"
    assert "DEBUG" in output, "the bot logged at DEBUG"
    assert "TEST-token" not in output, "the token must never reach the log"
    for form in (report, json.dumps(report)[1:-1], "Building7"):
        assert form not in output, f"what Alice wrote reached the log:\n{output}"


async def test_a_refused_token_is_one_clear_line_without_the_token(
    standalone_fake: str, database_url: str
) -> None:
    # The fake, like Telegram, answers 401 Unauthorized to any token but its own.
    env = bot_env(standalone_fake, database_url, BOT_TOKEN="123456789:WRONG-token")
    bot = start(["-m", "bot", "run"], env)
    try:
        output, _ = bot.communicate(timeout=120)
    finally:
        stop(bot)
    assert bot.returncode == 1, output
    assert "WRONG-token" not in output
    assert "Traceback" not in output, output
    # After the setup code (printed before any network call): the same line in Chinese and
    # in English.
    lines = output.strip().split("expires in 24 hours.")[-1].strip().splitlines()
    assert len(lines) == 2, output
    assert "@BotFather" in lines[0] and "BOT_TOKEN" in lines[0]
    assert "@BotFather" in lines[1] and "refused" in lines[1]


@pytest.mark.skipif(on_postgresql(), reason="the one-instance rule is SQLite's")
async def test_a_second_instance_on_one_sqlite_database_is_refused_in_one_clear_line(
    standalone_fake: str, database_url: str
) -> None:
    url = standalone_fake
    first = start(["-m", "bot", "run"], bot_env(url, database_url))
    try:
        async with aiohttp.ClientSession() as session:
            user = await control(session, url, "users", {"first_name": "Alice"})
            assert await answered_start(session, url, first, user), "the first never started"
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=ROOT, env=bot_env(url, database_url),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output = (await asyncio.wait_for(second.communicate(), 60))[0].decode()
    finally:
        stop(first)
    assert second.returncode == 1, output
    assert "Another instance of the bot is already running" in output
    assert "PostgreSQL" in output and "Traceback" not in output


async def test_an_unreachable_bot_api_is_one_line_after_the_setup_code(
    database_url: str,
) -> None:
    closed = free_port()  # nothing listens there: like a network where Telegram is blocked
    env = bot_env(f"http://127.0.0.1:{closed}", database_url)
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert bot.stdout is not None
    lines: list[str] = []
    try:
        while not any("Cannot reach" in line for line in lines):
            line = (await asyncio.wait_for(bot.stdout.readline(), 120)).decode()
            assert line, "".join(lines)
            lines.append(line)
    finally:
        bot.terminate()
        await bot.wait()
    setup = next(i for i, line in enumerate(lines) if "/setup " in line)
    [unreachable] = [line for line in lines if "Cannot reach" in line]
    assert setup < lines.index(unreachable), "".join(lines)
    assert f"http://127.0.0.1:{closed}" in unreachable and "still trying" in unreachable
    assert "TELEGRAM_PROXY" in unreachable and "Traceback" not in "".join(lines)
