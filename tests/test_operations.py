"""Operating the bot: `python -m bot health`, `/healthz` and `python -m bot db backup`."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.db import transaction
from tests.databases import on_postgresql
from tests.factories import make_cast
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.test_run_standalone import free_port

ROOT = Path(__file__).resolve().parent.parent


async def cli(*args: str, database_url: str) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    env.pop("BOT_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output = (await asyncio.wait_for(process.communicate(), 120))[0].decode()
    assert process.returncode is not None
    return process.returncode, output


async def test_health_says_when_no_instance_sends(session_factory, database_url: str) -> None:
    code, output = await cli("health", database_url=database_url)
    assert code == 1, output
    assert "database: ok" in output and "sender: NONE" in output, output


async def test_health_of_a_database_that_does_not_answer(tmp_path: Path) -> None:
    url = (f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none" if on_postgresql()
           else f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}?mode=ro")
    code, output = await cli("health", database_url=url)
    assert code == 1 and "database: UNREACHABLE" in output, output


@pytest.mark.skipif(not on_postgresql(), reason="another process sees the sender's lock on "
                    "PostgreSQL; on SQLite the one instance holds a lock file (see run)")
async def test_health_sees_the_running_sender(bot: BotRunner, database_url: str) -> None:
    code, output = await cli("health", database_url=database_url)
    assert code == 0, output
    assert "sender: running" in output and "outbox backlog: 0" in output, output


async def test_healthz_answers_with_the_figures(bot: BotRunner, fake: FakeTelegram) -> None:
    port = free_port()
    await bot.restart(health_listen=f"127.0.0.1:{port}")
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{port}/healthz") as response:
        status, body = response.status, json.loads(await response.text())
    assert status == 200, body
    assert body == {"database": True, "sender": True, "backlog": 0, "oldest_pending_s": None,
                    "sends_here": True, "ok": True}


@pytest.mark.skipif(on_postgresql(), reason="PostgreSQL is backed up with pg_dump")
async def test_backup_copies_the_sqlite_database_while_it_is_open(
    session_factory, database_url: str, tmp_path: Path,
) -> None:
    async with transaction(session_factory) as session:
        await make_cast(session)
    async with session_factory() as session:  # a reader holds the database open meanwhile
        await session.connection()
        code, output = await cli("db", "backup", str(tmp_path / "copy.db"),
                                 database_url=database_url)
    assert code == 0, output
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        people = copy.execute("SELECT count(*) FROM people").fetchone()[0]
    assert people > 0


@pytest.mark.skipif(not on_postgresql(), reason="the PostgreSQL answer")
async def test_backup_on_postgresql_points_to_pg_dump(database_url: str, tmp_path: Path) -> None:
    code, output = await cli("db", "backup", str(tmp_path / "copy.db"),
                             database_url=database_url)
    assert code == 2 and "pg_dump" in output, output
