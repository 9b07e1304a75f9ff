"""Emergency alerts: create (groups first), acknowledge, figures, re-notify, escalate, close.

No Telegram import. Everything the bot sends on its own goes through the outbox in the
caller's transaction; the caller wakes the dispatcher after commit. Timers are columns
(`Alert.next_renotify_at`), so a periodic scan with an injectable `now` drives them and a
restart loses nothing.
"""

from __future__ import annotations

import enum
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts import callbacks as cb
from bot.alerts import render
from bot.alerts.models import Alert, AlertRecipient, AlertStatus, SensitivePeriod, Severity
from bot.audit import record
from bot.auth import Actor, Permission, can, directory_scope
from bot.directory.audience import (
    GROUP_TYPES,
    AudienceSpec,
    may_target,
    resolve_audience,
    subtree_bounds,
)
from bot.directory.models import (
    Area,
    AreaKind,
    Chat,
    ChatStatus,
    Membership,
    Person,
    PersonStatus,
    Team,
)
from bot.i18n import normalize_language
from broadcasts import (
    Broadcast,
    Delivery,
    DeliveryStatus,
    OutgoingMessage,
    Priority,
    cancel_broadcast,
    enqueue_broadcast,
)
from broadcasts.store import dialect_insert

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertConfig:
    renotify_minutes: int = 10
    sensitive_renotify_minutes: int = 3
    renotify_max: int = 2
    scan_interval_s: float = 2.0
    status_edit_interval_s: float = 1.0


# -- sensitive periods ---------------------------------------------------------------------

async def active_period(session: AsyncSession, *, area_path: str | None,
                        now: datetime) -> SensitivePeriod | None:
    """The sensitive period in force for an area (one covering it, or everywhere)."""
    rows = (await session.execute(
        select(SensitivePeriod, Area.path).outerjoin(Area, Area.id == SensitivePeriod.area_id)
        .where(SensitivePeriod.starts_at <= now, SensitivePeriod.ends_at > now)
        .order_by(SensitivePeriod.renotify_minutes, SensitivePeriod.id)
    )).all()
    for period, path in rows:
        if path is None or (area_path is not None
                            and (area_path.startswith(path) or path.startswith(area_path))):
            return period
    return None


async def start_period(session: AsyncSession, *, area_id: int | None, hours: int,
                       renotify_minutes: int, created_by_id: int | None,
                       now: datetime) -> SensitivePeriod:
    period = SensitivePeriod(area_id=area_id, starts_at=now, ends_at=now + timedelta(hours=hours),
                             renotify_minutes=renotify_minutes, created_by_id=created_by_id)
    session.add(period)
    await session.flush()
    await record(session, actor_id=created_by_id, action="alert.sensitive_start",
                 object_type="sensitive_period", object_id=period.id,
                 after={"area_id": area_id, "hours": hours,
                        "renotify_minutes": renotify_minutes})
    return period


async def end_period(session: AsyncSession, *, period_id: int, now: datetime,
                     actor_id: int | None = None) -> bool:
    period = await session.get(SensitivePeriod, period_id)
    if period is None or period.ends_at <= now:
        return False
    await record(session, actor_id=actor_id, action="alert.sensitive_end",
                 object_type="sensitive_period", object_id=period.id,
                 before={"ends_at": period.ends_at.isoformat()},
                 after={"ends_at": now.isoformat()})
    period.ends_at = now
    return True


async def period_area_path(session: AsyncSession, period: SensitivePeriod) -> str | None:
    if period.area_id is None:
        return None
    return await session.scalar(select(Area.path).where(Area.id == period.area_id))


# -- composing -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Option:
    id: int
    name: str


#: The picker's sections: teams, areas (community and grids), linked group chats.
SECTIONS = ("t", "a", "c")
MAX_OPTIONS = 200


@dataclass(frozen=True)
class AudienceOptions:
    """What this person may alert, all inside their scope (fresh on every press)."""

    teams: Sequence[Option]
    areas: Sequence[Option]
    chats: Sequence[Option]

    def pool(self, section: str) -> Sequence[Option]:
        return {"t": self.teams, "a": self.areas, "c": self.chats}[section]

    def allows(self, kind: str, option_id: int) -> bool:
        return kind in SECTIONS and any(o.id == option_id for o in self.pool(kind))

    @property
    def empty(self) -> bool:
        return not (self.teams or self.areas or self.chats)


