"""Test helpers for tip-offs: a small PTB Sender for the outbox dispatcher (until the
application wires its own), and a community with teams and a linked group chat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto

from bot.directory.models import Area, Chat, ChatStatus, Person, Role, Team, TeamKind
from broadcasts import Dispatcher, Limiter, Limits, OutgoingMessage
from tests.factories import add_to_team, make_person, make_team, make_tree


class PTBSender:
    """Just enough of the Sender protocol for tip-off tests."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, message: OutgoingMessage) -> list[int]:
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)
                                            for t, d in row] for row in message.buttons])
        if message.album:
            media = [InputMediaPhoto(fid, caption=message.text if i == 0 else None)
                     for i, fid in enumerate(message.album)]
            sent = await self.bot.send_media_group(chat_id, media)
            return [m.message_id for m in sent]
        if message.photo:
            m = await self.bot.send_photo(chat_id, message.photo, caption=message.text,
                                          reply_markup=markup)
            return [m.message_id]
        m = await self.bot.send_message(chat_id, message.text or "", reply_markup=markup)
        return [m.message_id]

    async def pin(self, chat_id: int, message_id: int) -> None:
        await self.bot.pin_chat_message(chat_id, message_id)


async def start_dispatcher(application: Any,
                           session_factory: async_sessionmaker[AsyncSession]) -> Dispatcher:
    dispatcher = Dispatcher(session_factory, PTBSender(application.bot), Limiter(Limits()),
                            poll_interval=0.2)
    await dispatcher.start()
    application.bot_data["services"].dispatcher = dispatcher
    return dispatcher


@dataclass
class Community:
    community: Area
    grid: Area
    building: Area
    patrol: Team
    cadres: Team
    mediation: Team
    leader: Person
    member: Person
    cadre: Person


async def make_community(session: AsyncSession, *, leader_id: int, member_id: int,
                         cadre_id: int, patrol_chat_id: int | None) -> Community:
    tree = await make_tree(session)
    patrol = await make_team(session, area=tree.community, name="治安巡逻队",
                             kind=TeamKind.PATROL)
    cadres = await make_team(session, area=tree.community, name="值班干部",
                             kind=TeamKind.CADRES)
    mediation = await make_team(session, area=tree.community, name="民事调解队",
                                kind=TeamKind.MEDIATION)
    leader = await make_person(session, name="王队长", role=Role.MEMBER, area=tree.community,
                               telegram_id=leader_id, phone="13800000001")
    await add_to_team(session, person=leader, team=patrol, leader=True)
    member = await make_person(session, name="张队员", role=Role.MEMBER, area=tree.community,
                               telegram_id=member_id)
    await add_to_team(session, person=member, team=patrol)
    cadre = await make_person(session, name="李干部", role=Role.MEMBER, area=tree.community,
                              telegram_id=cadre_id)
    await add_to_team(session, person=cadre, team=cadres, leader=True)
    if patrol_chat_id is not None:
        session.add(Chat(telegram_chat_id=patrol_chat_id, type="group", title="巡逻队群",
                         team_id=patrol.id, status=ChatStatus.ACTIVE))
    await session.flush()
    return Community(tree.community, tree.grid, tree.building, patrol, cadres, mediation,
                     leader, member, cadre)


async def ensure_outbox_tables(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """The outbox's tables, until the broadcasts migration lands (a no-op once it has)."""
    from broadcasts import Base as OutboxBase

    engine = session_factory.kw["bind"]
    async with engine.begin() as connection:
        await connection.run_sync(OutboxBase.metadata.create_all, checkfirst=True)


def relax_private_limits(fake: Any) -> None:
    """A person takes seconds per step; a test takes milliseconds. Keep the group limit,
    let a private chat take the whole conversation at test speed."""
    from tests.fake_telegram import Limits as FakeLimits

    fake.set_limits(FakeLimits(chat_per_s=50.0, chat_burst=50.0))
