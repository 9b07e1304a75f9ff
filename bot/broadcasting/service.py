"""Sending a broadcast: audience, per-language content, quiet hours, tip rotation.

`send_broadcast` is the one way a tip, an anti-fraud alert, a notice or a task leaves
the bot — from /broadcast and from every schedule fire. It writes the broadcast and its
delivery rows into the caller's transaction (nothing here commits); the caller wakes the
dispatcher after the commit. Emergency alerts do not come here (they ignore quiet hours).

No Telegram import here.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from types import MappingProxyType

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit.service import record
from bot.broadcasting.models import QuietHoursSetting, TipSent
from bot.directory.audience import AudienceSpec, Recipient, area_paths, resolve_audience
from bot.directory.models import Area, AreaKind, Chat, SubscriptionTopic, Team
from bot.i18n import LANGUAGES, N_, translator
from broadcasts import Broadcast, OutgoingMessage, Priority, enqueue_broadcast
from broadcasts.tips import CATEGORIES, TipItem, load_tip_library, pick_next_tip

__all__ = [
    "DEFAULT_QUIET_HOURS",
    "TOPIC_OF_KIND",
    "BroadcastKind",
    "ContentSource",
    "FixedContent",
    "NextTip",
    "QuietHours",
    "audience_key",
    "build_content",
    "community_of",
    "default_tip_library",
    "defer_until",
    "get_quiet_hours",
    "peek_next_tip",
    "quiet_hours_for_audience",
    "render_text",
    "season_for",
    "send_broadcast",
    "set_quiet_hours",
]


class BroadcastKind(enum.StrEnum):
    SAFETY_TIP = "safety_tip"
    ANTI_FRAUD = "anti_fraud"
    NOTICE = "notice"
    TASK = "task"


#: What a resident subscribes to for each kind; residents get only what they chose.
TOPIC_OF_KIND = {
    BroadcastKind.SAFETY_TIP: SubscriptionTopic.SAFETY_TIPS,
    BroadcastKind.ANTI_FRAUD: SubscriptionTopic.ANTI_FRAUD,
    BroadcastKind.NOTICE: SubscriptionTopic.NOTICES,
    BroadcastKind.TASK: SubscriptionTopic.NOTICES,
}


#: The first line of every broadcast, so people see at once what kind of message it is.
KIND_HEADERS: Mapping[BroadcastKind, str] = MappingProxyType({
    BroadcastKind.SAFETY_TIP: N_("💡 Safety tip"),
    BroadcastKind.ANTI_FRAUD: N_("⚠️ Anti-fraud alert"),
    BroadcastKind.NOTICE: N_("📢 Notice"),
    BroadcastKind.TASK: N_("📋 Task"),
})


# -- what to send -----------------------------------------------------------------------

@dataclass(frozen=True)
class FixedContent:
    """Text written by staff: one `text` for everyone, or `texts` per language (the
    default language's text is the fallback), with an optional photo (a file id)."""

    text: str | None = None
    texts: Mapping[str, str] = field(default_factory=dict)
    photo: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "texts", MappingProxyType(dict(self.texts)))
        if not (self.text or any(self.texts.values()) or self.photo):
            raise ValueError("a broadcast needs a text or a photo")
        unknown = set(self.texts) - set(LANGUAGES)
        if unknown:
            raise ValueError(f"unknown languages {sorted(unknown)}")


@dataclass(frozen=True)
class NextTip:
    """The next library tip of `category` (any category when None) for this audience;
    each recipient gets it in their own language."""

    category: str | None = None

    def __post_init__(self) -> None:
        if self.category is not None and self.category not in CATEGORIES:
            raise ValueError(f"unknown tip category {self.category!r}")


ContentSource = FixedContent | NextTip


def render_text(kind: BroadcastKind, text: str | None, language: str) -> str:
    """What a recipient reads: the kind's header line, then the text."""
    header = translator(language)(KIND_HEADERS[BroadcastKind(kind)])
    return f"{header}\n\n{text.strip()}" if text and text.strip() else header


