"""Issue 15: where a person is in a conversation, and what the flows keep for them, is in
the database, so a new Application on the same database (another instance, or this one
restarted) takes their next message where they were."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from bot.broadcasting.composer import DRAFT_KEY, TIMEOUT
from bot.db import transaction, utcnow
from bot.persistence import USER_DATA, DatabasePersistence, PersistedState
from bot.scamcheck.handlers import ASKED_KEY
from broadcasts import Broadcast
from tests.databases import on_postgresql
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.test_broadcasting_flow import make_world
from tests.test_residents_e2e import cast_with, open_a_long_building_list

NOTICE = "周六上午九点在3网格开楼道安全会。"


async def begin_notice(bot: BotRunner, fake: FakeTelegram, session_factory):
    """A staff member composes a notice to the grid, up to where the text is asked for."""
    world = await make_world(fake, bot, session_factory)
    staff = world.staff
    await staff.send("/broadcast")
    await staff.press("📢 社区通知")
    await staff.press("区域")
    await staff.press("▫️ 3网格")
    await staff.press("下一步 ▶")
    return world


async def test_a_broadcast_being_composed_continues_on_a_new_instance(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    world = await begin_notice(bot, fake, session_factory)
    await bot.restart()

    await world.staff.send(NOTICE)  # the conversation's place and the draft's audience
    assert "发给" in world.staff.last_message.text
    await world.staff.press("✅ 现在发送")
    async with session_factory() as session:
        sent = (await session.scalars(select(Broadcast))).all()
    assert len(sent) == 1 and NOTICE in str(sent[0].content)
    async with session_factory() as session:  # the conversation is over: its row is gone
        names = set(await session.scalars(select(PersistedState.name).where(
            PersistedState.telegram_id == world.staff.id)))
    assert "broadcast" not in names


@pytest.mark.skipif(not on_postgresql(), reason="instances share a PostgreSQL database only")
async def test_with_shared_database_each_message_reads_where_the_person_is(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    """Another instance took the person's /cancel: this one, still remembering the
    conversation, learns from the database that it is over."""
    world = await begin_notice(bot, fake, session_factory)
    async with transaction(session_factory) as session:
        gone = await session.execute(delete(PersistedState).where(
            PersistedState.telegram_id == world.staff.id))
        assert gone.rowcount == 2  # the conversation's place, and the draft in user_data

    await world.staff.send(NOTICE)
    assert "发给" not in world.staff.last_message.text
    assert bot.application is not None
    assert DRAFT_KEY not in bot.application.user_data.get(world.staff.id, {})


async def test_a_conversation_past_its_timeout_is_not_taken_up_after_a_restart(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    world = await begin_notice(bot, fake, session_factory)
    await bot.stop()
    async with transaction(session_factory) as session:  # the bot was down for an hour
        ended = await session.execute(update(PersistedState).where(
            PersistedState.name == "broadcast").values(expires_at=utcnow() - timedelta(hours=1)))
        assert ended.rowcount == 1
    await bot.start()

    await world.staff.send(NOTICE)
    assert "发给" not in world.staff.last_message.text
    async with session_factory() as session:
        assert await session.scalar(select(Broadcast.id)) is None


async def test_a_typed_area_search_continues_on_a_new_instance(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    amy = fake.user("Amy", language_code="zh-hans")
    cast = await cast_with(session_factory, resident=amy)
    await open_a_long_building_list(amy, session_factory, cast.tree.grid.id)
    await bot.restart()

    await amy.send("27")
    assert "找到与“27”相符的" in amy.last_message.text
    assert amy.last_message.buttons[0] == ["27栋 · 3网格"]


async def test_who_asked_the_scam_check_stays_out_of_the_database(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    """The scam check's early warning counts askers in memory only; the rest of their
    user_data (a typed search) is stored without it."""
    amy = fake.user("Amy", language_code="zh-hans")
    await cast_with(session_factory, resident=amy)
    assert bot.application is not None
    bot.application.user_data[amy.id][ASKED_KEY] = {"refund": utcnow()}
    await amy.send("/me")
    await amy.press("🏠 我住在哪里")
    await amy.press("龙江路社区")  # a short list: nothing to search, the memory only
    await bot.application.update_persistence()
    async with session_factory() as session:
        rows = (await session.scalars(select(PersistedState).where(
            PersistedState.name == USER_DATA))).all()
    assert rows == []


def _timeout_job(bot: BotRunner, name: str, person: int) -> Any:
    """This instance's timeout job for the person's conversation `name`."""
    assert bot.application is not None
    persistence = bot.application.persistence
    assert isinstance(persistence, DatabasePersistence)
    handler = persistence.conversations[name]
    [job] = [job for key, job in handler.timeout_jobs.items() if key[-1] == person]
    return job


@pytest.mark.skipif(not on_postgresql(), reason="instances share a PostgreSQL database only")
async def test_a_timeout_here_ends_nothing_carried_on_at_another_instance(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    """The staff member's last step was handled here, so this instance has the timeout job;
    another instance then took a later step (a later deadline in the row). When the job
    falls due here, the conversation and its draft go on."""
    world = await begin_notice(bot, fake, session_factory)
    job = _timeout_job(bot, "broadcast", world.staff.id)
    async with transaction(session_factory) as session:  # the other instance's step
        moved = await session.execute(update(PersistedState).where(
            PersistedState.name == "broadcast").values(
                expires_at=utcnow() + timedelta(seconds=TIMEOUT)))
        assert moved.rowcount == 1

    assert bot.application is not None
    await job.run(bot.application)
    await bot.application.update_persistence()

    await world.staff.send(NOTICE)
    assert "发给" in world.staff.last_message.text


@pytest.mark.skipif(not on_postgresql(), reason="instances share a PostgreSQL database only")
async def test_a_timeout_here_ends_a_conversation_nobody_carried_on(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    world = await begin_notice(bot, fake, session_factory)
    job = _timeout_job(bot, "broadcast", world.staff.id)

    assert bot.application is not None
    await job.run(bot.application)
    await bot.application.update_persistence()

    async with session_factory() as session:
        names = set(await session.scalars(select(PersistedState.name).where(
            PersistedState.telegram_id == world.staff.id)))
    assert "broadcast" not in names
    await world.staff.send(NOTICE)
    assert "发给" not in world.staff.last_message.text
