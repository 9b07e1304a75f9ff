"""Tip-offs as plain async functions over a session: drafts, submit, route, act, escalate.

No Telegram import. Every message the bot sends on its own (the team's card and album,
reporter updates, escalations, reminders) is written to the outbox in the caller's
transaction; the caller wakes the dispatcher after commit.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Result, Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.audit import record
from bot.directory.models import (
    Area,
    Chat,
    ChatStatus,
    Membership,
    Person,
    PersonStatus,
    Role,
    Team,
)
from bot.i18n import Translate, normalize_language, translator
from bot.tipoffs import ratings, render
from bot.tipoffs.categories import CATEGORIES, emergency_for
from bot.tipoffs.models import (
    OPEN_STATUSES,
    DraftStep,
    ReporterBlock,
    TipOff,
    TipOffDraft,
    TipOffEvent,
    TipOffEventKind,
    TipOffPhoto,
    TipOffPrompt,
    TipOffStatus,
)
from bot.tipoffs.references import new_reference
from bot.tipoffs.routing import cadres_for, route
from broadcasts import OutgoingMessage, Priority, enqueue_broadcast

logger = logging.getLogger(__name__)

MAX_PHOTOS = 10


@dataclass(frozen=True)
class TipoffConfig:
    """Timings and limits; the defaults are the issue's."""

    escalate_after: timedelta = timedelta(minutes=30)
    escalate_after_urgent: timedelta = timedelta(minutes=5)
    remind_after: timedelta = timedelta(hours=24)
    draft_expires_after: timedelta = timedelta(hours=24)
    reports_per_hour: int = 5
    max_text: int = 1000
    max_address: int = 200
    album_window_s: float = 1.0
    scan_interval_s: float = 30.0


# -- who may report ------------------------------------------------------------------
class Refusal(enum.StrEnum):
    BLOCKED = "blocked"
    TOO_MANY = "too_many"


async def is_blocked(session: AsyncSession, *, person_id: int) -> bool:
    """Staff stopped this person from reporting (new reports and additions alike)."""
    return await session.get(ReporterBlock, person_id) is not None


#: What the reporter adds to an open report (comments, photos, voice notes).
ADDITION_EVENTS = (TipOffEventKind.COMMENT, TipOffEventKind.PHOTO_ADDED,
                   TipOffEventKind.VOICE_ADDED)


async def may_report(
    session: AsyncSession, *, person_id: int, now: datetime, config: TipoffConfig
) -> Refusal | None:
    """Reports and additions in the last hour share one limit per person. An addition is
    counted once however many events it made (an album's photos and caption share their
    time)."""
    if await is_blocked(session, person_id=person_id):
        return Refusal.BLOCKED
    since = now - timedelta(hours=1)
    reports = await session.scalar(
        select(func.count(TipOff.id)).where(TipOff.reporter_id == person_id,
                                            TipOff.created_at > since)
    )
    additions = select(TipOffEvent.tipoff_id, TipOffEvent.at).distinct().join(
        TipOff, TipOff.id == TipOffEvent.tipoff_id
    ).where(TipOff.reporter_id == person_id, TipOffEvent.kind.in_(ADDITION_EVENTS),
            TipOffEvent.at > since).subquery()
    added = await session.scalar(select(func.count()).select_from(additions))
    if (reports or 0) + (added or 0) >= config.reports_per_hour:
        return Refusal.TOO_MANY
    return None


# -- drafts --------------------------------------------------------------------------
async def find_draft(session: AsyncSession, *, telegram_id: int) -> TipOffDraft | None:
    return await session.scalar(select(TipOffDraft).where(TipOffDraft.telegram_id == telegram_id))


async def drafting_telegram_ids(session: AsyncSession) -> set[int]:
    return set(await session.scalars(select(TipOffDraft.telegram_id)))


async def start_draft(session: AsyncSession, *, person: Person, now: datetime,
                      step: DraftStep = DraftStep.AWAITING_CATEGORY,
                      tipoff_id: int | None = None) -> TipOffDraft:
    """A fresh draft (an unfinished one is replaced)."""
    assert person.telegram_id is not None
    await session.execute(delete(TipOffDraft).where(TipOffDraft.person_id == person.id))
    draft = TipOffDraft(person_id=person.id, telegram_id=person.telegram_id, step=step,
                        photos=[], tipoff_id=tipoff_id, created_at=now, updated_at=now)
    session.add(draft)
    await session.flush()
    return draft


async def discard_draft(session: AsyncSession, *, telegram_id: int) -> bool:
    result = await session.execute(delete(TipOffDraft).where(TipOffDraft.telegram_id
                                                             == telegram_id))
    return bool(getattr(result, "rowcount", 0))


def advance(draft: TipOffDraft, step: DraftStep, now: datetime) -> None:
    draft.step = step
    draft.updated_at = now


def add_draft_photo(draft: TipOffDraft, photo: dict[str, Any], now: datetime) -> bool:
    """Append a photo (same photo twice counts once); False when the draft is full."""
    photos = list(draft.photos or [])
    if any(p["file_unique_id"] == photo["file_unique_id"] for p in photos):
        return True
    if len(photos) >= MAX_PHOTOS:
        return False
    photos.append(photo)
    draft.photos = photos  # a new list, so the JSON column is seen as changed
    draft.updated_at = now
    return True