def _in_subtree(column: Any, scope: str) -> ColumnElement[bool]:
    if scope == "/":
        return true()
    low, high = subtree_bounds(scope)
    return and_(column >= low, column < high)


async def audience_options(session: AsyncSession, actor: Actor) -> AudienceOptions:
    """Staff: the teams, areas (community, grids) and linked group chats of their area;
    an admin with no area: everywhere; a team leader: the teams they lead and their chats."""
    scope = directory_scope(actor)
    team_query = (select(Team.id, Team.name, Area.name).join(Area, Area.id == Team.area_id)
                  .where(~Team.archived).order_by(Area.path, Team.name, Team.id)
                  .limit(MAX_OPTIONS))
    groups = (Chat.type.in_(GROUP_TYPES), Chat.status == ChatStatus.ACTIVE)
    if scope is None:  # a leader: their own teams only
        if not actor.led_team_ids:
            return AudienceOptions((), (), ())
        teams = (await session.execute(
            team_query.where(Team.id.in_(actor.led_team_ids)))).all()
        chats = (await session.execute(
            select(Chat.id, Chat.title).where(*groups, Chat.team_id.in_(actor.led_team_ids))
            .order_by(Chat.title, Chat.id).limit(MAX_OPTIONS))).all()
        areas: list[Any] = []
    else:
        teams = (await session.execute(team_query.where(_in_subtree(Area.path, scope)))).all()
        areas = list((await session.execute(
            select(Area.id, Area.name)
            .where(~Area.archived, Area.kind.in_([AreaKind.COMMUNITY, AreaKind.GRID]),
                   _in_subtree(Area.path, scope))
            .order_by(Area.path).limit(MAX_OPTIONS))).all())
        team_area = select(Area.path).join(Team, Team.area_id == Area.id).where(
            Team.id == Chat.team_id).scalar_subquery()
        chat_area = select(Area.path).where(Area.id == Chat.area_id).scalar_subquery()
        chats = (await session.execute(
            select(Chat.id, Chat.title)
            .where(*groups, or_(Chat.team_id.is_not(None), Chat.area_id.is_not(None)),
                   or_(_in_subtree(team_area, scope), _in_subtree(chat_area, scope)))
            .order_by(Chat.title, Chat.id).limit(MAX_OPTIONS))).all()
    # Every community has a "patrol team": name the area when the list spans several.
    several = len({area for _, _, area in teams}) > 1
    return AudienceOptions(
        teams=[Option(i, f"{name} · {area}" if several else name) for i, name, area in teams],
        areas=[Option(i, name) for i, name in areas],
        chats=[Option(i, title or "?") for i, title in chats],
    )


def spec_for(team_ids: Iterable[int], area_ids: Iterable[int],
             chat_ids: Iterable[int] = ()) -> AudienceSpec:
    return AudienceSpec(team_ids=frozenset(team_ids), area_ids=frozenset(area_ids),
                        chat_ids=frozenset(chat_ids),
                        include_linked_chats_of_teams=True, include_linked_chats_of_areas=True)


async def may_send(session: AsyncSession, actor: Actor | None, spec: AudienceSpec) -> bool:
    return await may_target(session, actor, spec, permission=Permission.SEND_ALERT)


# -- creating ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Created:
    alert_id: int
    groups: int
    people: int
    sensitive: bool


def _message(alert: Alert, _: render.Translate, *, pin: bool,
             reminder: tuple[int, int] | None = None) -> OutgoingMessage:
    buttons = ((( _(render.ACK_LABEL), cb.ack(alert.id)),),) if alert.ack_required else ()
    return OutgoingMessage(
        text=render.alert_text(_, severity=alert.severity, text=alert.text,
                               ack_required=alert.ack_required, reminder=reminder),
        photo=alert.photo, buttons=buttons, pin=pin,
    )


