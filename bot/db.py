"""The database: declarative base, engine with SQLite's pragmas, sessions, migrations."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
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
#: PostgreSQL advisory lock keys (any 64-bit numbers, the same in every instance).
MIGRATION_LOCK = 0x70696E67_616E0001
#: Connection option of `reading` sessions: on SQLite their transaction begins DEFERRED.
READ_ONLY = "bot_read_only"


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
    transaction IMMEDIATE makes it wait for the lock instead (FACTS.md). Only a
    `reading` session, which never writes, begins DEFERRED.

    Bound parameters stay out of exception text and SQL logging: they are what people
    wrote, with who wrote it, and an error's traceback goes to the log.
    """
    engine = create_async_engine(url, **{**kwargs, "hide_parameters": True})
    if engine.dialect.name == "sqlite":
        if (path := sqlite_path(url)) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

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
            connection.exec_driver_sql(
                "BEGIN" if connection.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session, committed on success and rolled back on error."""
    async with factory() as session, session.begin():
        yield session


@asynccontextmanager
async def reading(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that only reads, rolled back at the end. On SQLite its transaction begins
    DEFERRED, so it neither takes nor waits for the write lock (WAL lets it read the last
    commit while another connection writes): a long import's transaction does not hold up
    every other update's reads. Writing in it may fail at once with SQLITE_BUSY (FACTS.md):
    use `transaction` for that."""
    async with factory() as session:
        await session.connection(execution_options={READ_ONLY: True})
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


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for PostgreSQL or an in-memory database)."""
    if not url.startswith("sqlite+aiosqlite:///") or ":memory:" in url:
        return None
    return Path(url.removeprefix("sqlite+aiosqlite:///"))


@contextmanager
def file_lock(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """An exclusive lock on `path` (created) for the block; yields False when `wait` is
    off and another process holds it. The system drops it when the holder dies."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply migrations; processes starting together wait for each other (PostgreSQL: an
    advisory lock in env.py; SQLite: a lock file beside the database). Synchronous: call it
    before the event loop starts or in a thread."""
    from alembic import command

    path = sqlite_path(url)
    if path is None:
        command.upgrade(alembic_config(url), revision)
        return
    with file_lock(path.with_name(path.name + ".migrate.lock")):
        command.upgrade(alembic_config(url), revision)


async def upgrade_database_async(url: str) -> None:
    """Alembic's env runs its own event loop, so run it in a worker thread."""
    await asyncio.to_thread(upgrade_database, url)