@dataclass(frozen=True)
class PlaceChoice:
    id: int
    name: str


async def community_path(session: AsyncSession, path: str | None) -> str | None:
    """The path of the community an area lies in (the area's own path when it lies above
    any community)."""
    if not path:
        return None
    parts = [p for p in path.strip("/").split("/") if p]
    ancestors = ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
    return await session.scalar(
        select(Area.path).where(Area.path.in_(ancestors), Area.kind == "community")
    ) or path


async def place_choices(session: AsyncSession, *, home_area_id: int | None,
                        limit: int = 12) -> list[PlaceChoice]:
    """Buildings and grids around the reporter's home (under their community), or the
    communities when we do not know where they live."""
    community_path_: str | None = None
    if home_area_id is not None:
        community_path_ = await community_path(
            session, await session.scalar(select(Area.path).where(Area.id == home_area_id)))
    parent = aliased(Area)
    columns = (Area.id, Area.name, parent.name)
    if community_path_ is not None:
        stmt = (select(*columns).join(parent, parent.id == Area.parent_id, isouter=True)
                .where(Area.path.startswith(community_path_), Area.archived.is_(False),
                       Area.kind.in_(["grid", "building"]))
                .order_by(Area.path).limit(limit))
    else:
        stmt = (select(*columns).join(parent, parent.id == Area.parent_id, isouter=True)
                .where(Area.kind == "community", Area.archived.is_(False))
                .order_by(Area.path).limit(limit))
    rows = (await session.execute(stmt)).all()
    # The reporter picks by label: a name two places share is told apart by its parent.
    shared = {name for name, count in Counter(name for _, name, _ in rows).items() if count > 1}
    return [PlaceChoice(i, f"{name} · {above}" if name in shared and above else name)
            for i, name, above in rows]


# -- submitting ----------------------------------------------------------------------
@dataclass(frozen=True)
class Submitted:
    tipoff_id: int
    reference: str
    urgent: bool
    team_id: int | None


async def _unique_reference(session: AsyncSession) -> str:
    for length in (4, 4, 4, 5, 5, 6):
        reference = new_reference(length)
        taken = await session.scalar(select(TipOff.id).where(TipOff.reference == reference))
        if taken is None:
            return reference
    raise RuntimeError("could not find a free reference code")


async def submit(
    session: AsyncSession, *, draft: TipOffDraft, now: datetime, default_language: str,
    tz: ZoneInfo,
) -> Submitted:
    """Turn a finished draft into a report, route it and queue it for the team."""
    person = await session.get_one(Person, draft.person_id)
    # The report's place is only what the reporter chose (and confirmed in the summary).
    # Without one it is routed by where they live, but their home is not kept on the report,
    # so no card can show an anonymous reporter's building.
    area_id = draft.area_id
    category = draft.category or "other"
    urgent = emergency_for(category, draft.description) is not None
    tipoff = TipOff(
        reference=await _unique_reference(session), reporter_id=person.id,
        anonymous=draft.anonymous if draft.anonymous is not None else True,
        share_phone=bool(draft.share_phone and person.phone and draft.anonymous is False),
        category=category, urgent=urgent, description=draft.description or "",
        voice_file_id=draft.voice_file_id, area_id=area_id, address=draft.address,
        latitude=draft.latitude, longitude=draft.longitude, status=TipOffStatus.NEW,
        routed_at=now, created_at=now,
    )
    session.add(tipoff)
    await session.flush()
    for photo in draft.photos or []:
        session.add(TipOffPhoto(
            tipoff_id=tipoff.id, file_id=photo["file_id"],
            file_unique_id=photo["file_unique_id"], team_file_id=photo["team_file_id"],
            stripped=bool(photo.get("stripped")), sha256=photo.get("sha256"),
            local_path=photo.get("local_path"), created_at=now,
        ))
    session.add(TipOffEvent(tipoff_id=tipoff.id, kind=TipOffEventKind.CREATED, at=now))
    chosen = await route(session, category=category, area_id=area_id or person.area_id)
    tipoff.team_id = chosen.team_id
    session.add(TipOffEvent(tipoff_id=tipoff.id, kind=TipOffEventKind.ROUTED,
                            team_id=chosen.team_id, note=chosen.via, at=now))
    await session.delete(draft)
    await session.flush()
    await deliver_to_team(session, tipoff_id=tipoff.id, default_language=default_language, tz=tz)
    logger.info("Tip-off %s routed via %s", tipoff.reference, chosen.via,
                extra={"tipoff_id": tipoff.id, "team_id": chosen.team_id})
    return Submitted(tipoff.id, tipoff.reference, urgent, chosen.team_id)


# -- what the team sees --------------------------------------------------------------
async def place_name(session: AsyncSession, *, area_id: int | None) -> str | None:
    """A chosen area as the team sees it (with its parent: "3网格 · 12栋"), and as the
    reporter's summary shows it, so both say the same."""
    if area_id is None:
        return None
    area = await session.get(Area, area_id)
    if area is None:
        return None
    parent = await session.get(Area, area.parent_id) if area.parent_id is not None else None
    return f"{parent.name} · {area.name}" if parent is not None else area.name


