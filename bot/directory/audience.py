"""Who a broadcast or an alert reaches: an audience described once, resolved from the database.

An `AudienceSpec` names teams, areas (with every area below them), roles, linked group
chats and resident subscribers. `resolve_audience` streams the matching chats as
`Recipient`s, page by page (keyset pagination on the primary key), so 100,000 people never
sit in memory at once; `count_audience` answers "this reaches N people and M chats" with
two COUNT queries. Every person and every chat comes out once, however many parts of the
spec name them.

What residents chose is respected: given the `topic` of the message (a notice, a tip,
anti-fraud), a resident reached through an area or a role is reached only if they
subscribed to that topic; team members, staff and admins living there are reached anyway,
and a team's members always get their team's messages.

Reachable means: a person with a Telegram account, not pending, not left (unless asked),
whose private chat is not known to refuse us; a group chat the bot is still in. A private
chat that refuses us is a `Chat` row of type "private" whose status is not active (written
when the person blocks the bot), or a chat the broadcasts engine found unreachable (403).

No Telegram import here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth import Actor, Permission, can
from bot.directory.models import (
    Area,
    Chat,
    ChatStatus,
    Membership,
    Person,
    PersonStatus,
    Role,
    Subscription,
    SubscriptionTopic,
    Team,
)
from bot.i18n import normalize_language
from broadcasts.models import ChatState

RecipientKind = Literal["private", "group"]
GROUP_TYPES = ("group", "supergroup")
PAGE_SIZE = 4096


@dataclass(frozen=True)
class AudienceSpec:
    """Who to reach. The parts add up (a union); each person or chat is reached once.

    - `team_ids`: every member of these teams (leaders included).
    - `area_ids` and `roles`: people living in these areas or any area below them, of
      these roles (all roles when `roles` is empty); `roles` alone: those roles anywhere.
    - `residents_topic`: people subscribed to this topic, in `area_ids` (with sub-areas)
      or everywhere when there are no areas. When it is set and `roles` is empty, the
      areas only say where the subscribers live (not "everyone there").
    - `chat_ids`: these group chats (`Chat.id`, the database id, which survives a
      migration to a supergroup).
    - `include_linked_chats_of_teams`: the group chats linked to `team_ids`.
    - `include_linked_chats_of_areas`: the group chats linked to an area in the subtrees
      of `area_ids`, or to a team based there.
    - `exclude_left`: leave out people who left (kept for reports that want them).
    """

    team_ids: frozenset[int] = field(default_factory=frozenset)
    area_ids: frozenset[int] = field(default_factory=frozenset)
    roles: frozenset[Role] = field(default_factory=frozenset)
    chat_ids: frozenset[int] = field(default_factory=frozenset)
    include_linked_chats_of_teams: bool = False
    include_linked_chats_of_areas: bool = False
    residents_topic: SubscriptionTopic | None = None
    exclude_left: bool = True

    def __post_init__(self) -> None:
        # Accept any iterable (lists from JSON, sets in code) and keep it hashable.
        object.__setattr__(self, "team_ids", frozenset(self.team_ids))
        object.__setattr__(self, "area_ids", frozenset(self.area_ids))
        object.__setattr__(self, "roles", frozenset(Role(r) for r in self.roles))
        object.__setattr__(self, "chat_ids", frozenset(self.chat_ids))
        if self.residents_topic is not None:
            object.__setattr__(self, "residents_topic", SubscriptionTopic(self.residents_topic))

    @property
    def is_empty(self) -> bool:
        return not (self.team_ids or self.area_ids or self.roles or self.chat_ids
                    or self.residents_topic is not None)

    @property
    def reaches_everywhere(self) -> bool:
        """Roles or subscribers with no area: the whole directory."""
        return not self.area_ids and (bool(self.roles) or self.residents_topic is not None)

    def to_json(self) -> dict[str, Any]:
        """A plain dict for `Broadcast.audience` (sorted lists, so equal specs look equal)."""
        return {
            "team_ids": sorted(self.team_ids),
            "area_ids": sorted(self.area_ids),
            "roles": sorted(r.value for r in self.roles),
            "chat_ids": sorted(self.chat_ids),
            "include_linked_chats_of_teams": self.include_linked_chats_of_teams,
            "include_linked_chats_of_areas": self.include_linked_chats_of_areas,
            "residents_topic": self.residents_topic.value if self.residents_topic else None,
            "exclude_left": self.exclude_left,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AudienceSpec:
        return cls(
            team_ids=frozenset(data.get("team_ids", ())),
            area_ids=frozenset(data.get("area_ids", ())),
            roles=frozenset(Role(r) for r in data.get("roles", ())),
            chat_ids=frozenset(data.get("chat_ids", ())),
            include_linked_chats_of_teams=bool(data.get("include_linked_chats_of_teams")),
            include_linked_chats_of_areas=bool(data.get("include_linked_chats_of_areas")),
            residents_topic=(SubscriptionTopic(data["residents_topic"])
                             if data.get("residents_topic") else None),
            exclude_left=bool(data.get("exclude_left", True)),
        )


class Recipient(NamedTuple):
    """One chat to send to, in the language to send in."""

    chat_id: int  # the Telegram chat id (a person's user id for a private chat)
    language: str
    person_id: int | None  # None for a group chat
    kind: RecipientKind
    thread_id: int | None = None  # the forum topic of a linked group, if any


@dataclass(frozen=True)
class AudienceCount:
    people: int
    groups: int

    @property
    def total(self) -> int:
        return self.people + self.groups


# -- building blocks ---------------------------------------------------------------------

def subtree_bounds(path: str) -> tuple[str, str]:
    """`[low, high)` holding every materialized path that starts with `path` (`/1/4/`).

    A range rather than LIKE: SQLite's LIKE is case-insensitive and skips the index.
    `/` is followed by `0` in ASCII, so `/1/4/…` < `/1/40`.
    """
    if not path.endswith("/"):
        path += "/"
    return path, path[:-1] + "0"


async def area_paths(session: AsyncSession, area_ids: Iterable[int]) -> dict[int, str]:
    ids = set(area_ids)
    if not ids:
        return {}
    rows = await session.execute(select(Area.id, Area.path).where(Area.id.in_(ids)))
    return {area_id: path for area_id, path in rows}


def _subtree_area_ids(paths: Iterable[str]) -> Any:
    """A subquery of the ids of every area inside these paths (the areas themselves too)."""
    ranges = [and_(Area.path >= low, Area.path < high)
              for low, high in map(subtree_bounds, set(paths))]
    return select(Area.id).where(or_(*ranges) if ranges else false())


def _private_chat_refuses(telegram_id: Any) -> ColumnElement[bool]:
    """Whether a private chat is known to refuse us (blocked, deactivated, …)."""
    blocked = exists().where(Chat.telegram_chat_id == telegram_id,
                             Chat.status != ChatStatus.ACTIVE)
    return or_(blocked, _engine_unreachable(telegram_id))


def _engine_unreachable(telegram_chat_id: Any) -> ColumnElement[bool]:
    return exists().where(ChatState.chat_id == telegram_chat_id,
                          ChatState.unreachable_since.is_not(None))


def _subscribed(topic: SubscriptionTopic) -> ColumnElement[bool]:
    return exists().where(Subscription.person_id == Person.id, Subscription.topic == topic)


def _people_condition(
    spec: AudienceSpec, paths: list[str], topic: SubscriptionTopic | None = None,
) -> ColumnElement[bool] | None:
    """The WHERE clause choosing the spec's people, or None when it names no one.

    With a `topic`, residents come through areas and roles only if subscribed to it."""
    parts: list[ColumnElement[bool]] = []
    in_areas = Person.area_id.in_(_subtree_area_ids(paths)) if spec.area_ids else None
    if spec.team_ids:
        parts.append(Person.id.in_(
            select(Membership.person_id).where(Membership.team_id.in_(spec.team_ids))
        ))
    if spec.roles or (spec.area_ids and spec.residents_topic is None):
        clause: list[ColumnElement[bool]] = []
        if in_areas is not None:
            clause.append(in_areas)
        if spec.roles:
            clause.append(Person.role.in_(spec.roles))
        if topic is not None:
            clause.append(or_(Person.role != Role.RESIDENT, _subscribed(topic)))
        parts.append(and_(*clause))
    if spec.residents_topic is not None:
        subscribed = _subscribed(spec.residents_topic)
        parts.append(and_(subscribed, in_areas) if in_areas is not None else subscribed)
    if not parts:
        return None
    statuses = [PersonStatus.ACTIVE] if spec.exclude_left else [PersonStatus.ACTIVE,
                                                                 PersonStatus.LEFT]
    return and_(
        Person.telegram_id.is_not(None),
        Person.status.in_(statuses),
        or_(*parts),
        ~_private_chat_refuses(Person.telegram_id),
    )


def _groups_condition(spec: AudienceSpec, paths: list[str]) -> ColumnElement[bool] | None:
    parts: list[ColumnElement[bool]] = []
    if spec.chat_ids:
        parts.append(Chat.id.in_(spec.chat_ids))
    if spec.include_linked_chats_of_teams and spec.team_ids:
        parts.append(Chat.team_id.in_(spec.team_ids))
    if spec.include_linked_chats_of_areas and spec.area_ids:
        subtree = _subtree_area_ids(paths)
        parts.append(Chat.area_id.in_(subtree))
        parts.append(Chat.team_id.in_(select(Team.id).where(Team.area_id.in_(subtree))))
    if not parts:
        return None
    return and_(
        Chat.type.in_(GROUP_TYPES),
        Chat.status == ChatStatus.ACTIVE,
        or_(*parts),
        ~_engine_unreachable(Chat.telegram_chat_id),
    )


@lru_cache(maxsize=256)
def _language_of(chosen: str | None, telegram_language: str | None, default: str) -> str:
    """A person's language: chosen with /language, else Telegram's, else the default."""
    return chosen or normalize_language(telegram_language, default)


# -- the public functions -----------------------------------------------------------------

async def _windows(
    session: AsyncSession, id_column: Any, columns: list[Any], condition: ColumnElement[bool],
    window: int,
) -> AsyncIterator[Any]:
    """The rows matching `condition`, in primary-key windows `(low, low + window]`.

    Windows rather than `id > last LIMIT n`: with LIMIT, SQLite often drives the query
    from another index (area, membership) and sorts everything after `last` for every
    page, which is quadratic over a large area; a window bounds each query's work and
    each page's memory, and the pages together read each row once.
    """
    highest = await session.scalar(select(func.max(id_column)))
    if highest is None:
        return
    low = 0
    while low < highest:
        rows = (await session.execute(
            select(*columns).where(condition, id_column > low, id_column <= low + window)
            .order_by(id_column)
        )).all()
        for row in rows:
            yield row
        low += window


async def resolve_audience(
    session: AsyncSession,
    spec: AudienceSpec,
    *,
    default_language: str,
    topic: SubscriptionTopic | None = None,
    window: int = PAGE_SIZE,
) -> AsyncIterator[Recipient]:
    """Stream the spec's chats: linked group chats first (they matter most in an alert),
    then people's private chats, each once, a window of `window` ids at a time.

    `topic`: what kind of message this is, so residents who switched it off are left out
    (None, as for an emergency alert: everyone the spec names).

    Each window is its own short query, so nothing holds a cursor open between them and
    the caller may write in the same session meanwhile (enqueueing deliveries).
    """
    paths = list((await area_paths(session, spec.area_ids)).values())
    groups = _groups_condition(spec, paths)
    if groups is not None:
        async for chat_id, language, thread_id in _windows(
            session, Chat.id, [Chat.telegram_chat_id, Chat.language, Chat.thread_id],
            groups, window,
        ):
            yield Recipient(chat_id, language or default_language, None, "group", thread_id)
    people = _people_condition(spec, paths, topic)
    if people is not None:
        async for person_id, telegram_id, chosen, telegram_language in _windows(
            session, Person.id,
            [Person.id, Person.telegram_id, Person.language, Person.telegram_language],
            people, window,
        ):
            yield Recipient(telegram_id, _language_of(chosen, telegram_language,
                                                      default_language),
                            person_id, "private")


async def count_audience(
    session: AsyncSession, spec: AudienceSpec, *, topic: SubscriptionTopic | None = None,
) -> AudienceCount:
    """How many people and group chats `resolve_audience` would yield (two COUNTs)."""
    paths = list((await area_paths(session, spec.area_ids)).values())
    people_condition = _people_condition(spec, paths, topic)
    groups_condition = _groups_condition(spec, paths)
    people = 0 if people_condition is None else await session.scalar(
        select(func.count()).select_from(Person).where(people_condition))
    groups = 0 if groups_condition is None else await session.scalar(
        select(func.count()).select_from(Chat).where(groups_condition))
    return AudienceCount(people=people or 0, groups=groups or 0)


async def recipient_pairs(
    recipients: AsyncIterator[Recipient],
) -> AsyncIterator[tuple[int, str]]:
    """`(chat_id, language)` pairs, the shape `broadcasts.enqueue_broadcast` takes."""
    async for recipient in recipients:
        yield recipient.chat_id, recipient.language


async def may_target(
    session: AsyncSession,
    actor: Actor | None,
    spec: AudienceSpec,
    *,
    permission: Permission = Permission.BROADCAST,
) -> bool:
    """Whether `actor` may send to this audience, asked of `bot.auth.can` part by part.

    Admins: anything. Staff: areas, teams and linked chats inside their area. Leaders
    (with a permission leaders hold, such as SEND_ALERT): only the teams they lead and
    those teams' chats. Roles or subscribers with no area mean "everywhere": admins only.
    An empty spec targets no one and is refused.
    """
    if actor is None or spec.is_empty or not can(actor, permission):
        return False
    if actor.is_admin:
        return True
    if spec.reaches_everywhere:
        return False
    paths = await area_paths(session, spec.area_ids)
    if len(paths) != len(spec.area_ids):  # an unknown area: refuse rather than guess
        return False
    if not all(can(actor, permission, area_path=path) for path in paths.values()):
        return False
    team_paths = dict((await session.execute(
        select(Team.id, Area.path).join(Area, Area.id == Team.area_id)
        .where(Team.id.in_(spec.team_ids))
    )).all()) if spec.team_ids else {}
    if len(team_paths) != len(spec.team_ids):
        return False
    if not all(can(actor, permission, team_id=team_id, area_path=path)
               for team_id, path in team_paths.items()):
        return False
    if spec.chat_ids:
        team_path = select(Area.path).join(Team, Team.area_id == Area.id).where(
            Team.id == Chat.team_id).scalar_subquery()
        area_path = select(Area.path).where(Area.id == Chat.area_id).scalar_subquery()
        chats = (await session.execute(
            select(Chat.id, Chat.team_id, team_path, area_path).where(Chat.id.in_(spec.chat_ids))
        )).all()
        if len(chats) != len(spec.chat_ids):
            return False
        for _chat_id, team_id, linked_team_path, linked_area_path in chats:
            if team_id is not None:
                allowed = can(actor, permission, team_id=team_id, area_path=linked_team_path)
            elif linked_area_path is not None:
                allowed = can(actor, permission, area_path=linked_area_path)
            else:
                allowed = False  # an unlinked chat belongs to no one's scope
            if not allowed:
                return False
    return True
