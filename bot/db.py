"""The database: declarative base, engine with SQLite's pragmas, sessions, migrations."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Enum, MetaData, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

# The engine's column type and naming convention serve the bot's tables too (bot → broadcasts).
from broadcasts.models import NAMING_CONVENTION
from broadcasts.models import UTCDateTime as UTCDateTime
from broadcasts.models import utcnow as utcnow

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    """Base of the bot's own tables (the broadcasts engine keeps its own)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def enum_column(cls: type[enum.Enum]) -> Enum:
    """Store enum values (readable in the database), checked in Python, not by a constraint
    (adding a member then needs no table rebuild on SQLite)."""
    return Enum(cls, values_callable=lambda e: [m.value for m in e], native_enum=False,
                create_constraint=False, length=20)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite: WAL, foreign keys, a busy timeout and BEGIN IMMEDIATE.

    A deferred SQLite transaction that reads and then writes fails at once with
    SQLITE_BUSY when another connection writes meanwhile; starting every
    transaction IMMEDIATE makes it wait for the lock instead (FACTS.md).

    Bound parameters stay out of exception text and SQL logging: they are what people
    wrote, with who wrote it, and an error's traceback goes to the log.
    """
    engine = create_async_engine(url, **{**kwargs, "hide_parameters": True})
    if engine.dialect.name == "sqlite":
        if url.startswith("sqlite+aiosqlite:///") and ":memory:" not in url:
            Path(url.removeprefix("sqlite+aiosqlite:///")).parent.mkdir(parents=True, exist_ok=True)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session, committed on success and rolled back on error."""
    async with factory() as session, session.begin():
        yield session


def all_metadata() -> list[MetaData]:
    """Every table the migrations manage: the bot's and the broadcasts engine's."""
    import bot.models  # noqa: F401  (registers every feature's tables)
    from broadcasts.models import Base as BroadcastsBase

    return [Base.metadata, BroadcastsBase.metadata]


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply migrations. Synchronous: call it before the event loop starts or in a thread."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


async def upgrade_database_async(url: str) -> None:
    """Alembic's env runs its own event loop, so run it in a worker thread."""
    await asyncio.to_thread(upgrade_database, url)