def build_content(
    kind: BroadcastKind, content: FixedContent | TipItem, *, default_language: str,
) -> dict[str, OutgoingMessage]:
    """`{language: message}` with the default language first (the engine's fallback).

    A tip carries all three languages; fixed content carries its `texts`, or its one
    `text` under every language (the header is still in each reader's language).
    """
    order = [default_language, *(lang for lang in LANGUAGES if lang != default_language)]
    out: dict[str, OutgoingMessage] = {}
    if isinstance(content, TipItem):
        for language in order:
            out[language] = OutgoingMessage(
                text=render_text(kind, content.text(language, default_language), language))
        return out
    for language in order:
        text = content.texts.get(language) or content.texts.get(default_language) or (
            content.text or next((t for t in content.texts.values() if t), None))
        out[language] = OutgoingMessage(text=render_text(kind, text, language),
                                        photo=content.photo)
    return out


@cache
def default_tip_library() -> tuple[TipItem, ...]:
    """The shipped library (`data/tips.toml`), loaded once."""
    return tuple(load_tip_library())


# -- seasons ----------------------------------------------------------------------------

#: Lunar New Year's Day; the Spring Festival period runs from two weeks before it to
#: the Lantern Festival (15 days after). Extend the table as years pass.
LUNAR_NEW_YEAR = {
    2024: date(2024, 2, 10), 2025: date(2025, 1, 29), 2026: date(2026, 2, 17),
    2027: date(2027, 2, 6), 2028: date(2028, 1, 26), 2029: date(2029, 2, 13),
    2030: date(2030, 2, 3), 2031: date(2031, 1, 23), 2032: date(2032, 2, 11),
}


def season_for(day: date) -> str:
    """The library's season tag for a local date: a sensitive period if one is on
    (Spring Festival, the Two Sessions in early March, National Day week, the start of
    the school term), otherwise the calendar season."""
    new_year = LUNAR_NEW_YEAR.get(day.year)
    if new_year is not None and new_year - timedelta(days=14) <= day <= new_year + timedelta(
            days=15):
        return "spring_festival"
    if day.month == 3 and day.day <= 15:
        return "two_sessions"
    if (day.month == 9 and day.day >= 28) or (day.month == 10 and day.day <= 7):
        return "national_day"
    if day.month == 9 and day.day <= 14:
        return "school_term"
    return {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
            6: "summer", 7: "summer", 8: "summer"}.get(day.month, "autumn")


# -- tip rotation -----------------------------------------------------------------------

def audience_key(spec: AudienceSpec, category: str | None) -> str:
    """A stable name for "this audience, this category": equal specs give equal keys."""
    digest = hashlib.sha256(json.dumps(spec.to_json(), sort_keys=True).encode()).hexdigest()
    return f"{category or 'all'}:{digest[:32]}"


async def peek_next_tip(
    session: AsyncSession, *, key: str, category: str | None, library: Sequence[TipItem],
    season: str | None,
) -> TipItem:
    """The tip this audience gets next, changing nothing (a new round when exhausted)."""
    return await _next_tip(session, key=key, category=category, library=library,
                           season=season, forget_sent=False)


async def _next_tip(
    session: AsyncSession, *, key: str, category: str | None, library: Sequence[TipItem],
    season: str | None, forget_sent: bool = True,
) -> TipItem:
    """The next tip for this audience; when the category is exhausted, a new round, the
    record of the tips sent forgotten (kept with `forget_sent=False`, for a preview)."""
    sent = set(await session.scalars(select(TipSent.tip_id).where(TipSent.audience_key == key)))
    tip = pick_next_tip(library, category=category, already_sent=sent, season=season)
    if tip is None:
        if forget_sent:
            await session.execute(delete(TipSent).where(TipSent.audience_key == key))
        tip = pick_next_tip(library, category=category, already_sent=set(), season=season)
    if tip is None:
        raise ValueError(f"the tip library has no tips in {category!r}")
    return tip


# -- quiet hours ------------------------------------------------------------------------

