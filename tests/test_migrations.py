"""The migrations build exactly the tables the models describe."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.db import MIGRATION_LOCK, all_metadata, create_engine, upgrade_database_async
from tests.databases import asyncpg_dsn, on_postgresql

ROOT = Path(__file__).resolve().parent.parent


async def test_migrations_match_the_models(database_url: str) -> None:
    await upgrade_database_async(database_url)
    engine = create_engine(database_url)

    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "render_as_batch": True})
        return list(compare_metadata(context, all_metadata()))

    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(differences)
    finally:
        await engine.dispose()
    assert found == []


async def test_instances_starting_together_on_an_empty_database_all_migrate(
    database_url: str,
) -> None:
    """Several `db upgrade` at once (instances started together): each waits for the one
    migrating, none crashes on a table another has just created. On PostgreSQL the test
    holds the migration lock until all three wait for it, so they then race for real."""
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    env.pop("BOT_TOKEN", None)
    holder = None
    if on_postgresql():
        import asyncpg

        holder = await asyncpg.connect(asyncpg_dsn(database_url))
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    processes = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "db", "upgrade", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT) for _ in range(3)]
    if holder is not None:
        waiting = 0
        for _ in range(600):
            waiting = await holder.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if waiting == 3 or any(p.returncode is not None for p in processes):
                break
            await asyncio.sleep(0.1)
        await holder.close()
    outputs = [(await p.communicate())[0].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], "\n".join(outputs)
    if holder is not None:
        assert waiting == 3, "the instances did not wait for the migration lock"