async def _scope_area_id(session: AsyncSession, tipoff: TipOff) -> int | None:
    """The report's place, else its team's area: where its cadres are looked for."""
    if tipoff.area_id is not None or tipoff.team_id is None:
        return tipoff.area_id
    return await session.scalar(select(Team.area_id).where(Team.id == tipoff.team_id))


async def card_facts(session: AsyncSession, *, tipoff_id: int) -> render.CardFacts:
    """The card's facts. The reporter's name is read only for a report that is not anonymous."""
    tipoff = await session.get_one(TipOff, tipoff_id)
    reporter_name = reporter_phone = None
    if not tipoff.anonymous:
        reporter = await session.get_one(Person, tipoff.reporter_id)
        reporter_name = reporter.name
        reporter_phone = reporter.phone if tipoff.share_phone else None
    place = await place_name(session, area_id=tipoff.area_id)
    team_name = None
    if tipoff.team_id is not None:
        team_name = await session.scalar(select(Team.name).where(Team.id == tipoff.team_id))
    claimed_by = None
    if tipoff.claimed_by_id is not None:
        claimed_by = await session.scalar(select(Person.name)
                                          .where(Person.id == tipoff.claimed_by_id))
    photos = await session.scalar(select(func.count(TipOffPhoto.id))
                                  .where(TipOffPhoto.tipoff_id == tipoff.id))
    return render.CardFacts(
        tipoff_id=tipoff.id, reference=tipoff.reference, category=tipoff.category,
        urgent=tipoff.urgent, description=tipoff.description,
        has_voice=tipoff.voice_file_id is not None, photo_count=photos or 0, place=place,
        address=tipoff.address, latitude=tipoff.latitude, longitude=tipoff.longitude,
        created_at=tipoff.created_at, status=tipoff.status, team_name=team_name,
        reporter_name=reporter_name, reporter_phone=reporter_phone,
        claimed_by_name=claimed_by, outcome_note=tipoff.outcome_note,
    )


def _person_language(person_language: str | None, telegram_language: str | None,
                     default_language: str) -> str:
    return person_language or normalize_language(telegram_language, default_language)


async def team_recipients(
    session: AsyncSession, *, team_id: int, default_language: str
) -> list[tuple[int, str]]:
    """The team's linked group chat(s); with none, its leaders (or members) privately."""
    chats = (await session.execute(
        select(Chat.telegram_chat_id, Chat.language)
        .where(Chat.team_id == team_id, Chat.status == ChatStatus.ACTIVE)
    )).all()
    if chats:
        return [(chat_id, language or default_language) for chat_id, language in chats]
    rows = (await session.execute(
        select(Person.telegram_id, Person.language, Person.telegram_language,
               Membership.is_leader)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.team_id == team_id, Person.telegram_id.is_not(None),
               Person.status == PersonStatus.ACTIVE)
    )).all()
    leaders = [r for r in rows if r.is_leader] or rows
    return [(r.telegram_id, _person_language(r.language, r.telegram_language, default_language))
            for r in leaders]


async def admin_recipients(session: AsyncSession, *, default_language: str
                           ) -> list[tuple[int, str]]:
    rows = (await session.execute(
        select(Person.telegram_id, Person.language, Person.telegram_language)
        .where(Person.role == Role.ADMIN, Person.telegram_id.is_not(None))
    )).all()
    return [(r.telegram_id, _person_language(r.language, r.telegram_language, default_language))
            for r in rows]


async def _recipients_for(session: AsyncSession, *, team_id: int | None, area_id: int | None,
                          default_language: str) -> list[tuple[int, str]]:
    """The team's recipients; if it has nobody, the cadres; then the admins."""
    if team_id is not None:
        found = await team_recipients(session, team_id=team_id,
                                      default_language=default_language)
        if found:
            return found
    cadres = await cadres_for(session, area_id=area_id)
    if cadres is not None and cadres != team_id:
        found = await team_recipients(session, team_id=cadres, default_language=default_language)
        if found:
            return found
    return await admin_recipients(session, default_language=default_language)


async def deliver_to_team(
    session: AsyncSession, *, tipoff_id: int, default_language: str, tz: ZoneInfo
) -> list[tuple[int, str]]:
    """Queue the photos (an album) and then the card with its buttons, for the team."""
    tipoff = await session.get_one(TipOff, tipoff_id)
    recipients = await _recipients_for(session, team_id=tipoff.team_id,
                                       area_id=await _scope_area_id(session, tipoff),
                                       default_language=default_language)
    if not recipients:
        logger.warning("Tip-off %s has nobody to go to", tipoff.reference,
                       extra={"tipoff_id": tipoff.id})
        return []
    facts = await card_facts(session, tipoff_id=tipoff_id)
    await _enqueue_delivery(
        session, tipoff=tipoff, facts=facts, recipients=recipients,
        audience={"tipoff": tipoff.id, "team": tipoff.team_id}, card_kind="tipoff_card",
        card=lambda _: render.card_message(facts, _, tz), default_language=default_language,
    )
    return recipients