@dataclass(frozen=True)
class QuietHours:
    """Local times between which non-urgent messages wait; `start == end`: none."""

    start: time = time(21, 30)
    end: time = time(7, 30)

    @property
    def off(self) -> bool:
        return self.start == self.end

    def is_quiet(self, local: time) -> bool:
        if self.off:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    @classmethod
    def from_minutes(cls, start: int, end: int) -> QuietHours:
        return cls(time(start // 60, start % 60), time(end // 60, end % 60))

    def label(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


DEFAULT_QUIET_HOURS = QuietHours()


def defer_until(now: datetime, tz: tzinfo, quiet: QuietHours) -> datetime | None:
    """When a message made at `now` may go out: None if now is fine, else the end of
    these quiet hours (the next morning, in `tz`), as an aware UTC datetime."""
    local = now.astimezone(tz)
    if not quiet.is_quiet(local.time().replace(tzinfo=None)):
        return None
    day = local.date()
    if quiet.start > quiet.end and local.time().replace(tzinfo=None) >= quiet.start:
        day += timedelta(days=1)
    return datetime.combine(day, quiet.end, tzinfo=tz).astimezone(UTC)


async def community_of(session: AsyncSession, *, area_path: str | None) -> Area | None:
    """The community an area lies in (itself if it is one)."""
    if not area_path:
        return None
    ids = [int(part) for part in area_path.strip("/").split("/") if part]
    if not ids:
        return None
    return await session.scalar(
        select(Area).where(Area.id.in_(ids), Area.kind == AreaKind.COMMUNITY).limit(1))


async def get_quiet_hours(session: AsyncSession, *, community_id: int) -> QuietHours:
    row = await session.get(QuietHoursSetting, community_id)
    if row is None:
        return DEFAULT_QUIET_HOURS
    return QuietHours.from_minutes(row.start_minute, row.end_minute)


async def set_quiet_hours(
    session: AsyncSession, *, community_id: int, quiet: QuietHours | None, actor_id: int | None,
) -> QuietHours:
    """Set a community's quiet hours (None: back to the default), audited."""
    row = await session.get(QuietHoursSetting, community_id)
    before = (QuietHours.from_minutes(row.start_minute, row.end_minute).label()
              if row is not None else None)
    if quiet is None:
        if row is not None:
            await session.delete(row)
        result = DEFAULT_QUIET_HOURS
    else:
        minutes = (quiet.start.hour * 60 + quiet.start.minute,
                   quiet.end.hour * 60 + quiet.end.minute)
        if row is None:
            session.add(QuietHoursSetting(area_id=community_id, start_minute=minutes[0],
                                          end_minute=minutes[1], updated_by_id=actor_id))
        else:
            row.start_minute, row.end_minute = minutes
            row.updated_by_id = actor_id
        result = quiet
    await record(session, actor_id=actor_id, action="broadcasting.quiet_hours",
                 object_type="area", object_id=community_id,
                 before={"quiet_hours": before},
                 after={"quiet_hours": result.label() if quiet is not None else None})
    return result


async def _audience_paths(session: AsyncSession, spec: AudienceSpec) -> list[str]:
    """The area paths an audience touches: its areas, its teams' areas, its chats' links."""
    paths = list((await area_paths(session, spec.area_ids)).values())
    if spec.team_ids:
        paths += list(await session.scalars(
            select(Area.path).join(Team, Team.area_id == Area.id)
            .where(Team.id.in_(spec.team_ids))))
    if spec.chat_ids:
        paths += list(await session.scalars(
            select(Area.path).join(Chat, Chat.area_id == Area.id)
            .where(Chat.id.in_(spec.chat_ids))))
        paths += list(await session.scalars(
            select(Area.path).join(Team, Team.area_id == Area.id)
            .join(Chat, Chat.team_id == Team.id)
            .where(Chat.id.in_(spec.chat_ids))))
    return paths


async def quiet_hours_for_audience(session: AsyncSession, spec: AudienceSpec) -> list[QuietHours]:
    """The quiet hours of every community the audience reaches (the default for one with
    no setting of its own). An audience across the whole directory gets every community's."""
    paths = await _audience_paths(session, spec)
    if spec.reaches_everywhere or not paths:
        condition = Area.kind == AreaKind.COMMUNITY
    else:
        ancestors = {int(p) for path in paths for p in path.strip("/").split("/") if p}
        below = [and_(Area.path >= path, Area.path < path[:-1] + "0") for path in set(paths)]
        condition = and_(Area.kind == AreaKind.COMMUNITY,
                         or_(Area.id.in_(ancestors), *below))
    rows = (await session.execute(
        select(Area.id, QuietHoursSetting.start_minute, QuietHoursSetting.end_minute)
        .outerjoin(QuietHoursSetting, QuietHoursSetting.area_id == Area.id)
        .where(condition))).all()
    found = {DEFAULT_QUIET_HOURS if start is None else QuietHours.from_minutes(start, end)
             for _id, start, end in rows}
    return sorted(found or {DEFAULT_QUIET_HOURS}, key=lambda q: (q.start, q.end))


# -- sending ----------------------------------------------------------------------------

async def _pairs(recipients: AsyncIterator[Recipient]) -> AsyncIterator[tuple[int, str]]:
    async for recipient in recipients:
        yield recipient.chat_id, recipient.language


async def send_broadcast(
    session: AsyncSession,
    *,
    kind: BroadcastKind,
    audience: AudienceSpec,
    content: ContentSource,
    author_id: int | None,
    now: datetime,
    default_language: str,
    tz: tzinfo,
    quiet_hours: QuietHours | None = None,
    urgent: bool = False,
    schedule_key: str | None = None,
    fire_at: datetime | None = None,
    tip_library: Sequence[TipItem] | None = None,
) -> Broadcast | None:
    """Write one broadcast and a delivery row per recipient chat in the caller's transaction.

    - `author_id`: the sender's `Person.id` (None for a schedule with no author).
    - `now`: the moment of sending (aware), used for quiet hours and the tip season.
    - Quiet hours: unless `urgent`, a message made during quiet hours waits until they end
      (`not_before`). `quiet_hours` overrides; None looks up the quiet hours of every
      community the audience reaches and waits until all of them are over.
    - `NextTip`: the next library tip for this audience and category (no repeats until the
      category is exhausted, season first), every recipient in their own language.
    - `schedule_key` + `fire_at`: returns None when that fire was written already.
    - Residents reached through an area or a role get it only if they subscribed to this
      kind (`TOPIC_OF_KIND`); team members and staff get it anyway.

    Raises ValueError for an empty audience. Call `dispatcher.wake()` after committing.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if audience.is_empty:
        raise ValueError("an empty audience")
    kind = BroadcastKind(kind)
    if schedule_key is not None:
        if fire_at is None:
            raise ValueError("a schedule fire needs fire_at")
        exists = await session.scalar(select(Broadcast.id).where(
            Broadcast.schedule_key == schedule_key, Broadcast.fire_at == fire_at))
        if exists is not None:
            return None

    tip: TipItem | None = None
    key: str | None = None
    if isinstance(content, NextTip):
        library = default_tip_library() if tip_library is None else tip_library
        key = audience_key(audience, content.category)
        tip = await _next_tip(session, key=key, category=content.category, library=library,
                              season=season_for(now.astimezone(tz).date()))
        messages = build_content(kind, tip, default_language=default_language)
    else:
        messages = build_content(kind, content, default_language=default_language)

    not_before: datetime | None = None
    if not urgent:
        windows = [quiet_hours] if quiet_hours is not None else await quiet_hours_for_audience(
            session, audience)
        waits = [w for w in (defer_until(now, tz, q) for q in windows) if w is not None]
        not_before = max(waits) if waits else None

    described = audience.to_json()
    if tip is not None:
        described["tip_id"] = tip.id
    if urgent:
        described["urgent"] = True
    broadcast = await enqueue_broadcast(
        session,
        kind=kind.value,
        priority=Priority.NORMAL,
        content=messages,
        recipients=_pairs(resolve_audience(session, audience, default_language=default_language,
                                           topic=TOPIC_OF_KIND[kind])),
        audience=described,
        author_id=author_id,
        schedule_key=schedule_key,
        fire_at=fire_at,
        not_before=not_before,
    )
    if broadcast is not None and tip is not None and key is not None:
        session.add(TipSent(audience_key=key, tip_id=tip.id, broadcast_id=broadcast.id,
                            sent_at=now))
        await session.flush()
    return broadcast
