"""Checked files (pending uploads) older than a day are forgotten when the next one comes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.db import transaction, utcnow
from bot.directory.models import PendingUpload, PendingUploadKind
from bot.directory.uploads import open_upload, save_upload
from tests.factories import make_person


async def test_a_new_upload_clears_day_old_ones(session_factory):
    now = utcnow()
    async with transaction(session_factory) as session:
        lee = await make_person(session, name="李干部", telegram_id=600_000_001)
        old = await save_upload(session, kind=PendingUploadKind.ROSTER, created_by_id=lee.id,
                                rows=[{"name": "旧"}], now=now - timedelta(days=1, minutes=1))
        recent = await save_upload(session, kind=PendingUploadKind.AREAS, created_by_id=lee.id,
                                   rows=[{"path": "a"}], now=now - timedelta(hours=23))
    async with session_factory() as session:  # the second upload was younger: both still kept
        assert set(await session.scalars(select(PendingUpload.id))) == {old.id, recent.id}
    async with transaction(session_factory) as session:
        new = await save_upload(session, kind=PendingUploadKind.ROSTER, created_by_id=lee.id,
                                rows=[{"name": "新"}], now=now)
    async with session_factory() as session:
        assert set(await session.scalars(select(PendingUpload.id))) == {recent.id, new.id}


async def test_only_the_uploader_may_open_a_fresh_upload(session_factory):
    now = utcnow()
    async with transaction(session_factory) as session:
        lee = await make_person(session, name="李干部", telegram_id=600_000_002)
        upload = await save_upload(session, kind=PendingUploadKind.ROSTER, created_by_id=lee.id,
                                   rows=[], now=now - timedelta(hours=2))
    async with session_factory() as session:
        assert await open_upload(session, upload_id=upload.id, created_by_id=lee.id,
                                 now=now) is not None
        assert await open_upload(session, upload_id=upload.id, created_by_id=lee.id + 1,
                                 now=now) is None
        assert await open_upload(session, upload_id=upload.id, created_by_id=lee.id,
                                 now=now + timedelta(days=1)) is None