async def create_alert(
    session: AsyncSession, *, author: Actor, spec: AudienceSpec, text: str, photo: str | None,
    severity: Severity, ack_required: bool, config: AlertConfig, default_language: str,
    now: datetime,
) -> Created:
    """Write the alert, who must acknowledge, and its deliveries: pinnable groups, other
    groups, then private chats (the dispatcher sends a priority's rows oldest first)."""
    period = await active_period(session, area_path=author.area_path, now=now)
    minutes = period.renotify_minutes if period else config.renotify_minutes
    alert = Alert(
        author_id=author.person_id, language=author.language, audience=spec.to_json(),
        area_path=author.area_path, text=text, photo=photo, severity=severity,
        ack_required=ack_required, status=AlertStatus.OPEN, sensitive=period is not None,
        renotify_every_s=minutes * 60, renotify_max=config.renotify_max, renotify_done=0,
        next_renotify_at=now + timedelta(minutes=minutes) if ack_required else None,
        broadcast_ids=[], created_at=now,
    )
    session.add(alert)
    await session.flush()

    groups: list[tuple[int, str]] = []
    people: list[dict[str, object]] = []
    insert = dialect_insert(session, AlertRecipient.__table__).on_conflict_do_nothing(
        index_elements=["alert_id", "person_id"])
    async for r in resolve_audience(session, spec, default_language=default_language):
        if r.kind == "group":
            groups.append((r.chat_id, r.language))
            continue
        if r.person_id == author.person_id:
            continue  # the sender knows: never chased for, or listed as not having, an ack
        people.append({"alert_id": alert.id, "person_id": r.person_id, "telegram_id": r.chat_id,
                       "language": r.language, "private": True, "reminders": 0})
        if len(people) >= 2000:
            await session.execute(insert, people)
            people = []
    if people:
        await session.execute(insert, people)
    group_info = {}
    if groups:
        group_info = {tid: (pin, team) for tid, pin, team in (await session.execute(
            select(Chat.telegram_chat_id, Chat.can_pin, Chat.team_id)
            .where(Chat.telegram_chat_id.in_([g for g, _ in groups])))).all()}
    # Members of teams whose group got it: they acknowledge in the group (or not at all).
    linked_teams = {team for _, team in group_info.values() if team is not None}
    if linked_teams:
        rows = (await session.execute(
            select(Person.id, Person.telegram_id, Person.language, Person.telegram_language)
            .join(Membership, Membership.person_id == Person.id)
            .where(Membership.team_id.in_(linked_teams), Person.status == PersonStatus.ACTIVE,
                   Person.telegram_id.is_not(None), Person.id != author.person_id)
            .distinct())).all()
        if rows:
            await session.execute(insert, [
                {"alert_id": alert.id, "person_id": pid, "telegram_id": tid,
                 "language": lang or normalize_language(tlang, default_language),
                 "private": False, "reminders": 0} for pid, tid, lang, tlang in rows])

    pinned = [g for g in groups if group_info.get(g[0], (False, None))[0]]
    unpinned = [g for g in groups if not group_info.get(g[0], (False, None))[0]]
    ids: list[int] = []
    for part, pin in ((pinned, True), (unpinned, False)):
        if part:
            b = await enqueue_broadcast(
                session, kind="alert_group", priority=Priority.ALERT,
                content=render.in_all_languages(lambda _, p=pin: _message(alert, _, pin=p),
                                                alert.language),
                recipients=part, audience={"alert": alert.id}, author_id=author.person_id)
            assert b is not None
            ids.append(b.id)
    private_count = await session.scalar(select(func.count()).where(
        AlertRecipient.alert_id == alert.id, AlertRecipient.private.is_(True))) or 0
    if private_count:
        b = await enqueue_broadcast(
            session, kind="alert_private", priority=Priority.ALERT,
            content=render.in_all_languages(lambda _: _message(alert, _, pin=False),
                                            alert.language),
            recipients=_recipient_pairs(session, alert.id, private_only=True),
            audience={"alert": alert.id}, author_id=author.person_id)
        assert b is not None
        ids.append(b.id)
    alert.broadcast_ids = ids
    total_people = await session.scalar(select(func.count()).where(
        AlertRecipient.alert_id == alert.id)) or 0
    await record(session, actor_id=author.person_id, action="alert.send", object_type="alert",
                 object_id=alert.id,
                 after={"severity": severity.value, "ack_required": ack_required,
                        "groups": len(groups), "people": total_people, "text": text[:200],
                        # No person row: the command line, or an ADMIN_IDS admin by name.
                        **({"from": author.name} if author.person_id is None else {})})
    return Created(alert.id, len(groups), total_people, period is not None)


