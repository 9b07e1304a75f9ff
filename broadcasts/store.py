"""The dispatcher's SQL: claim due rows, write outcomes, learn about chats.

Every function runs inside a short transaction the dispatcher opens; claims and
outcome writes are single statements over batches (``UPDATE … RETURNING``,
executemany), so the write lock is held for milliseconds (SQLite has one writer).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.models import (
    Broadcast,
    BroadcastStatus,
    ChatState,
    Delivery,
    DeliveryStatus,
)

_D = Delivery.__table__


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL alike)."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)
_LIVE = (DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT)


@dataclass(slots=True)
class Claimed:
    """A delivery row this dispatcher holds (in flight, under lease)."""

    id: int
    broadcast_id: int
    chat_id: int
    language: str
    priority: int
    attempts: int  # including the attempt about to be made
    parts_sent: int
    message_ids: list[int]
    possible_duplicate: bool
    due: datetime

    @property
    def order(self) -> tuple[int, datetime, int]:
        return (self.priority, self.due, self.id)


@dataclass(slots=True)
class Outcome:
    """The result of one attempt, as the row will be written."""

    row: Claimed
    status: DeliveryStatus
    error: str | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    #: ``Unreachable``: mark the chat and skip its other rows.
    unreachable: bool = False
    #: ``Migrated``: move this chat's rows to the new id.
    new_chat_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


async def reclaim_expired(session: AsyncSession, *, now: datetime) -> int:
    """Put rows whose lease ran out (their dispatcher died) back in the queue."""
    return await release_in_flight(session, now=now, expired_before=now)


async def release_in_flight(
    session: AsyncSession, *, now: datetime, expired_before: datetime | None = None
) -> int:
    """Put rows in flight back in the queue: all of them (no other sender is alive) or
    those whose lease ran out before ``expired_before``.

    A row keeps the ``possible_duplicate`` flag ``mark_on_wire`` raised before its
    request could start; rows that were only claimed are not flagged.
    """
    conditions = [_D.c.status == DeliveryStatus.IN_FLIGHT]
    if expired_before is not None:
        conditions.append(_D.c.lease_until < expired_before)
    result = await session.execute(
        update(_D)
        .where(*conditions)
        .values(
            status=DeliveryStatus.PENDING,
            lease_until=None,
            next_attempt_at=now,
            error="taken back (its sender stopped while holding it)",
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def mark_on_wire(session: AsyncSession, delivery_ids: Iterable[int], on_wire: bool) -> None:
    """Record that these rows' requests may reach the chat (or, ``False``, no longer may).

    Set before a request may start, the flag survives a crash (the row is then a possible
    duplicate); the outcome written afterwards sets it to what really happened.
    """
    ids = list(delivery_ids)
    if ids:
        await session.execute(
            update(_D)
            .where(_D.c.id.in_(ids), _D.c.status == DeliveryStatus.IN_FLIGHT)
            .values(possible_duplicate=on_wire)
        )


async def claim(
    session: AsyncSession,
    *,
    now: datetime,
    lease_until: datetime,
    limit: int,
    below_priority: int | None = None,
) -> list[Claimed]:
    """Take up to ``limit`` due rows, best priority then earliest due, into flight."""
    conditions = [_D.c.status == DeliveryStatus.PENDING, _D.c.next_attempt_at <= now]
    if below_priority is not None:
        conditions.append(_D.c.priority < below_priority)
    due = (
        select(_D.c.id)
        .where(*conditions)
        .order_by(_D.c.priority, _D.c.next_attempt_at, _D.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(_D)
        .where(_D.c.id.in_(due))
        .values(
            status=DeliveryStatus.IN_FLIGHT,
            lease_until=lease_until,
            attempts=_D.c.attempts + 1,
        )
        .returning(
            _D.c.id,
            _D.c.broadcast_id,
            _D.c.chat_id,
            _D.c.language,
            _D.c.priority,
            _D.c.attempts,
            _D.c.parts_sent,
            _D.c.message_ids,
            _D.c.possible_duplicate,
            _D.c.next_attempt_at,
        )
    )
    rows = [Claimed(*r) for r in await session.execute(stmt)]
    for row in rows:
        row.message_ids = list(row.message_ids or [])
    if rows:
        await session.execute(
            update(Broadcast)
            .where(
                Broadcast.id.in_({r.broadcast_id for r in rows}),
                Broadcast.status == BroadcastStatus.PENDING,
            )
            .values(status=BroadcastStatus.SENDING)
        )
    rows.sort(key=lambda r: r.order)
    return rows


async def load_content(session: AsyncSession, broadcast_ids: Iterable[int]) -> dict[int, Any]:
    rows = await session.execute(
        select(Broadcast.id, Broadcast.content).where(Broadcast.id.in_(set(broadcast_ids)))
    )
    return {bid: content for bid, content in rows}


async def next_wakeup(session: AsyncSession) -> tuple[datetime | None, datetime | None]:
    """When the next pending row falls due, and when the next foreign lease runs out."""
    due = await session.scalar(
        select(func.min(_D.c.next_attempt_at)).where(_D.c.status == DeliveryStatus.PENDING)
    )
    lease = await session.scalar(
        select(func.min(_D.c.lease_until)).where(_D.c.status == DeliveryStatus.IN_FLIGHT)
    )
    return due, lease


_write_outcome = (
    update(_D)
    .where(_D.c.id == bindparam("_id"), _D.c.status == DeliveryStatus.IN_FLIGHT)
    .values(
        status=bindparam("_status"),
        attempts=bindparam("_attempts"),
        next_attempt_at=bindparam("_next"),
        lease_until=None,
        error=bindparam("_error"),
        message_ids=bindparam("_message_ids"),
        parts_sent=bindparam("_parts_sent"),
        possible_duplicate=bindparam("_dup"),
        sent_at=bindparam("_sent_at"),
    )
)


async def write_outcomes(
    session: AsyncSession, outcomes: Sequence[Outcome], *, now: datetime
) -> list[int]:
    """Write a batch of outcomes and their consequences; return broadcasts now done."""
    if not outcomes:
        return []
    params = [
        {
            "_id": o.row.id,
            "_status": o.status,
            "_attempts": o.row.attempts,
            "_next": o.next_attempt_at or o.row.due,
            "_error": o.error,
            "_message_ids": o.row.message_ids or None,
            "_parts_sent": o.row.parts_sent,
            "_dup": o.row.possible_duplicate,
            "_sent_at": o.sent_at,
        }
        for o in outcomes
    ]
    await session.execute(_write_outcome, params)
    for o in outcomes:
        if o.unreachable:
            await mark_unreachable(session, o.row.chat_id, o.error or "unreachable", now=now)
        if o.new_chat_id is not None:
            await migrate_chat(session, o.row.chat_id, o.new_chat_id, now=now)
    return await finish_broadcasts(session, {o.row.broadcast_id for o in outcomes}, now=now)


async def _upsert_chat_state(
    session: AsyncSession, chat_id: int, values: dict[str, Any], *, now: datetime
) -> None:
    stmt = dialect_insert(session, ChatState).values(chat_id=chat_id, updated_at=now, **values)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["chat_id"], set_={**values, "updated_at": now})
    )


async def mark_unreachable(
    session: AsyncSession, chat_id: int, reason: str, *, now: datetime
) -> None:
    """Remember the chat refuses us, and give up its other pending rows."""
    await _upsert_chat_state(
        session, chat_id, {"unreachable_since": now, "reason": reason}, now=now
    )
    await session.execute(
        update(_D)
        .where(_D.c.chat_id == chat_id, _D.c.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.UNREACHABLE, error=reason, lease_until=None)
    )


async def migrate_chat(session: AsyncSession, old: int, new: int, *, now: datetime) -> None:
    """Follow a group's migration: its pending rows now go to the new id.

    A broadcast that already has a row for the new id keeps that one; the old row is
    cancelled so the unique (broadcast, chat) pair holds and nobody gets it twice.
    """
    await _upsert_chat_state(session, old, {"migrated_to": new}, now=now)
    other = _D.alias("other")
    already = exists().where(other.c.broadcast_id == _D.c.broadcast_id, other.c.chat_id == new)
    await session.execute(
        update(_D)
        .where(_D.c.chat_id == old, _D.c.status == DeliveryStatus.PENDING, already)
        .values(status=DeliveryStatus.CANCELLED, error=f"migrated to {new}, already addressed")
    )
    await session.execute(
        update(_D)
        .where(_D.c.chat_id == old, _D.c.status == DeliveryStatus.PENDING)
        .values(chat_id=new, next_attempt_at=now)
    )


async def finish_broadcasts(
    session: AsyncSession, broadcast_ids: Iterable[int], *, now: datetime
) -> list[int]:
    """Mark done the broadcasts among these that have nothing pending or in flight."""
    ids = set(broadcast_ids)
    if not ids:
        return []
    live = exists().where(_D.c.broadcast_id == Broadcast.id, _D.c.status.in_(_LIVE))
    result = await session.execute(
        update(Broadcast)
        .where(
            and_(
                Broadcast.id.in_(ids),
                Broadcast.status.in_([BroadcastStatus.PENDING, BroadcastStatus.SENDING]),
                ~live,
            )
        )
        .values(status=BroadcastStatus.DONE, finished_at=now)
        .returning(Broadcast.id)
    )
    return list(result.scalars())
