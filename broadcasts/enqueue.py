"""Writing broadcasts: one broadcast row and one delivery row per recipient chat.

Everything happens in the caller's transaction (nothing here commits), so a broadcast
exists exactly when the thing that caused it does. Recipients stream in batches with
``INSERT … ON CONFLICT DO NOTHING``: 100,000 chats never sit in memory at once, and
the same chat twice in one broadcast is written once.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.content import OutgoingMessage, content_to_json
from broadcasts.models import (
    Broadcast,
    BroadcastStatus,
    ChatState,
    Delivery,
    DeliveryStatus,
    utcnow,
)
from broadcasts.pickup import notify
from broadcasts.store import dialect_insert

Recipients = AsyncIterable[tuple[int, str]] | Iterable[tuple[int, str]]
BATCH_SIZE = 2000


async def _batches(recipients: Recipients, size: int) -> AsyncIterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    if isinstance(recipients, AsyncIterable):
        async for item in recipients:
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
    else:
        for item in recipients:
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


async def _chat_states(session: AsyncSession, chat_ids: Iterable[int]) -> dict[int, ChatState]:
    rows = await session.scalars(select(ChatState).where(ChatState.chat_id.in_(set(chat_ids))))
    return {s.chat_id: s for s in rows}


async def enqueue_broadcast(
    session: AsyncSession,
    *,
    kind: str,
    priority: int,
    content: Mapping[str, OutgoingMessage | Mapping[str, Any]],
    recipients: Recipients,
    audience: dict[str, Any] | None = None,
    author_id: int | None = None,
    schedule_key: str | None = None,
    fire_at: datetime | None = None,
    not_before: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> Broadcast | None:
    """Write a broadcast and its deliveries; ``None`` if this schedule fire exists already.

    ``recipients`` yields ``(chat_id, language)``. A chat known to be unreachable gets
    an ``unreachable`` row at once (it shows in the report, nothing is sent); a group
    known to have migrated is addressed by its new id. Call ``Dispatcher.wake()``
    after the caller commits (senders in other processes learn of it by themselves).
    """
    if schedule_key is not None and fire_at is None:
        raise ValueError("a schedule fire needs fire_at for its idempotency key")
    now = utcnow()
    values: dict[str, Any] = {
        "kind": kind,
        "priority": int(priority),
        "content": content_to_json(content),
        "audience": audience,
        "author_id": author_id,
        "schedule_key": schedule_key,
        "fire_at": fire_at,
        "not_before": not_before,
        "status": BroadcastStatus.PENDING,
        "created_at": now,
    }
    if schedule_key is not None:
        stmt = (
            dialect_insert(session, Broadcast)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["schedule_key", "fire_at"])
            .returning(Broadcast.id)
        )
        broadcast_id = (await session.execute(stmt)).scalar_one_or_none()
        if broadcast_id is None:
            return None
        broadcast = await session.get_one(Broadcast, broadcast_id)
    else:
        broadcast = Broadcast(**values)
        session.add(broadcast)
        await session.flush()

    due = max(now, not_before) if not_before is not None else now
    insert_rows = (
        dialect_insert(session, Delivery.__table__)
        .on_conflict_do_nothing(index_elements=["broadcast_id", "chat_id"])
    )
    pending = 0
    async for batch in _batches(recipients, batch_size):
        states = await _chat_states(session, (chat for chat, _ in batch))
        moved = {s.migrated_to for s in states.values() if s.migrated_to is not None}
        if moved:
            states |= await _chat_states(session, moved)
        rows = []
        for chat_id, language in batch:
            state = states.get(chat_id)
            if state is not None and state.migrated_to is not None:
                chat_id = state.migrated_to
                state = states.get(chat_id)
            unreachable = state is not None and state.unreachable_since is not None
            pending += not unreachable
            rows.append(
                {
                    "broadcast_id": broadcast.id,
                    "chat_id": chat_id,
                    "language": language,
                    "priority": broadcast.priority,
                    "status": DeliveryStatus.UNREACHABLE if unreachable else DeliveryStatus.PENDING,
                    "attempts": 0,
                    "parts_sent": 0,
                    "possible_duplicate": False,
                    "next_attempt_at": due,
                    "error": state.reason if unreachable and state else None,
                    "created_at": now,
                }
            )
        await session.execute(insert_rows, rows)
    if not pending:
        broadcast.status = BroadcastStatus.DONE
        broadcast.finished_at = now
    else:
        await notify(session)
    return broadcast


async def cancel_broadcast(session: AsyncSession, broadcast_id: int) -> int:
    """Cancel what has not gone out yet; returns how many deliveries were cancelled.

    Rows already in flight finish (they may be on the wire); the rest never leave.
    """
    result = await session.execute(
        update(Delivery)
        .where(Delivery.broadcast_id == broadcast_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.CANCELLED, error="cancelled")
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Broadcast)
        .where(
            Broadcast.id == broadcast_id,
            Broadcast.status.in_([BroadcastStatus.PENDING, BroadcastStatus.SENDING]),
        )
        .values(status=BroadcastStatus.CANCELLED, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