async def _recipient_pairs(session: AsyncSession, alert_id: int, *, private_only: bool = False,
                           unacknowledged: bool = False) -> AsyncIterator[tuple[int, str]]:
    """The alert's people as `(chat_id, language)`, in id windows (never all in memory)."""
    last = 0
    while True:
        q = (select(AlertRecipient.id, AlertRecipient.telegram_id, AlertRecipient.language)
             .where(AlertRecipient.alert_id == alert_id, AlertRecipient.id > last,
                    AlertRecipient.telegram_id.is_not(None))
             .order_by(AlertRecipient.id).limit(2000))
        if private_only:
            q = q.where(AlertRecipient.private.is_(True))
        if unacknowledged:
            q = q.where(AlertRecipient.acknowledged_at.is_(None))
        rows = (await session.execute(q)).all()
        if not rows:
            return
        for _rid, tid, lang in rows:
            yield tid, lang
        last = rows[-1][0]


async def set_status_message(session: AsyncSession, *, alert_id: int, chat_id: int,
                             message_id: int) -> None:
    await session.execute(update(Alert).where(Alert.id == alert_id).values(
        status_chat_id=chat_id, status_message_id=message_id))


# -- acknowledging -------------------------------------------------------------------------

class AckResult(enum.StrEnum):
    RECORDED = "recorded"
    ALREADY = "already"
    CLOSED = "closed"
    UNKNOWN = "unknown"
    NOT_RECIPIENT = "not_recipient"


@dataclass(frozen=True)
class Ack:
    """What a press did, and when this person's acknowledgement was recorded (if ever)."""

    result: AckResult
    at: datetime | None = None


async def acknowledge(session: AsyncSession, *, alert_id: int, person_id: int | None,
                      chat_id: int, now: datetime) -> Ack:
    """Record one person's acknowledgement once; anything else changes nothing."""
    status = await session.scalar(select(Alert.status).where(Alert.id == alert_id))
    if status is None:
        return Ack(AckResult.UNKNOWN)
    if status is not AlertStatus.OPEN:
        return Ack(AckResult.CLOSED)
    if person_id is None:
        return Ack(AckResult.NOT_RECIPIENT)
    result = await session.execute(
        update(AlertRecipient)
        .where(AlertRecipient.alert_id == alert_id, AlertRecipient.person_id == person_id,
               AlertRecipient.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_in=chat_id)
        .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0):
        return Ack(AckResult.RECORDED, now)
    known = (await session.execute(select(AlertRecipient.id, AlertRecipient.acknowledged_at).where(
        AlertRecipient.alert_id == alert_id, AlertRecipient.person_id == person_id))).first()
    if known is None:
        return Ack(AckResult.NOT_RECIPIENT)
    return Ack(AckResult.ALREADY, known[1])


# -- figures -------------------------------------------------------------------------------

async def figures(session: AsyncSession, alert_id: int) -> render.Figures | None:
    alert = await session.get(Alert, alert_id)
    if alert is None:
        return None
    counts: dict[DeliveryStatus, int] = defaultdict(int)
    if alert.broadcast_ids:
        for st, n in (await session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.broadcast_id.in_(alert.broadcast_ids))
                .group_by(Delivery.status))).all():
            counts[st] = n
    people, acked = (await session.execute(
        select(func.count(), func.count(AlertRecipient.acknowledged_at))
        .where(AlertRecipient.alert_id == alert_id))).one()
    return render.Figures(
        alert_id=alert.id, text=alert.text, severity=alert.severity,
        ack_required=alert.ack_required, open=alert.status is AlertStatus.OPEN,
        delivered=counts[DeliveryStatus.SENT], chats=sum(counts.values()),
        unreachable=counts[DeliveryStatus.UNREACHABLE] + counts[DeliveryStatus.FAILED],
        pending=counts[DeliveryStatus.PENDING] + counts[DeliveryStatus.IN_FLIGHT],
        acknowledged=acked, people=people, renotify_done=alert.renotify_done,
        renotify_max=alert.renotify_max, next_renotify_at=alert.next_renotify_at,
        escalated=alert.escalated_at is not None, closed_at=alert.closed_at,
    )


async def not_acknowledged(session: AsyncSession,
                           alert_id: int) -> list[tuple[str | None, list[str]]]:
    """Who has not acknowledged, grouped by team (a person in two teams shows in both)."""
    rows = (await session.execute(
        select(Person.name, Team.name)
        .join(AlertRecipient, AlertRecipient.person_id == Person.id)
        .outerjoin(Membership, Membership.person_id == Person.id)
        .outerjoin(Team, Team.id == Membership.team_id)
        .where(AlertRecipient.alert_id == alert_id, AlertRecipient.acknowledged_at.is_(None))
        .order_by(Team.name, Person.name))).all()
    grouped: dict[str | None, list[str]] = defaultdict(list)
    for person, team in rows:
        grouped[team].append(person)
    return sorted(grouped.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))