async def _enqueue_delivery(
    session: AsyncSession, *, tipoff: TipOff, facts: render.CardFacts,
    recipients: list[tuple[int, str]], audience: dict[str, Any], card_kind: str,
    card: Callable[[Translate], OutgoingMessage], default_language: str,
    evidence_recipients: list[tuple[int, str]] | None = None,
) -> None:
    """The evidence (photos as an album, the voice note) and then the card, in that order
    (the outbox sends one priority in queue order), so a card's "sent just above" is true.
    `evidence_recipients` (default: all of `recipients`) lets those who already hold the
    evidence get only the card."""
    evidence_to = recipients if evidence_recipients is None else evidence_recipients
    photos = list(await session.scalars(select(TipOffPhoto.team_file_id)
                                        .where(TipOffPhoto.tipoff_id == tipoff.id)
                                        .order_by(TipOffPhoto.id)))
    if photos and evidence_to:
        await enqueue_broadcast(
            session, kind="tipoff_photos", priority=Priority.TIPOFF, audience=audience,
            content=render.in_all_languages(lambda _: render.album_message(facts, photos, _),
                                            default_language),
            recipients=evidence_to,
        )
    if tipoff.voice_file_id is not None and evidence_to:
        voice = tipoff.voice_file_id
        await enqueue_broadcast(
            session, kind="tipoff_voice", priority=Priority.TIPOFF, audience=audience,
            content=render.in_all_languages(lambda _: render.voice_message(facts, voice, _),
                                            default_language),
            recipients=evidence_to,
        )
    await enqueue_broadcast(
        session, kind=card_kind, priority=Priority.TIPOFF, audience=audience,
        content=render.in_all_languages(card, default_language), recipients=recipients,
    )


async def notify_reporter(
    session: AsyncSession, *, tipoff: TipOff, default_language: str, note: str | None = None,
    reassigned: bool = False,
) -> None:
    """A status update to the reporter, in their language, through the outbox."""
    reporter = await session.get_one(Person, tipoff.reporter_id)
    if reporter.telegram_id is None:
        return
    team_name = None
    if tipoff.team_id is not None:
        team_name = await session.scalar(select(Team.name).where(Team.id == tipoff.team_id))
    language = _person_language(reporter.language, reporter.telegram_language, default_language)

    def build(_: Translate) -> OutgoingMessage:
        return OutgoingMessage(text=render.status_update_text(
            reference=tipoff.reference, status=tipoff.status, team_name=team_name, note=note,
            _=_, reassigned=reassigned))

    await enqueue_broadcast(
        session, kind="tipoff_update", priority=Priority.REPORTER_UPDATE,
        audience={"tipoff": tipoff.id}, content=render.in_all_languages(build, language),
        recipients=[(reporter.telegram_id, language)],
    )


# -- the team acts -------------------------------------------------------------------
@dataclass(frozen=True)
class TipOffView:
    """What authorization and the handlers need to know about one report."""

    id: int
    reference: str
    status: TipOffStatus
    team_id: int | None
    #: The report's own area, else its team's area: what staff scope is checked against.
    scope_path: str | None
    claimed_by_id: int | None
    reporter_id: int
    anonymous: bool


async def load_view(session: AsyncSession, *, tipoff_id: int) -> TipOffView | None:
    tipoff = await session.get(TipOff, tipoff_id)
    if tipoff is None:
        return None
    path = None
    if tipoff.area_id is not None:
        path = await session.scalar(select(Area.path).where(Area.id == tipoff.area_id))
    if path is None and tipoff.team_id is not None:
        path = await session.scalar(select(Area.path).join(Team, Team.area_id == Area.id)
                                    .where(Team.id == tipoff.team_id))
    return TipOffView(tipoff.id, tipoff.reference, tipoff.status, tipoff.team_id, path,
                      tipoff.claimed_by_id, tipoff.reporter_id, tipoff.anonymous)


async def find_by_reference(session: AsyncSession, *, reference: str) -> TipOff | None:
    return await session.scalar(select(TipOff).where(TipOff.reference == reference))


class Outcome(enum.StrEnum):
    DONE = "done"
    TAKEN = "taken"  # someone else was first
    CLOSED = "closed"  # already resolved / referred / rejected
    MISSING = "missing"


@dataclass(frozen=True)
class ActionResult:
    outcome: Outcome
    facts: render.CardFacts | None = None
    by_name: str | None = None  # who was first, when outcome is TAKEN


