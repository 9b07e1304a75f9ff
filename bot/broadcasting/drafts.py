"""A broadcast being composed: the draft, what the composer may offer, the audience it means.

No Telegram import: the handlers keep a `Draft` per person while they compose, and ask
`audience_options` (fresh on every press) what this person may choose.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth import Actor, directory_scope
from bot.broadcasting.service import (
    TOPIC_OF_KIND,
    BroadcastKind,
    ContentSource,
    FixedContent,
    NextTip,
    audience_key,
    default_tip_library,
    peek_next_tip,
    season_for,
)
from bot.directory.audience import AudienceSpec, subtree_bounds
from bot.directory.models import Area, AreaKind, Chat, ChatStatus, Role, SubscriptionTopic, Team
from bot.schedules.service import text_content, tip_content
from broadcasts.tips import TipItem

#: Roles staff may pick (narrowing the chosen areas); admins are reached as people anyway.
ROLE_CHOICES: tuple[Role, ...] = (Role.STAFF, Role.MEMBER, Role.RESIDENT)
MAX_OPTIONS = 60
MAX_RESIDENT_AREAS = 3


@dataclass
class Draft:
    """What one staff member has chosen so far (kept in their `user_data`)."""

    tag: str = field(default_factory=lambda: secrets.token_hex(4))
    kind: BroadcastKind | None = None
    team_ids: set[int] = field(default_factory=set)
    area_ids: set[int] = field(default_factory=set)
    roles: set[Role] = field(default_factory=set)
    chat_ids: set[int] = field(default_factory=set)
    residents_area: int | None = None  # "all residents of" this area (its subscribers)
    section: str = "t"
    page: int = 0
    text: str | None = None
    photo: str | None = None
    tip: bool = False
    tip_category: str | None = None

    @property
    def has_audience(self) -> bool:
        return bool(self.team_ids or self.area_ids or self.roles or self.chat_ids
                    or self.residents_area is not None)

    @property
    def topic(self) -> SubscriptionTopic:
        """What residents must have subscribed to for this kind of message."""
        return TOPIC_OF_KIND[self.kind or BroadcastKind.NOTICE]

    @property
    def has_content(self) -> bool:
        return self.tip or bool(self.text or self.photo)

    def content(self) -> ContentSource:
        if self.tip:
            return NextTip(self.tip_category)
        return FixedContent(text=self.text, photo=self.photo)

    def schedule_content(self) -> dict[str, Any]:
        """The same content as a schedule stores it (`Schedule.content`)."""
        if self.tip:
            return tip_content([self.tip_category] if self.tip_category else [])
        return text_content(self.text or "", self.photo)


@dataclass(frozen=True)
class Option:
    id: int
    name: str


@dataclass(frozen=True)
class AudienceOptions:
    """What this person may put in an audience, all inside their scope."""

    teams: Sequence[Option]
    areas: Sequence[Option]
    chats: Sequence[Option]
    residents: Sequence[Option]  # areas whose residents may be chosen in one tap
    scope_area_id: int | None  # the area roles apply in when no area is chosen; None: all

    def allows(self, section: str, value: int) -> bool:
        pool = {"t": self.teams, "a": self.areas, "c": self.chats,
                "res": self.residents}[section]
        return any(o.id == value for o in pool)


def _in_scope(column: object, scope: str) -> object:
    if scope == "/":
        return True
    low, high = subtree_bounds(scope)
    return and_(column >= low, column < high)  # type: ignore[operator]


async def audience_options(session: AsyncSession, *, actor: Actor | None) -> AudienceOptions:
    """Teams, areas (communities and grids) and linked group chats within the actor's scope,
    and the areas whose residents they may reach in one tap: their own area for staff (a
    street office, a community, a grid), the top areas for an admin."""
    scope = directory_scope(actor)
    if scope is None or actor is None:
        return AudienceOptions((), (), (), (), None)
    teams = (await session.execute(
        select(Team.id, Team.name, Area.name).join(Area, Area.id == Team.area_id)
        .where(Team.archived.is_(False), _in_scope(Area.path, scope))
        .order_by(Area.path, Team.name).limit(MAX_OPTIONS))).all()
    areas = (await session.execute(
        select(Area.id, Area.name)
        .where(Area.archived.is_(False), Area.kind.in_([AreaKind.COMMUNITY, AreaKind.GRID]),
               _in_scope(Area.path, scope))
        .order_by(Area.path).limit(MAX_OPTIONS))).all()
    team_area = select(Area.path).join(Team, Team.area_id == Area.id).where(
        Team.id == Chat.team_id).scalar_subquery()
    chat_area = select(Area.path).where(Area.id == Chat.area_id).scalar_subquery()
    chats = (await session.execute(
        select(Chat.id, Chat.title)
        .where(Chat.type.in_(["group", "supergroup"]), Chat.status == ChatStatus.ACTIVE,
               or_(Chat.team_id.is_not(None), Chat.area_id.is_not(None)),
               or_(_in_scope(team_area, scope), _in_scope(chat_area, scope)))
        .order_by(Chat.title).limit(MAX_OPTIONS))).all()
    scope_area_id = None if scope == "/" else int(scope.strip("/").split("/")[-1])
    top = (Area.id == scope_area_id if scope_area_id is not None
           else Area.parent_id.is_(None))
    residents = (await session.execute(
        select(Area.id, Area.name).where(top, Area.archived.is_(False))
        .order_by(Area.path).limit(MAX_RESIDENT_AREAS))).all()
    # Names of teams carry their area, since every community has a "patrol team".
    return AudienceOptions(
        teams=[Option(i, f"{name} · {area}") for i, name, area in teams],
        areas=[Option(i, name) for i, name in areas],
        chats=[Option(i, title or "?") for i, title in chats],
        residents=[Option(i, name) for i, name in residents],
        scope_area_id=scope_area_id,
    )


def spec_of(draft: Draft, options: AudienceOptions) -> AudienceSpec:
    """The audience a draft describes.

    Teams and chats add up with the rest; a team brings its linked group chats. Areas mean
    everyone living there (and the group chats linked there); roles narrow the chosen areas
    (or the person's own area when none is chosen). "All residents of X" means X's
    subscribers to this kind of message (it replaces areas and roles). Residents reached
    through areas or roles are, when sent, only those subscribed to this kind.
    """
    if draft.residents_area is not None and options.allows("res", draft.residents_area):
        return AudienceSpec(team_ids=draft.team_ids, chat_ids=draft.chat_ids,
                            area_ids={draft.residents_area}, residents_topic=draft.topic,
                            include_linked_chats_of_teams=True)
    area_ids = set(draft.area_ids)
    if draft.roles and not area_ids and options.scope_area_id is not None:
        area_ids = {options.scope_area_id}
    return AudienceSpec(team_ids=draft.team_ids, area_ids=area_ids, roles=draft.roles,
                        chat_ids=draft.chat_ids, include_linked_chats_of_teams=True,
                        include_linked_chats_of_areas=bool(draft.area_ids))


async def preview_tip(
    session: AsyncSession, *, spec: AudienceSpec, category: str | None, now: datetime,
    tz: tzinfo, tip_library: Sequence[TipItem] | None = None,
) -> TipItem:
    """The tip `send_broadcast` would pick now for this audience (nothing recorded)."""
    library = default_tip_library() if tip_library is None else tip_library
    return await peek_next_tip(session, key=audience_key(spec, category), category=category,
                                library=library, season=season_for(now.astimezone(tz).date()))