async def open_alert_ids(session: AsyncSession) -> list[int]:
    return list(await session.scalars(select(Alert.id).where(Alert.status == AlertStatus.OPEN)))


async def get_alert(session: AsyncSession, alert_id: int) -> Alert | None:
    return await session.get(Alert, alert_id)


async def may_manage(session: AsyncSession, actor: Actor | None, alert: Alert) -> bool:
    """The author while they may still send alerts, or anyone who may alert the same
    audience (staff of that community)."""
    if actor is None or not can(actor, Permission.SEND_ALERT):
        return False
    if actor.person_id is not None and actor.person_id == alert.author_id:
        return True
    return await may_send(session, actor, AudienceSpec.from_json(alert.audience))


# -- the chase -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ScanResult:
    renotified: list[int]
    escalated: list[int]

    @property
    def changed(self) -> bool:
        return bool(self.renotified or self.escalated)


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    # Served by ix_alerts_status_next_renotify (status=? AND next_renotify_at<?): closed,
    # escalated and no-ack alerts hold no due time, so the search touches only due rows.
    return (Alert.status == AlertStatus.OPEN, Alert.next_renotify_at.is_not(None),
            Alert.next_renotify_at <= now, Alert.ack_required.is_(True))


def due_query(now: datetime) -> Select[tuple[int]]:
    """The ids of alerts whose re-notify or escalation is due: one indexed search."""
    return select(Alert.id).where(*_due(now)).order_by(Alert.next_renotify_at)


async def due_alert_ids(session: AsyncSession, *, now: datetime) -> list[int]:
    return list(await session.scalars(due_query(now)))


async def run_scan(session: AsyncSession, *, now: datetime,
                   default_language: str) -> ScanResult:
    """Re-notify and escalate every open alert whose time has come (idempotent per round).

    The due alerts are locked as they are read (PostgreSQL; SQLite's one writer already
    serialises): another instance scanning at the same moment skips them, and once this
    transaction commits they are no longer due, so a round is never done twice.
    """
    due = list(await session.scalars(
        select(Alert).where(*_due(now)).order_by(Alert.next_renotify_at)
        .with_for_update(skip_locked=True)))
    renotified, escalated = [], []
    for alert in due:
        if alert.renotify_done < alert.renotify_max:
            await _renotify(session, alert, now)
            renotified.append(alert.id)
        else:
            await _escalate(session, alert, now, default_language)
            escalated.append(alert.id)
    return ScanResult(renotified, escalated)


async def _renotify(session: AsyncSession, alert: Alert, now: datetime) -> None:
    round_ = alert.renotify_done + 1
    reminder = (round_, alert.renotify_max)
    await enqueue_broadcast(
        session, kind="alert_renotify", priority=Priority.ALERT,
        content=render.in_all_languages(
            lambda _: _message(alert, _, pin=False, reminder=reminder), alert.language),
        recipients=_recipient_pairs(session, alert.id, unacknowledged=True),
        audience={"alert": alert.id, "round": round_},
        schedule_key=f"alert:{alert.id}:renotify:{round_}", fire_at=alert.created_at)
    await session.execute(
        update(AlertRecipient)
        .where(AlertRecipient.alert_id == alert.id, AlertRecipient.acknowledged_at.is_(None))
        .values(reminders=AlertRecipient.reminders + 1))
    alert.renotify_done = round_
    alert.next_renotify_at = now + timedelta(seconds=alert.renotify_every_s)
    logger.info("alert re-notify", extra={"alert_id": alert.id, "round": round_})


