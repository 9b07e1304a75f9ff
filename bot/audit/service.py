from __future__ import annotations

from typing import Any

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
