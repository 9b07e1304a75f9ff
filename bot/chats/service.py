"""Group chats the bot is in, what they are linked to, and private chats that block the bot.

A `Chat` row is a Telegram chat the bot has a standing with: every group it was added
to (active, or left when removed), and a person's private chat once that person blocked
the bot (status left; back to active when they return). The audience resolver reads
those rows to skip chats that would refuse a message.

No Telegram import: handlers pass plain values in and get small dataclasses back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit import record
from bot.auth import Actor, Permission, can
from bot.db import utcnow
from bot.directory.models import Area, AreaKind, Chat, ChatStatus, Team
from broadcasts.models import ChatState

GROUP_TYPES = frozenset({"group", "supergroup"})
LINKABLE_AREA_KINDS = (AreaKind.COMMUNITY, AreaKind.GRID)


class TargetKind(enum.StrEnum):
    TEAM = "t"
    AREA = "a"


@dataclass(frozen=True)
class Target:
    """Something a group chat can be linked to, with the area path that scopes it."""

    kind: TargetKind
    id: int
    name: str
    area_path: str
    area_kind: AreaKind | None = None  # for an area target


@dataclass(frozen=True)
class Registration:
    chat: Chat
    arrived: bool  # newly registered, or back after having been removed: say hello


@dataclass(frozen=True)
class ChatLink:
    chat: Chat | None
    target: Target | None


# -- registering and following chats ---------------------------------------------------------

async def find_chat(session: AsyncSession, *, telegram_chat_id: int) -> Chat | None:
    return await session.scalar(select(Chat).where(Chat.telegram_chat_id == telegram_chat_id))


async def register_group(
    session: AsyncSession, *, telegram_chat_id: int, chat_type: str, title: str,
    can_pin: bool | None = None,
) -> Registration:
    """The bot is in this group: create its row or bring it back; keep any earlier link."""
    chat = await find_chat(session, telegram_chat_id=telegram_chat_id)
    arrived = chat is None or chat.status is not ChatStatus.ACTIVE
    if chat is None:
        chat = Chat(telegram_chat_id=telegram_chat_id, type=chat_type, title=title[:255],
                    status=ChatStatus.ACTIVE, can_pin=bool(can_pin))
        session.add(chat)
        await session.flush()
    else:
        chat.status = ChatStatus.ACTIVE
        chat.type = chat_type
        chat.title = title[:255]
        if can_pin is not None:
            chat.can_pin = can_pin
    return Registration(chat=chat, arrived=arrived)


async def mark_removed(session: AsyncSession, *, telegram_chat_id: int) -> Chat | None:
    """The bot was removed from a group (or left it): stop sending there, keep the link."""
    chat = await find_chat(session, telegram_chat_id=telegram_chat_id)
    if chat is not None:
        chat.status = ChatStatus.LEFT
        chat.can_pin = False
    return chat


async def set_private_blocked(session: AsyncSession, *, telegram_id: int, blocked: bool) -> None:
    """A person blocked the bot (or came back): remember it on their private chat's row.

    When they come back, the broadcasts engine's own "unreachable" note for the chat is
    cleared too, or it would keep skipping them.
    """
    chat = await find_chat(session, telegram_chat_id=telegram_id)
    if chat is None:
        if not blocked:
            return
        chat = Chat(telegram_chat_id=telegram_id, type="private", title="")
        session.add(chat)
    chat.status = ChatStatus.LEFT if blocked else ChatStatus.ACTIVE
    if not blocked:
        await session.execute(
            update(ChatState).where(ChatState.chat_id == telegram_id)
            .values(unreachable_since=None, reason=None, updated_at=utcnow())
        )
    await session.flush()


async def follow_migration(
    session: AsyncSession, *, old_chat_id: int, new_chat_id: int, title: str | None = None,
) -> Chat | None:
    """A group became a supergroup: the row moves to the new id, link and language kept.

    Telegram sends two service messages (one in each chat) and the bot may already have
    registered the new supergroup: any order, any repetition ends in one active row
    under the new id carrying the old link.
    """
    old = await find_chat(session, telegram_chat_id=old_chat_id)
    new = await find_chat(session, telegram_chat_id=new_chat_id)
    if old is None:
        return new
    if new is None:
        old.telegram_chat_id = new_chat_id
        old.type = "supergroup"
        old.status = ChatStatus.ACTIVE
        if title:
            old.title = title[:255]
        await session.flush()
        return old
    # Both rows exist: the new one was registered on its own. Carry over what it lacks.
    if new.team_id is None and new.area_id is None:
        new.team_id, new.area_id, new.thread_id = old.team_id, old.area_id, old.thread_id
    new.language = new.language or old.language
    old.status = ChatStatus.MIGRATED
    old.team_id = old.area_id = None
    await session.flush()
    return new


# -- what a chat can be linked to ------------------------------------------------------------

async def load_target(
    session: AsyncSession, *, kind: TargetKind, target_id: int, archived_too: bool = False,
) -> Target | None:
    """A team or area a chat may be linked to; `archived_too` for a link made earlier,
    which stays its owners' to change after the team or area was archived."""
    if kind is TargetKind.TEAM:
        row = (await session.execute(
            select(Team.id, Team.name, Area.path, Team.archived)
            .join(Area, Area.id == Team.area_id).where(Team.id == target_id)
        )).first()
        if row is None or (row[3] and not archived_too):
            return None
        return Target(TargetKind.TEAM, row[0], row[1], row[2])
    area = await session.get(Area, target_id)
    if (area is None or (area.archived and not archived_too)
            or area.kind not in LINKABLE_AREA_KINDS):
        return None
    return Target(TargetKind.AREA, area.id, area.name, area.path, area.kind)


