"""/alert drafts kept in the database (one per sender), so a restart mid-way loses nothing.

No Telegram import. The handlers load the draft at every step and save it back with the
step they now wait for; a draft untouched for `DRAFT_TIMEOUT` is expired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts import service
from bot.alerts.models import AlertDraftRow, AlertStep, Severity
from bot.directory.audience import AudienceSpec

#: As long as the conversation waited before: a quiet quarter of an hour ends the draft.
DRAFT_TIMEOUT = timedelta(minutes=15)
#: Drafts left this long (the bot was down when they expired) are dropped at start; younger
#: expired ones stay, so their sender hears the draft was put away.
FORGOTTEN_AFTER = timedelta(days=1)


@dataclass
class AlertDraft:
    """What the sender chose so far; the options are asked afresh on every press."""

    step: AlertStep = AlertStep.AWAITING_AUDIENCE
    chosen: set[tuple[str, int]] = field(default_factory=set)
    section: str = "a"
    page: int = 0
    text: str | None = None
    photo: str | None = None
    severity: Severity = Severity.EMERGENCY
    ack_required: bool = True
    updated_at: datetime | None = None

    def spec(self) -> AudienceSpec:
        return service.spec_for(*({i for k, i in self.chosen if k == kind} for kind in "tac"))

    def expired(self, now: datetime) -> bool:
        return self.updated_at is not None and now - self.updated_at >= DRAFT_TIMEOUT


async def load_draft(session: AsyncSession, *, telegram_id: int) -> AlertDraft | None:
    row = await session.get(AlertDraftRow, telegram_id)
    if row is None:
        return None
    return AlertDraft(
        step=row.step, chosen={(str(kind), int(i)) for kind, i in row.chosen},
        section=row.section, page=row.page, text=row.text, photo=row.photo,
        severity=row.severity, ack_required=row.ack_required, updated_at=row.updated_at)


async def save_draft(session: AsyncSession, *, telegram_id: int, draft: AlertDraft,
                     now: datetime) -> None:
    """Write the draft (a new one replaces an old one); `updated_at` becomes `now`."""
    row = await session.get(AlertDraftRow, telegram_id)
    if row is None:
        row = AlertDraftRow(sender_telegram_id=telegram_id)
        session.add(row)
    row.step = draft.step
    row.chosen = [[kind, i] for kind, i in sorted(draft.chosen)]
    row.section = draft.section
    row.page = draft.page
    row.text = draft.text
    row.photo = draft.photo
    row.severity = draft.severity
    row.ack_required = draft.ack_required
    row.updated_at = now
    draft.updated_at = now


async def delete_draft(session: AsyncSession, *, telegram_id: int) -> None:
    await session.execute(
        delete(AlertDraftRow).where(AlertDraftRow.sender_telegram_id == telegram_id))


async def delete_drafts_before(session: AsyncSession, *, before: datetime) -> None:
    await session.execute(delete(AlertDraftRow).where(AlertDraftRow.updated_at < before))


async def drafting_telegram_ids(session: AsyncSession) -> set[int]:
    """Everyone with a draft (expired ones too: their next message hears it expired)."""
    return set(await session.scalars(select(AlertDraftRow.sender_telegram_id)))
