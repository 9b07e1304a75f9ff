"""`python -m bot run` against the standalone fake server answers /start — two real processes."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


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


async def test_bot_process_answers_start(standalone_fake: str, tmp_path: Path) -> None:
    url = standalone_fake
    env = {**os.environ, "BOT_TOKEN": "123456789:TEST-token", "TELEGRAM_API_URL": f"{url}/bot",
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", "LOG_LEVEL": "WARNING"}
    bot = start(["-m", "bot", "run"], env)
    try:
        async with aiohttp.ClientSession() as session:
            user = await control(session, url, "users",
                                 {"first_name": "Alice", "language_code": "zh-hans"})
            for _ in range(300):  # the bot migrates its database, then starts polling
                if bot.poll() is not None:
                    break
                await control(session, url, "send",
                              {"user_id": user["id"], "text": "/start", "wait": False})
                await asyncio.sleep(0.2)
                messages = await control(session, url, f"messages?chat_id={user['id']}")
                if messages:
                    break
            else:
                messages = []
    finally:
        output = stop(bot)
    assert messages, f"no answer; the bot printed:\n{output}"
    assert "平安小助手" in messages[0]["text"]
    assert "TEST-token" not in output, "the token must never reach the log"
