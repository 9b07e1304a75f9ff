"""Checked files waiting for their uploader's Confirm button. No Telegram.

A dry run keeps its good rows in `pending_uploads`; nobody confirms a day-old check, so
each new upload first deletes those older than `UPLOAD_LIFETIME` (one indexed delete)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import PendingUpload, PendingUploadKind

UPLOAD_LIFETIME = timedelta(days=1)


async def forget_old_uploads(session: AsyncSession, *, now: datetime) -> int:
    """Delete checked files older than a day, confirmed or not; returns how many."""
    result = await session.execute(
        delete(PendingUpload).where(PendingUpload.created_at < now - UPLOAD_LIFETIME)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


async def save_upload(
    session: AsyncSession, *, kind: PendingUploadKind, created_by_id: int,
    rows: list[dict[str, Any]], now: datetime,
) -> PendingUpload:
    """Keep a checked file's good rows until its Confirm button (after clearing old ones)."""
    await forget_old_uploads(session, now=now)
    upload = PendingUpload(kind=kind, created_by_id=created_by_id, rows=rows, created_at=now)
    session.add(upload)
    await session.flush()
    return upload


async def open_upload(
    session: AsyncSession, *, upload_id: int, created_by_id: int | None, now: datetime
) -> PendingUpload | None:
    """The uploader's own checked file, if still waiting and not too old."""
    upload = await session.get(PendingUpload, upload_id)
    if (upload is None or upload.done or upload.created_by_id != created_by_id
            or upload.created_at < now - UPLOAD_LIFETIME):
        return None
    return upload
