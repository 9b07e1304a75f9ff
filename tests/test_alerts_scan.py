"""The 2-second scan is cheap when there is nothing to do: one indexed read of `alerts`."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite

from bot.alerts import service
from bot.alerts.handlers import CLOCK_KEY
from bot.db import utcnow
from tests.databases import on_postgresql
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.test_alerts_flow import (
    Clock,
    _alert,
    _alert_copies,
    _dispatcher,
    _scan,
    _send_alert,
    _settle,
    _town,
)


@pytest.mark.skipif(on_postgresql(), reason="SQLite's plan; the PostgreSQL twin is below")
async def test_due_query_searches_the_index(session_factory) -> None:
    query = service.due_query(utcnow()).compile(dialect=sqlite.dialect(),
                                                compile_kwargs={"literal_binds": True})
    async with session_factory() as session:
        plan = "\n".join(row[-1] for row in await session.execute(
            text(f"EXPLAIN QUERY PLAN {query}")))
    assert "SEARCH alerts USING INDEX ix_alerts_status_next_renotify" in plan, plan
    assert "SCAN alerts" not in plan and "TEMP B-TREE" not in plan, plan


@pytest.mark.skipif(not on_postgresql(), reason="needs TEST_DATABASE_URL (PostgreSQL)")
async def test_due_query_searches_the_index_on_postgresql(session_factory) -> None:
    """On a table this small the planner would rather scan; with sequential scans priced
    out, the plan shows whether the index can serve the query at all."""
    query = service.due_query(utcnow()).compile(dialect=postgresql.dialect(),
                                                compile_kwargs={"literal_binds": True})
    async with session_factory() as session:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(row[0] for row in await session.execute(text(f"EXPLAIN {query}")))
    assert "ix_alerts_status_next_renotify" in plan, plan
    assert "Seq Scan" not in plan and "Sort" not in plan, plan


async def test_idle_scan_is_one_read_and_a_due_alert_still_fires(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    town = await _town(bot, fake, session_factory)
    dispatcher = await _dispatcher(bot, session_factory)
    clock = Clock()
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    await _send_alert(town)
    await _settle(fake, dispatcher)
    alert = await _alert(session_factory)
    await _scan(bot, fake, dispatcher)  # the first scan looks at every open alert once
    await _scan(bot, fake, dispatcher)

    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        lowered = statement.lower()
        if "alert" in lowered:  # (the engine starts every transaction BEGIN IMMEDIATE)
            statements.append(" ".join(lowered.split()))

    engine = session_factory.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await _scan(bot, fake, dispatcher)
        idle = list(statements)
        statements.clear()
        clock.advance(11)
        await _scan(bot, fake, dispatcher)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(idle) == 1 and idle[0].startswith("select alerts.id from alerts"), idle
    assert len(statements) > 1  # a due alert: the scan does its work
    assert len(_alert_copies(town.people[4])) == 2  # and the reminder went out
    # The status message is edited at most once a second: the edit comes a little later.
    status = fake.message(town.staff.id, alert.status_message_id)
    await fake.wait_for(lambda: "32 / 32" in status.text and "第 2 次" in status.text)
