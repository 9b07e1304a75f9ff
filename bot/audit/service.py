from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit.models import AuditEntry


async def record(
    session: AsyncSession,
    *,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction, so it lands with the change or not at all."""
    entry = AuditEntry(actor_id=actor_id, action=action, object_type=object_type,
                       object_id=object_id, before=before, after=after, reason=reason)
    session.add(entry)
    return entry


async def record_many(
    session: AsyncSession,
    *,
    actor_id: int | None,
    action: str,
    object_type: str,
    entries: Sequence[tuple[int | None, dict[str, Any] | None, dict[str, Any] | None]],
) -> None:
    """Entries of one action, each (object id, state before, state after), as one batched
    INSERT in the caller's transaction: a roster's 5,000 people would otherwise be 5,000
    ORM objects, written one by one."""
    if entries:
        await session.execute(insert(AuditEntry.__table__), [
            {"actor_id": actor_id, "action": action, "object_type": object_type,
             "object_id": object_id, "before": before, "after": after}
            for object_id, before, after in entries])