async def _escalate(session: AsyncSession, alert: Alert, now: datetime,
                    default_language: str) -> None:
    """Each non-acknowledger's name to the leaders of their teams (else to the author)."""
    rows = (await session.execute(
        select(AlertRecipient.person_id, Person.name, Membership.team_id)
        .join(Person, Person.id == AlertRecipient.person_id)
        .outerjoin(Membership, Membership.person_id == AlertRecipient.person_id)
        .where(AlertRecipient.alert_id == alert.id, AlertRecipient.acknowledged_at.is_(None))
    )).all()
    team_ids = {t for _, _, t in rows if t is not None}
    leaders: dict[int, list[int]] = defaultdict(list)
    if team_ids:
        for team_id, leader_id in (await session.execute(
                select(Membership.team_id, Membership.person_id)
                .where(Membership.team_id.in_(team_ids), Membership.is_leader.is_(True)))).all():
            leaders[team_id].append(leader_id)
    names_for: dict[int, list[str]] = defaultdict(list)
    for person_id, name, team_id in rows:
        targets = [lid for lid in leaders.get(team_id, []) if lid != person_id] if team_id else []
        if not targets and alert.author_id is not None:
            targets = [alert.author_id]
        for target in targets:
            if name not in names_for[target]:
                names_for[target].append(name)
    if names_for:
        people = {p.id: p for p in await session.scalars(
            select(Person).where(Person.id.in_(names_for), Person.telegram_id.is_not(None)))}
        for target, names in sorted(names_for.items()):
            person = people.get(target)
            if person is None or person.telegram_id is None:
                continue
            lang = person.language or normalize_language(person.telegram_language,
                                                         default_language)
            await enqueue_broadcast(
                session, kind="alert_escalation", priority=Priority.ALERT,
                content=render.in_all_languages(
                    lambda _, n=names: OutgoingMessage(text=render.escalation_text(
                        _, text=alert.text, rounds=alert.renotify_max, names=n)), lang),
                recipients=[(person.telegram_id, lang)], audience={"alert": alert.id},
                schedule_key=f"alert:{alert.id}:escalate:{target}", fire_at=alert.created_at)
    alert.escalated_at = now
    alert.next_renotify_at = None
    logger.info("alert escalated", extra={"alert_id": alert.id, "leaders": len(names_for)})


# -- all clear -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Closed:
    alert_id: int
    pins: list[tuple[int, int]]  # (chat id, message id) to unpin


async def close_alert(session: AsyncSession, *, alert_id: int, by_person_id: int | None,
                      note: str | None, now: datetime) -> Closed | None:
    """Close once: stop the chase, cancel what has not gone out, send the all-clear to the
    same chats (groups first); return the pinned messages to unpin. None if not open."""
    alert = await session.get(Alert, alert_id)
    if alert is None or alert.status is not AlertStatus.OPEN:
        return None
    await record(session, actor_id=by_person_id, action="alert.all_clear", object_type="alert",
                 object_id=alert.id, before={"status": alert.status.value},
                 after={"status": AlertStatus.CLOSED.value},
                 reason=note[:500] if note else None)
    alert.status = AlertStatus.CLOSED
    alert.closed_at = now
    alert.closed_by_id = by_person_id
    alert.all_clear_text = note
    alert.next_renotify_at = None
    chase = list(await session.scalars(select(Broadcast.id).where(
        or_(Broadcast.id.in_(alert.broadcast_ids or [-1]),
            Broadcast.schedule_key.like(f"alert:{alert.id}:%")))))
    for bid in chase:
        await cancel_broadcast(session, bid)
    pins: list[tuple[int, int]] = []
    chats: list[tuple[int, str]] = []
    if alert.broadcast_ids:
        rows = (await session.execute(
            select(Delivery.chat_id, Delivery.language, Delivery.status, Delivery.message_ids,
                   Broadcast.content)
            .join(Broadcast, Broadcast.id == Delivery.broadcast_id)
            .where(Delivery.broadcast_id.in_(alert.broadcast_ids))
            .order_by(Delivery.id))).all()
        for chat_id, language, status, message_ids, content in rows:
            chats.append((chat_id, language))
            first = next(iter(content.values()), {})
            if status is DeliveryStatus.SENT and message_ids and first.get("pin"):
                pins.append((chat_id, message_ids[0]))
    groups = [c for c in chats if c[0] < 0]
    private = [c for c in chats if c[0] > 0]
    for part, kind in ((groups, "alert_clear_group"), (private, "alert_clear_private")):
        if part:
            await enqueue_broadcast(
                session, kind=kind, priority=Priority.ALERT,
                content=render.in_all_languages(
                    lambda _: OutgoingMessage(text=render.all_clear_text(
                        _, text=alert.text, note=note)), alert.language),
                recipients=part, audience={"alert": alert.id}, author_id=by_person_id)
    return Closed(alert.id, pins)
