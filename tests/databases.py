"""Where a test's database lives: a SQLite file, or with `TEST_DATABASE_URL` set (a
`postgresql+asyncpg://` URL, as `python -m tests.pg_cluster` sets) a fresh PostgreSQL
database per test on that server.

Every test that needs a database gets it from `fresh_database_url`, so the whole suite
runs on either.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

TEST_DATABASE_URL = "TEST_DATABASE_URL"


def server_url() -> str | None:
    """The PostgreSQL server the tests use, or None for SQLite files."""
    url = os.environ.get(TEST_DATABASE_URL, "").strip()
    return url or None


def on_postgresql() -> bool:
    return server_url() is not None


def asyncpg_dsn(url: str) -> str:
    """The URL as asyncpg itself reads it (no `+asyncpg`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def fresh_database_url(tmp_path: Path, name: str = "bot") -> str:
    """An empty database for one test: `tmp_path/<name>.db`, or a new PostgreSQL database."""
    server = server_url()
    if server is None:
        return f"sqlite+aiosqlite:///{tmp_path / name}.db"
    return await create_database(server, name)


async def create_database(server: str, name: str) -> str:
    """A new, empty database on the PostgreSQL server at `server` (any database's URL)."""
    import asyncpg

    database = f"test_{name}_{uuid.uuid4().hex[:16]}"
    connection = await asyncpg.connect(asyncpg_dsn(server))
    try:
        await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()
    return make_url(server).set(database=database).render_as_string(hide_password=False)


async def drop_database(url: str, server: str | None = None) -> None:
    """Remove a database `fresh_database_url` (or `create_database` on `server`) made on
    PostgreSQL (nothing for SQLite)."""
    server = server or server_url()
    if server is None or not url.startswith("postgresql"):
        return
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(server))
    try:
        await connection.execute(
            f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await connection.close()