def may_link(actor: Actor | None, target: Target) -> bool:
    """Staff may link within their area; a leader may link to a team they lead."""
    if target.kind is TargetKind.TEAM:
        return can(actor, Permission.MANAGE_TEAM, team_id=target.id, area_path=target.area_path)
    return can(actor, Permission.MANAGE_DIRECTORY, area_path=target.area_path)


def link_held_by_others(actor: Actor | None, current: ChatLink) -> Target | None:
    """The chat's current link when this person may not change it (it is another team's
    or another community's group); None when they may link it anew."""
    if current.target is None or may_link(actor, current.target):
        return None
    return current.target


def may_manage_chat(actor: Actor | None, target: Target | None) -> bool:
    """Group settings (language): staff whose area holds the chat's link, or any staff
    when the chat is not linked yet."""
    if target is None:
        return can(actor, Permission.MANAGE_DIRECTORY)
    return can(actor, Permission.MANAGE_DIRECTORY, area_path=target.area_path)


async def link_targets(session: AsyncSession, *, actor: Actor) -> list[Target]:
    """The teams and areas (communities, grids) this person may link a chat to:
    teams first, then areas, each in tree order."""
    teams = select(Team.id, Team.name, Area.path).join(Area, Area.id == Team.area_id).where(
        Team.archived.is_(False))
    areas = select(Area).where(Area.kind.in_(LINKABLE_AREA_KINDS), Area.archived.is_(False))
    if not actor.is_admin:
        if can(actor, Permission.MANAGE_DIRECTORY) and actor.area_path:
            low, high = actor.area_path, actor.area_path[:-1] + "0"
            teams = teams.where(Area.path >= low, Area.path < high)
            areas = areas.where(Area.path >= low, Area.path < high)
        else:
            teams = teams.where(Team.id.in_(actor.led_team_ids))
            areas = None  # type: ignore[assignment]
    found = [Target(TargetKind.TEAM, team_id, name, path) for team_id, name, path in
             (await session.execute(teams.order_by(Area.path, Team.id))).all()]
    if areas is not None:
        found += [Target(TargetKind.AREA, a.id, a.name, a.path, a.kind) for a in
                  await session.scalars(areas.order_by(Area.path))]
    return [target for target in found if may_link(actor, target)]


async def current_link(session: AsyncSession, *, telegram_chat_id: int) -> ChatLink:
    chat = await find_chat(session, telegram_chat_id=telegram_chat_id)
    if chat is None:
        return ChatLink(None, None)
    target = None
    if chat.team_id is not None:
        target = await load_target(session, kind=TargetKind.TEAM, target_id=chat.team_id,
                                   archived_too=True)
    elif chat.area_id is not None:
        target = await load_target(session, kind=TargetKind.AREA, target_id=chat.area_id,
                                   archived_too=True)
    return ChatLink(chat, target)


def _link_state(chat: Chat) -> dict[str, Any]:
    return {"team_id": chat.team_id, "area_id": chat.area_id, "thread_id": chat.thread_id}


async def link_chat(
    session: AsyncSession, *, chat: Chat, target: Target, thread_id: int | None,
    actor_id: int | None,
) -> None:
    """Link the chat to one team or one area (replacing any earlier link), audited.

    The caller has asked `may_link`."""
    before = _link_state(chat)
    chat.team_id = target.id if target.kind is TargetKind.TEAM else None
    chat.area_id = target.id if target.kind is TargetKind.AREA else None
    chat.thread_id = thread_id
    await record(session, actor_id=actor_id, action="chat.link", object_type="chat",
                 object_id=chat.id, before=before, after=_link_state(chat))


async def unlink_chat(session: AsyncSession, *, chat: Chat, actor_id: int | None) -> None:
    before = _link_state(chat)
    chat.team_id = chat.area_id = chat.thread_id = None
    await record(session, actor_id=actor_id, action="chat.unlink", object_type="chat",
                 object_id=chat.id, before=before, after=_link_state(chat))


async def set_chat_language(
    session: AsyncSession, *, chat: Chat, language: str, actor_id: int | None
) -> None:
    before = {"language": chat.language}
    chat.language = language
    await record(session, actor_id=actor_id, action="chat.language", object_type="chat",
                 object_id=chat.id, before=before, after={"language": language})
