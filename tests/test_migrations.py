"""The migrations build exactly the tables the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from bot.db import all_metadata, upgrade_database


def test_migrations_match_the_models(tmp_path: Path) -> None:
    path = tmp_path / "migrated.db"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "render_as_batch": True})
        differences = compare_metadata(context, all_metadata())
    engine.dispose()
    assert differences == []