async def claim(
    session: AsyncSession, *, tipoff_id: int, person_id: int, now: datetime,
    default_language: str,
) -> ActionResult:
    """One winner: the conditional UPDATE succeeds for exactly one claimant."""
    result = await session.execute(
        update(TipOff)
        .where(TipOff.id == tipoff_id, TipOff.status == TipOffStatus.NEW)
        .values(status=TipOffStatus.CLAIMED, claimed_by_id=person_id, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    tipoff = await session.get(TipOff, tipoff_id, populate_existing=True)
    if tipoff is None:
        return ActionResult(Outcome.MISSING)
    if getattr(result, "rowcount", 0) != 1:
        by = None
        if tipoff.claimed_by_id is not None:
            by = await session.scalar(select(Person.name).where(Person.id
                                                                == tipoff.claimed_by_id))
        outcome = Outcome.TAKEN if tipoff.status is TipOffStatus.CLAIMED else Outcome.CLOSED
        return ActionResult(outcome, await card_facts(session, tipoff_id=tipoff_id), by)
    session.add(TipOffEvent(tipoff_id=tipoff_id, kind=TipOffEventKind.CLAIMED,
                            actor_id=person_id, team_id=tipoff.team_id, at=now))
    await record(session, actor_id=person_id, action="tipoff.claim", object_type="tipoff",
                 object_id=tipoff_id, before={"status": TipOffStatus.NEW.value},
                 after={"status": tipoff.status.value, "reference": tipoff.reference})
    await notify_reporter(session, tipoff=tipoff, default_language=default_language)
    return ActionResult(Outcome.DONE, await card_facts(session, tipoff_id=tipoff_id))


async def _acted_on(session: AsyncSession, result: Result[Any], *,
                   tipoff_id: int) -> TipOff | ActionResult:
    """The report after a conditional UPDATE of an open one; the outcome instead when it is
    gone, or when the UPDATE changed nothing (answered as closed: someone acted first)."""
    tipoff = await session.get(TipOff, tipoff_id, populate_existing=True)
    if tipoff is None:
        return ActionResult(Outcome.MISSING)
    if getattr(result, "rowcount", 0) != 1:
        return ActionResult(Outcome.CLOSED, await card_facts(session, tipoff_id=tipoff_id))
    return tipoff


_CLOSING_EVENTS = {
    TipOffStatus.RESOLVED: TipOffEventKind.RESOLVED,
    TipOffStatus.REFERRED: TipOffEventKind.REFERRED,
    TipOffStatus.REJECTED: TipOffEventKind.REJECTED,
}


async def close(
    session: AsyncSession, *, tipoff_id: int, person_id: int, status: TipOffStatus,
    note: str | None, now: datetime, default_language: str,
) -> ActionResult:
    """Resolve, refer to police or reject an open report (whoever acts first wins)."""
    if status not in _CLOSING_EVENTS:
        raise ValueError(f"{status} does not close a report")
    before = await session.scalar(select(TipOff.status).where(TipOff.id == tipoff_id))
    result = await session.execute(
        update(TipOff)
        .where(TipOff.id == tipoff_id, TipOff.status.in_(OPEN_STATUSES))
        .values(status=status, closed_at=now, outcome_note=note,
                claimed_by_id=func.coalesce(TipOff.claimed_by_id, person_id),
                claimed_at=func.coalesce(TipOff.claimed_at, now))
        .execution_options(synchronize_session=False)
    )
    tipoff = await _acted_on(session, result, tipoff_id=tipoff_id)
    if isinstance(tipoff, ActionResult):
        return tipoff
    session.add(TipOffEvent(tipoff_id=tipoff_id, kind=_CLOSING_EVENTS[status],
                            actor_id=person_id, team_id=tipoff.team_id, note=note, at=now))
    # Who closed it and how, never who reported it.
    await record(session, actor_id=person_id, action=f"tipoff.{status.value}",
                 object_type="tipoff", object_id=tipoff_id,
                 before={"status": before.value if before is not None else None},
                 after={"status": status.value, "reference": tipoff.reference}, reason=note)
    await notify_reporter(session, tipoff=tipoff, default_language=default_language, note=note)
    if status is TipOffStatus.RESOLVED:
        await _ask_rating(session, tipoff=tipoff, now=now, default_language=default_language)
    return ActionResult(Outcome.DONE, await card_facts(session, tipoff_id=tipoff_id))


async def _ask_rating(session: AsyncSession, *, tipoff: TipOff, now: datetime,
                      default_language: str) -> None:
    """After the status update, the reporter is asked how satisfied they are (once)."""
    reporter = await session.get_one(Person, tipoff.reporter_id)
    if reporter.telegram_id is None:
        return
    language = _person_language(reporter.language, reporter.telegram_language, default_language)
    await ratings.ask(session, tipoff=tipoff, telegram_id=reporter.telegram_id,
                      language=language, now=now)


async def reassign(
    session: AsyncSession, *, tipoff_id: int, team_id: int, person_id: int, now: datetime,
    default_language: str, tz: ZoneInfo,
) -> ActionResult:
    """Hand an open report to another team: it starts again as new there."""
    result = await session.execute(
        update(TipOff)
        .where(TipOff.id == tipoff_id, TipOff.status.in_(OPEN_STATUSES),
               TipOff.team_id.is_distinct_from(team_id))
        .values(team_id=team_id, status=TipOffStatus.NEW, claimed_by_id=None, claimed_at=None,
                routed_at=now, escalated_at=None, reminded_at=None)
        .execution_options(synchronize_session=False)
    )
    tipoff = await _acted_on(session, result, tipoff_id=tipoff_id)
    if isinstance(tipoff, ActionResult):
        return tipoff
    session.add(TipOffEvent(tipoff_id=tipoff_id, kind=TipOffEventKind.REASSIGNED,
                            actor_id=person_id, team_id=team_id, at=now))
    await deliver_to_team(session, tipoff_id=tipoff_id, default_language=default_language, tz=tz)
    await notify_reporter(session, tipoff=tipoff, default_language=default_language,
                          reassigned=True)
    return ActionResult(Outcome.DONE, await card_facts(session, tipoff_id=tipoff_id))


@dataclass(frozen=True)
class TeamChoice:
    id: int
    name: str


async def _reassign_targets(session: AsyncSession, *, tipoff_id: int,
                            within: str | None) -> Select[tuple[int, str]] | None:
    """The other teams of the report's community (and, for staff, inside `within`, their
    own scope); None when the report has no place to go by."""
    tipoff = await session.get(TipOff, tipoff_id)
    view = await load_view(session, tipoff_id=tipoff_id)
    community = await community_path(session, view.scope_path if view else None)
    if tipoff is None or community is None:
        return None
    stmt = (select(Team.id, Team.name).join(Area, Area.id == Team.area_id)
            .where(Team.archived.is_(False), Area.path.startswith(community)))
    if within is not None:
        stmt = stmt.where(Area.path.startswith(within))
    if tipoff.team_id is not None:
        stmt = stmt.where(Team.id != tipoff.team_id)
    return stmt


async def reassign_choices(session: AsyncSession, *, tipoff_id: int, within: str | None,
                           limit: int = 12) -> list[TeamChoice]:
    """The teams a report may be passed to, nearest first."""
    stmt = await _reassign_targets(session, tipoff_id=tipoff_id, within=within)
    if stmt is None:
        return []
    stmt = stmt.order_by(func.length(Area.path).desc(), Team.name).limit(limit)
    return [TeamChoice(i, n) for i, n in (await session.execute(stmt)).all()]


async def may_reassign_to(session: AsyncSession, *, tipoff_id: int, team_id: int,
                          within: str | None) -> bool:
    """Whether `team_id` is one of `reassign_choices` (a press carries any team id)."""
    stmt = await _reassign_targets(session, tipoff_id=tipoff_id, within=within)
    return stmt is not None and await session.scalar(stmt.where(Team.id == team_id)) is not None


# -- prompts (a typed note completes resolve / reject) -------------------------------
async def save_prompt(session: AsyncSession, *, chat_id: int, message_id: int, tipoff_id: int,
                      action: str, person_id: int, now: datetime,
                      card_message_id: int | None = None) -> None:
    """Remember a "reply with a note" message; `card_message_id` is the card it is about
    (kept in `action` as `<action>:<card id>`, so the card can be updated afterwards)."""
    stored = action if card_message_id is None else f"{action}:{card_message_id}"
    session.add(TipOffPrompt(chat_id=chat_id, message_id=message_id, tipoff_id=tipoff_id,
                             action=stored, person_id=person_id, created_at=now))


@dataclass(frozen=True)
class Prompt:
    tipoff_id: int
    action: str
    person_id: int
    card_message_id: int | None


async def find_prompt(session: AsyncSession, *, chat_id: int, message_id: int
                      ) -> TipOffPrompt | None:
    return await session.scalar(select(TipOffPrompt).where(TipOffPrompt.chat_id == chat_id,
                                                           TipOffPrompt.message_id
                                                           == message_id))


def read_prompt(row: TipOffPrompt) -> Prompt:
    action, _, card = row.action.partition(":")
    return Prompt(row.tipoff_id, action, row.person_id, int(card) if card.isdigit() else None)


# -- the reporter's follow-up --------------------------------------------------------
@dataclass(frozen=True)
class MyTip:
    id: int
    reference: str
    category: str
    status: TipOffStatus
    created_at: datetime


async def my_tipoffs(session: AsyncSession, *, person_id: int, limit: int = 10) -> list[MyTip]:
    rows = await session.scalars(select(TipOff).where(TipOff.reporter_id == person_id)
                                 .order_by(TipOff.created_at.desc(), TipOff.id.desc())
                                 .limit(limit))
    return [MyTip(t.id, t.reference, t.category, t.status, t.created_at) for t in rows]


async def add_to_report(
    session: AsyncSession, *, tipoff_id: int, reporter_id: int, now: datetime,
    comment: str | None = None, photos: Sequence[dict[str, Any]] = (),
    voice: str | None = None, default_language: str,
) -> bool:
    """A comment, photo(s) or voice note from the reporter for their open report, passed on
    to the team (several photos as one album)."""
    tipoff = await session.get(TipOff, tipoff_id)
    if tipoff is None or tipoff.reporter_id != reporter_id or tipoff.status not in OPEN_STATUSES:
        return False
    recipients = await _recipients_for(session, team_id=tipoff.team_id,
                                       area_id=await _scope_area_id(session, tipoff),
                                       default_language=default_language)
    if photos:
        photos = list(photos)[:MAX_PHOTOS]
        for photo in photos:
            session.add(TipOffPhoto(tipoff_id=tipoff_id, file_id=photo["file_id"],
                                    file_unique_id=photo["file_unique_id"],
                                    team_file_id=photo["team_file_id"],
                                    stripped=bool(photo.get("stripped")),
                                    sha256=photo.get("sha256"),
                                    local_path=photo.get("local_path"), created_at=now))
            session.add(TipOffEvent(tipoff_id=tipoff_id, kind=TipOffEventKind.PHOTO_ADDED,
                                    at=now))

        if comment:
            session.add(TipOffEvent(tipoff_id=tipoff_id, kind=TipOffEventKind.COMMENT,
                                    note=comment, at=now))
        team_files = tuple(photo["team_file_id"] for photo in photos)

        def build(_: Translate) -> OutgoingMessage:
            if len(team_files) == 1:
                head = _("📷 The reporter added a photo to tip-off {reference}.").format(
                    reference=tipoff.reference)
            else:
                head = _("📷 The reporter added {count} photos to tip-off {reference}.").format(
                    count=len(team_files), reference=tipoff.reference)
            text = f"{head}\n{comment}" if comment else head
            if len(team_files) == 1:
                return OutgoingMessage(text=text, photo=team_files[0])
            return OutgoingMessage(text=text, album=team_files)
    elif voice is not None:
        session.add(TipOffEvent(tipoff_id=tipoff_id, kind=TipOffEventKind.VOICE_ADDED, at=now))

        def build(_: Translate) -> OutgoingMessage:
            return OutgoingMessage(
                text=_("🎤 The reporter added a voice message to tip-off {reference}.").format(
                    reference=tipoff.reference),
                voice=voice)
    else:
        session.add(TipOffEvent(tipoff_id=tipoff_id, kind=TipOffEventKind.COMMENT,
                                note=comment, at=now))

        def build(_: Translate) -> OutgoingMessage:
            return OutgoingMessage(
                text=_("💬 The reporter added to tip-off {reference}: {comment}").format(
                    reference=tipoff.reference, comment=comment or ""))

    if recipients:
        await enqueue_broadcast(session, kind="tipoff_addition", priority=Priority.TIPOFF,
                                audience={"tipoff": tipoff_id},
                                content=render.in_all_languages(build, default_language),
                                recipients=recipients)
    return True


# -- escalation and reminders (timers from the database) ----------------------------
@dataclass
class ScanResult:
    escalated: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    drafts_expired: int = 0


async def run_scan(
    session: AsyncSession, *, now: datetime, config: TipoffConfig, default_language: str,
    tz: ZoneInfo,
) -> ScanResult:
    """Escalate unclaimed reports, remind claimers, put stale drafts aside. Idempotent:
    each report is marked (escalated_at / reminded_at) by a conditional UPDATE first."""
    out = ScanResult()
    normal_due = now - config.escalate_after
    urgent_due = now - config.escalate_after_urgent
    due = list(await session.scalars(
        select(TipOff.id).where(
            TipOff.status == TipOffStatus.NEW, TipOff.escalated_at.is_(None),
            ((TipOff.urgent.is_(True)) & (TipOff.routed_at <= urgent_due))
            | (TipOff.routed_at <= normal_due),
        ).order_by(TipOff.routed_at)
    ))
    for tipoff_id in due:
        marked = await session.execute(
            update(TipOff).where(TipOff.id == tipoff_id, TipOff.escalated_at.is_(None),
                                 TipOff.status == TipOffStatus.NEW)
            .values(escalated_at=now).execution_options(synchronize_session=False)
        )
        if getattr(marked, "rowcount", 0) != 1:
            continue
        await _escalate(session, tipoff_id=tipoff_id, now=now, config=config,
                        default_language=default_language, tz=tz)
        out.escalated.append(tipoff_id)
    stale = list(await session.scalars(
        select(TipOff.id).where(TipOff.status == TipOffStatus.CLAIMED,
                                TipOff.reminded_at.is_(None),
                                TipOff.claimed_at <= now - config.remind_after)
    ))
    for tipoff_id in stale:
        marked = await session.execute(
            update(TipOff).where(TipOff.id == tipoff_id, TipOff.reminded_at.is_(None))
            .values(reminded_at=now).execution_options(synchronize_session=False)
        )
        if getattr(marked, "rowcount", 0) != 1:
            continue
        await _remind(session, tipoff_id=tipoff_id, now=now, default_language=default_language)
        out.reminded.append(tipoff_id)
    out.drafts_expired = await _expire_drafts(session, now=now, config=config,
                                              default_language=default_language)
    return out


async def _escalate(session: AsyncSession, *, tipoff_id: int, now: datetime,
                    config: TipoffConfig, default_language: str, tz: ZoneInfo) -> None:
    tipoff = await session.get_one(TipOff, tipoff_id)
    scope_area_id = await _scope_area_id(session, tipoff)
    cadres = await cadres_for(session, area_id=scope_area_id)
    recipients = (await team_recipients(session, team_id=cadres,
                                        default_language=default_language)
                  if cadres is not None else [])
    if not recipients:
        recipients = await admin_recipients(session, default_language=default_language)
    session.add(TipOffEvent(tipoff_id=tipoff_id, kind=TipOffEventKind.ESCALATED,
                            team_id=cadres, at=now))
    facts = await card_facts(session, tipoff_id=tipoff_id)
    minutes = int((config.escalate_after_urgent if tipoff.urgent
                   else config.escalate_after).total_seconds() // 60)

    def build(_: Translate) -> OutgoingMessage:
        head = _("⏰ Tip-off {reference} has not been claimed for {minutes} minutes. Please "
                 "make sure someone takes it on.").format(reference=tipoff.reference,
                                                          minutes=minutes)
        return OutgoingMessage(text=head + "\n\n" + render.card_text(facts, _, tz),
                               buttons=render.card_buttons(facts, _))

    if recipients:
        # The card points at the photos and voice "just above": the cadres get them first,
        # as the team did (those who got them with the team's delivery get only the card).
        team_side = {chat_id for chat_id, _language in await _recipients_for(
            session, team_id=tipoff.team_id, area_id=scope_area_id,
            default_language=default_language)}
        await _enqueue_delivery(
            session, tipoff=tipoff, facts=facts, recipients=recipients,
            audience={"tipoff": tipoff_id, "team": cadres}, card_kind="tipoff_escalation",
            card=build, default_language=default_language,
            evidence_recipients=[r for r in recipients if r[0] not in team_side],
        )
    logger.info("Tip-off %s escalated", tipoff.reference, extra={"tipoff_id": tipoff_id})


async def _remind(session: AsyncSession, *, tipoff_id: int, now: datetime,
                  default_language: str) -> None:
    tipoff = await session.get_one(TipOff, tipoff_id)
    session.add(TipOffEvent(tipoff_id=tipoff_id, kind=TipOffEventKind.REMINDED,
                            actor_id=tipoff.claimed_by_id, at=now))
    if tipoff.claimed_by_id is None:
        return
    claimer = await session.get_one(Person, tipoff.claimed_by_id)
    if claimer.telegram_id is None:
        return
    language = _person_language(claimer.language, claimer.telegram_language, default_language)

    def build(_: Translate) -> OutgoingMessage:
        return OutgoingMessage(text=_(
            "⏰ A reminder: tip-off {reference}, which you claimed, is still open. When it is "
            "dealt with, press “Resolved” on its card (or refer it to the police).").format(
                reference=tipoff.reference))

    await enqueue_broadcast(session, kind="tipoff_reminder", priority=Priority.REPORTER_UPDATE,
                            audience={"tipoff": tipoff_id},
                            content=render.in_all_languages(build, language),
                            recipients=[(claimer.telegram_id, language)])


async def _expire_drafts(session: AsyncSession, *, now: datetime, config: TipoffConfig,
                         default_language: str) -> int:
    stale = (await session.execute(
        select(TipOffDraft.person_id, TipOffDraft.telegram_id, Person.language,
               Person.telegram_language)
        .join(Person, Person.id == TipOffDraft.person_id)
        .where(TipOffDraft.updated_at <= now - config.draft_expires_after)
    )).all()
    expired = 0
    for row in stale:
        gone = await session.execute(  # conditional: another instance may have just done it
            delete(TipOffDraft).where(TipOffDraft.person_id == row.person_id,
                                      TipOffDraft.updated_at <= now - config.draft_expires_after))
        if getattr(gone, "rowcount", 0) != 1:
            continue
        expired += 1
        language = _person_language(row.language, row.telegram_language, default_language)

        def build(_: Translate) -> OutgoingMessage:
            return OutgoingMessage(text=_("Your unfinished report was put aside because it "
                                          "was left for a long time. Send /report to start "
                                          "again whenever you like."))

        await enqueue_broadcast(session, kind="tipoff_draft_expired",
                                priority=Priority.REPORTER_UPDATE,
                                content=render.in_all_languages(build, language),
                                recipients=[(row.telegram_id, language)])
    return expired


# -- staff tools ---------------------------------------------------------------------
async def block_reporter(session: AsyncSession, *, tipoff_id: int, actor_id: int | None,
                         reason: str | None) -> bool:
    """Stop the reporter of a report from reporting again (without revealing who it is)."""
    tipoff = await session.get(TipOff, tipoff_id)
    if tipoff is None:
        return False
    if await session.get(ReporterBlock, tipoff.reporter_id) is None:
        session.add(ReporterBlock(person_id=tipoff.reporter_id, blocked_by_id=actor_id,
                                  reason=reason))
    await record(session, actor_id=actor_id, action="tipoff.block_reporter",
                 object_type="tipoff", object_id=tipoff_id, reason=reason)
    await session.execute(delete(TipOffDraft).where(TipOffDraft.person_id
                                                    == tipoff.reporter_id))
    return True


async def unblock_reporter(session: AsyncSession, *, tipoff_id: int, actor_id: int | None
                           ) -> bool:
    tipoff = await session.get(TipOff, tipoff_id)
    if tipoff is None:
        return False
    result = await session.execute(delete(ReporterBlock).where(ReporterBlock.person_id
                                                               == tipoff.reporter_id))
    await record(session, actor_id=actor_id, action="tipoff.unblock_reporter",
                 object_type="tipoff", object_id=tipoff_id)
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class Revealed:
    name: str
    phone: str | None
    telegram_id: int | None


async def reveal_reporter(session: AsyncSession, *, tipoff_id: int, actor_id: int,
                          reason: str) -> Revealed:
    """Who reported it, for an admin, with the reason written to the audit log."""
    tipoff = await session.get_one(TipOff, tipoff_id)
    reporter = await session.get_one(Person, tipoff.reporter_id)
    session.add(TipOffEvent(tipoff_id=tipoff_id, kind=TipOffEventKind.REVEALED,
                            actor_id=actor_id, note=reason))
    await record(session, actor_id=actor_id, action="tipoff.reveal_reporter",
                 object_type="tipoff", object_id=tipoff_id, reason=reason)
    return Revealed(reporter.name, reporter.phone, reporter.telegram_id)


def category_choices() -> Sequence[str]:
    return [c.value for c in CATEGORIES]


def label(category: str | None, language: str) -> str:
    return render.category_label(category, translator(language))

