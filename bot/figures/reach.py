"""Broadcast reach and alert acknowledgement, and which of them belong to a scope."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.models import Alert, AlertRecipient
from bot.broadcasting.service import BroadcastKind
from bot.directory.models import Area, Person, Team
from bot.figures.counting import Scope, percentile, ratio
from broadcasts.models import Broadcast, Delivery, DeliveryStatus

#: What /broadcast and the schedules send; tip-off cards and alerts are counted elsewhere.
BROADCAST_KINDS = tuple(kind.value for kind in BroadcastKind)


@dataclass
class _Places:
    """Paths of the areas and teams that audiences name, loaded once per request."""

    area_paths: dict[int, str] = field(default_factory=dict)
    team_paths: dict[int, str] = field(default_factory=dict)


async def _places(session: AsyncSession, audiences: Iterable[dict[str, Any]]) -> _Places:
    area_ids: set[int] = set()
    team_ids: set[int] = set()
    for audience in audiences:
        area_ids.update(int(a) for a in audience.get("area_ids") or ())
        team_ids.update(int(t) for t in audience.get("team_ids") or ())
    places = _Places()
    if area_ids:
        places.area_paths = dict((await session.execute(
            select(Area.id, Area.path).where(Area.id.in_(area_ids)))).all())
    if team_ids:
        places.team_paths = dict((await session.execute(
            select(Team.id, Area.path).join(Area, Area.id == Team.area_id)
            .where(Team.id.in_(team_ids)))).all())
    return places


def audience_in_scope(audience: dict[str, Any] | None, fallback_path: str | None,
                      scope: Scope, places: _Places) -> bool:
    """A broadcast or alert belongs to a leader's figures when its audience names one of
    their teams; to an area's when its audience names an area or a team inside the area,
    or — for audiences naming neither (roles, all subscribers, group chats) — when its
    author belongs to the area."""
    audience = audience or {}
    team_ids = {int(t) for t in audience.get("team_ids") or ()}
    if scope.team_ids:
        return bool(team_ids & scope.team_ids)
    assert scope.area_path is not None
    paths = [places.area_paths.get(int(a)) for a in audience.get("area_ids") or ()]
    paths += [places.team_paths.get(t) for t in team_ids]
    named = [p for p in paths if p is not None]
    if not named:
        named = [fallback_path] if fallback_path else []
    return any(p.startswith(scope.area_path) for p in named)


# -- broadcasts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class BroadcastRow:
    id: int
    kind: str
    created_at: datetime
    recipients: int
    sent: int
    unreachable: int
    failed: int
    pending: int


async def load_broadcasts(session: AsyncSession, *, scope: Scope, since: datetime,
                          until: datetime) -> list[BroadcastRow]:
    """Safety tips, anti-fraud alerts, notices and tasks written in `[since, until)`
    (scheduled ones when they fired) that belong to the scope (`audience_in_scope`),
    with their deliveries counted by status; cancelled deliveries are left out."""
    found = (await session.execute(
        select(Broadcast.id, Broadcast.kind, Broadcast.created_at, Broadcast.audience,
               Person.area_id)
        .outerjoin(Person, Person.telegram_id == Broadcast.author_id)
        .where(Broadcast.kind.in_(BROADCAST_KINDS), Broadcast.created_at >= since,
               Broadcast.created_at < until)
        .order_by(Broadcast.created_at))).all()
    places = await _places(session, (row.audience or {} for row in found))
    author_areas = {a for *_rest, a in found if a is not None}
    author_paths = dict((await session.execute(
        select(Area.id, Area.path).where(Area.id.in_(author_areas)))).all()) \
        if author_areas else {}
    kept = [row for row in found
            if audience_in_scope(row.audience, author_paths.get(row.area_id), scope, places)]
    counts: dict[int, Counter[DeliveryStatus]] = defaultdict(Counter)
    ids = [row.id for row in kept]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for broadcast_id, status, n in (await session.execute(
                select(Delivery.broadcast_id, Delivery.status, func.count())
                .where(Delivery.broadcast_id.in_(chunk))
                .group_by(Delivery.broadcast_id, Delivery.status))):
            counts[broadcast_id][status] = n
    out = []
    for row in kept:
        c = counts[row.id]
        out.append(BroadcastRow(
            row.id, row.kind, row.created_at,
            recipients=sum(n for s, n in c.items() if s is not DeliveryStatus.CANCELLED),
            sent=c[DeliveryStatus.SENT], unreachable=c[DeliveryStatus.UNREACHABLE],
            failed=c[DeliveryStatus.FAILED],
            pending=c[DeliveryStatus.PENDING] + c[DeliveryStatus.IN_FLIGHT]))
    return out


@dataclass(frozen=True)
class BroadcastFigures:
    """Broadcasts sent (messages, not people); recipients: chats each was addressed to,
    summed; delivered: the share of those that Telegram accepted; unreachable: chats that
    blocked the bot or are gone; by kind: messages per kind."""

    sent: int
    recipients: int
    delivered: int
    unreachable: int
    by_kind: dict[str, int]

    @property
    def delivered_rate(self) -> float | None:
        return ratio(self.delivered, self.recipients)


def broadcast_figures(rows: Sequence[BroadcastRow]) -> BroadcastFigures:
    return BroadcastFigures(
        sent=len(rows), recipients=sum(r.recipients for r in rows),
        delivered=sum(r.sent for r in rows), unreachable=sum(r.unreachable for r in rows),
        by_kind=dict(Counter(r.kind for r in rows)))


# -- alerts ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlertRow:
    id: int
    created_at: datetime
    severity: str
    ack_required: bool
    expected: int
    #: Seconds from sending to each acknowledgement.
    ack_seconds: list[float]
    reminders: int
    escalated: bool


async def load_alerts(session: AsyncSession, *, scope: Scope, since: datetime,
                      until: datetime) -> list[AlertRow]:
    """Emergency alerts sent in `[since, until)` that belong to the scope
    (`audience_in_scope`, the author's area standing in for audiences naming no place)."""
    found = list(await session.scalars(
        select(Alert).where(Alert.created_at >= since, Alert.created_at < until)
        .order_by(Alert.created_at)))
    places = await _places(session, (a.audience or {} for a in found))
    kept = [a for a in found if audience_in_scope(a.audience, a.area_path, scope, places)]
    recipients: dict[int, list[tuple[datetime | None, int]]] = defaultdict(list)
    ids = [a.id for a in kept]
    for start in range(0, len(ids), 500):
        for alert_id, acknowledged_at, reminders in (await session.execute(
                select(AlertRecipient.alert_id, AlertRecipient.acknowledged_at,
                       AlertRecipient.reminders)
                .where(AlertRecipient.alert_id.in_(ids[start:start + 500])))):
            recipients[alert_id].append((acknowledged_at, reminders))
    return [AlertRow(
        a.id, a.created_at, a.severity.value, a.ack_required, len(recipients[a.id]),
        [(at - a.created_at).total_seconds() for at, _n in recipients[a.id] if at is not None],
        sum(n for _at, n in recipients[a.id]), a.escalated_at is not None) for a in kept]


@dataclass(frozen=True)
class AlertFigures:
    """Alerts sent; of the people asked to acknowledge (alerts with a "收到" button only),
    how many did and the median time they took from sending; reminders: re-notifications
    sent to people who had not acknowledged; escalated: alerts whose non-acknowledgers were
    reported to their leaders."""

    sent: int
    expected: int
    acknowledged: int
    median_ack_s: float | None
    reminders: int
    escalated: int

    @property
    def acknowledged_rate(self) -> float | None:
        return ratio(self.acknowledged, self.expected)


def alert_figures(rows: Sequence[AlertRow]) -> AlertFigures:
    asked = [r for r in rows if r.ack_required]
    delays = [s for r in asked for s in r.ack_seconds]
    return AlertFigures(
        sent=len(rows), expected=sum(r.expected for r in asked), acknowledged=len(delays),
        median_ack_s=percentile(delays, 50), reminders=sum(r.reminders for r in rows),
        escalated=sum(1 for r in rows if r.escalated))


def ack_curve(rows: Sequence[AlertRow], minutes: Sequence[int]) -> list[float]:
    """The acknowledgement curve: for each mark, the share of people asked to acknowledge
    (alerts with a button) who had done so within that many minutes of the sending."""
    asked = [r for r in rows if r.ack_required]
    expected = sum(r.expected for r in asked)
    if not expected:
        return [0.0 for _m in minutes]
    delays = sorted(s for r in asked for s in r.ack_seconds)
    return [bisect_right(delays, m * 60) / expected for m in minutes]
