"""Reading back what happened to a broadcast, for the sender's delivery report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.models import Broadcast, BroadcastStatus, Delivery, DeliveryStatus


@dataclass(frozen=True, slots=True)
class Report:
    """Counts per outcome; ``pending`` includes rows in flight."""

    broadcast_id: int
    kind: str
    status: BroadcastStatus
    total: int
    sent: int
    failed: int
    unreachable: int
    pending: int
    cancelled: int
    possible_duplicates: int
    #: Why rows failed, most common first (unreachable reasons included).
    failure_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.pending == 0


async def broadcast_report(session: AsyncSession, broadcast_id: int) -> Report:
    """Counts for one broadcast; raises ``sqlalchemy.exc.NoResultFound`` if unknown."""
    broadcast = await session.get_one(Broadcast, broadcast_id)
    counts: Counter[DeliveryStatus] = Counter()
    rows = await session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.broadcast_id == broadcast_id)
        .group_by(Delivery.status)
    )
    for status, n in rows:
        counts[status] = n
    reasons = await session.execute(
        select(Delivery.error, func.count())
        .where(
            Delivery.broadcast_id == broadcast_id,
            Delivery.status.in_([DeliveryStatus.FAILED, DeliveryStatus.UNREACHABLE]),
        )
        .group_by(Delivery.error)
        .order_by(func.count().desc())
    )
    duplicates = await session.scalar(
        select(func.count()).where(
            Delivery.broadcast_id == broadcast_id,
            Delivery.possible_duplicate.is_(True),
            # In flight, the flag only says the request may have started (the dispatcher
            # marks a row before it may start).
            Delivery.status != DeliveryStatus.IN_FLIGHT,
        )
    )
    return Report(
        broadcast_id=broadcast.id,
        kind=broadcast.kind,
        status=broadcast.status,
        total=sum(counts.values()),
        sent=counts[DeliveryStatus.SENT],
        failed=counts[DeliveryStatus.FAILED],
        unreachable=counts[DeliveryStatus.UNREACHABLE],
        pending=counts[DeliveryStatus.PENDING] + counts[DeliveryStatus.IN_FLIGHT],
        cancelled=counts[DeliveryStatus.CANCELLED],
        possible_duplicates=duplicates or 0,
        failure_reasons={reason or "unknown": n for reason, n in reasons},
    )


async def recent_broadcasts(
    session: AsyncSession,
    *,
    limit: int = 10,
    kind: str | None = None,
    author_id: int | None = None,
) -> list[Broadcast]:
    """The latest broadcasts, newest first, optionally of one kind or author."""
    stmt = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)
    if kind is not None:
        stmt = stmt.where(Broadcast.kind == kind)
    if author_id is not None:
        stmt = stmt.where(Broadcast.author_id == author_id)
    return list(await session.scalars(stmt))
