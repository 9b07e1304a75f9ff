"""The chats service without Telegram: migrations in any order, topics, blocks."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chats import service
from bot.db import transaction, utcnow
from bot.directory.models import Chat, ChatStatus
from broadcasts.models import Base as BroadcastsBase
from broadcasts.models import ChatState
from tests.factories import make_cast

Factory = async_sessionmaker[AsyncSession]
OLD, NEW = -4_000_000_001, -1_000_000_000_001


async def rows(factory: Factory) -> list[tuple[int, str, ChatStatus, int | None, str | None]]:
    async with factory() as session:
        chats = await session.scalars(select(Chat).order_by(Chat.id))
        return [(c.telegram_chat_id, c.type, c.status, c.area_id, c.language) for c in chats]


async def linked_group(factory: Factory) -> int:
    """A basic group linked to a community, in zh-TW; returns the community id."""
    async with transaction(factory) as session:
        cast = await make_cast(session)
        chat = (await service.register_group(session, telegram_chat_id=OLD, chat_type="group",
                                             title="群")).chat
        target = await service.load_target(session, kind=service.TargetKind.AREA,
                                           target_id=cast.tree.community.id)
        assert target is not None
        await service.link_chat(session, chat=chat, target=target, thread_id=None,
                                actor_id=cast.staff.id)
        chat.language = "zh-TW"
        return cast.tree.community.id


@pytest.mark.parametrize("order", ["to-from", "from-to", "to-to-from-from"])
async def test_migration_moves_the_row_whatever_the_order(
    session_factory: Factory, order: str
) -> None:
    area_id = await linked_group(session_factory)
    for _ in order.split("-"):
        async with transaction(session_factory) as session:
            await service.follow_migration(session, old_chat_id=OLD, new_chat_id=NEW,
                                           title="群")
    assert await rows(session_factory) == [(NEW, "supergroup", ChatStatus.ACTIVE, area_id,
                                            "zh-TW")]


async def test_migration_after_the_new_supergroup_registered_itself(
    session_factory: Factory,
) -> None:
    area_id = await linked_group(session_factory)
    async with transaction(session_factory) as session:
        await service.register_group(session, telegram_chat_id=NEW, chat_type="supergroup",
                                     title="群")
    for _ in range(2):
        async with transaction(session_factory) as session:
            await service.follow_migration(session, old_chat_id=OLD, new_chat_id=NEW)
    assert await rows(session_factory) == [
        (OLD, "group", ChatStatus.MIGRATED, None, "zh-TW"),
        (NEW, "supergroup", ChatStatus.ACTIVE, area_id, "zh-TW"),
    ]


async def test_a_link_made_in_a_forum_topic_keeps_the_topic(session_factory: Factory) -> None:
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        chat = (await service.register_group(session, telegram_chat_id=NEW,
                                             chat_type="supergroup", title="论坛")).chat
        target = await service.load_target(session, kind=service.TargetKind.TEAM,
                                           target_id=cast.team.id)
        assert target is not None
        await service.link_chat(session, chat=chat, target=target, thread_id=42,
                                actor_id=cast.staff.id)
    async with session_factory() as session:
        link = await service.current_link(session, telegram_chat_id=NEW)
    assert link.chat is not None and link.chat.thread_id == 42
    assert link.target is not None and link.target.id == cast.team.id


async def test_coming_back_clears_the_engines_unreachable_note(session_factory: Factory) -> None:
    async with session_factory() as session:
        await (await session.connection()).run_sync(
            lambda sync: BroadcastsBase.metadata.create_all(sync, checkfirst=True))
        await session.commit()
    async with transaction(session_factory) as session:
        await service.set_private_blocked(session, telegram_id=77, blocked=True)
        session.add(ChatState(chat_id=77, unreachable_since=utcnow(), reason="blocked"))
    async with transaction(session_factory) as session:
        await service.set_private_blocked(session, telegram_id=77, blocked=False)
    async with session_factory() as session:
        state = await session.get(ChatState, 77)
    assert state is not None and state.unreachable_since is None
    assert await rows(session_factory) == [(77, "private", ChatStatus.ACTIVE, None, None)]


async def test_only_linkable_areas_are_targets(session_factory: Factory) -> None:
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        for area, expected in ((cast.tree.street_office, False), (cast.tree.community, True),
                               (cast.tree.grid, True), (cast.tree.building, False)):
            target = await service.load_target(session, kind=service.TargetKind.AREA,
                                               target_id=area.id)
            assert (target is not None) is expected
