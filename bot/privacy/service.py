"""What the bot holds about a person, and forgetting them. No Telegram import.

Forgetting keeps the person's row as an empty placeholder: reports, audit entries and
team histories keep pointing at it, so the figures still count what happened, while
nothing in it (or anywhere else) says who it was."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.models import Alert, AlertDraftRow, AlertRecipient
from bot.audit import AuditEntry, record
from bot.directory import areas as area_service
from bot.directory.models import (
    Area,
    Membership,
    PastMembership,
    PendingUpload,
    Person,
    PersonStatus,
    Role,
    Subscription,
    SubscriptionTopic,
    Team,
)
from bot.persistence import PersistedState
from bot.questions.models import Question, QuestionPrompt
from bot.tipoffs.models import ReporterBlock, TipOff, TipOffDraft, TipOffPrompt
from broadcasts import Broadcast, ChatState, Delivery

PLACEHOLDER = "[deleted]"


@dataclass(frozen=True)
class MyData:
    """Everything the directory keeps on one person, for /mydata."""

    name: str
    username: str | None
    phone: str | None
    telegram_id: int | None
    role: Role
    status: PersonStatus
    language: str | None
    area: str | None
    created_at: datetime
    teams: list[str] = field(default_factory=list)
    past_teams: list[str] = field(default_factory=list)
    topics: list[SubscriptionTopic] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)  # references
    questions: list[str] = field(default_factory=list)  # references


async def my_data(session: AsyncSession, *, person_id: int) -> MyData | None:
    person = await session.get(Person, person_id)
    if person is None:
        return None
    path = await session.scalar(select(Area.path).where(Area.id == person.area_id))
    teams = list(await session.scalars(
        select(Team.name).join(Membership, Membership.team_id == Team.id)
        .where(Membership.person_id == person_id).order_by(Team.name)))
    past = list(await session.scalars(
        select(Team.name).join(PastMembership, PastMembership.team_id == Team.id)
        .where(PastMembership.person_id == person_id).order_by(Team.name)))
    topics = sorted(await session.scalars(
        select(Subscription.topic).where(Subscription.person_id == person_id)))
    reports = list(await session.scalars(
        select(TipOff.reference).where(TipOff.reporter_id == person_id).order_by(TipOff.id)))
    questions = list(await session.scalars(
        select(Question.reference).where(Question.person_id == person_id)
        .order_by(Question.id)))
    return MyData(person.name, person.username, person.phone, person.telegram_id, person.role,
                  person.status, person.language,
                  await area_service.label(session, path=path) if path else None,
                  person.created_at, teams, past, topics, reports, questions)


def _scrub(value: Any, secrets: list[str]) -> Any:
    """`value` (JSON) with every occurrence of the secrets replaced by the placeholder."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, PLACEHOLDER)
        return value
    if isinstance(value, int) and not isinstance(value, bool) and str(value) in secrets:
        return PLACEHOLDER
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    return value


async def _scrub_json(session: AsyncSession, rows: Iterable[Any], columns: tuple[str, ...],
                      secrets: list[str]) -> None:
    for row in rows:
        for column in columns:
            value = getattr(row, column)
            if value is not None:
                setattr(row, column, _scrub(value, secrets))


def _mentions(column: Any, secrets: list[str]) -> Any:
    """The column's text holds a secret as written or as JSON escapes it (`\\u9648…`)."""
    forms = {form for s in secrets for form in (s, json.dumps(s)[1:-1])}
    return or_(*(cast(column, String).contains(form, autoescape=True) for form in forms))


async def forget(session: AsyncSession, *, person_id: int, actor_id: int | None,
                 now: datetime, reason: str = "PIPL art. 47") -> bool:
    """Delete the person's personal data in the caller's transaction (one transaction):
    name, username, phone, Telegram id, home, language, subscriptions, memberships (and
    their history), drafts, prompts and conversation states, what was queued for their
    chat; their reports and questions stay as anonymous facts; audit entries and queued
    texts keep a placeholder where their data was. Audited without the data (`reason` says
    who asked it); False if there is no such person."""
    person = await session.get(Person, person_id)
    if person is None:
        return False
    telegram_id = person.telegram_id
    secrets = [s for s in (person.phone, str(telegram_id) if telegram_id else None,
                           person.username and f"@{person.username}", person.username,
                           person.name if len(person.name) >= 2 else None) if s]
    for table in (Subscription, Membership, PastMembership, TipOffDraft, ReporterBlock,
                  TipOffPrompt, QuestionPrompt):
        await session.execute(delete(table).where(table.person_id == person_id))
    await session.execute(update(TipOff).where(TipOff.reporter_id == person_id)
                          .values(anonymous=True, share_phone=False))
    await session.execute(update(Question).where(Question.person_id == person_id)
                          .values(anonymous=True))
    if telegram_id is not None:
        await session.execute(update(AlertRecipient).where(
            AlertRecipient.telegram_id == telegram_id).values(telegram_id=None))
        await session.execute(update(AlertRecipient).where(
            AlertRecipient.acknowledged_in == telegram_id).values(acknowledged_in=None))
        await session.execute(update(Alert).where(Alert.status_chat_id == telegram_id)
                              .values(status_chat_id=None))
        await session.execute(delete(AlertDraftRow).where(
            AlertDraftRow.sender_telegram_id == telegram_id))
        # Where they were in a conversation, and what the flows kept for them (user_data).
        await session.execute(delete(PersistedState).where(
            PersistedState.telegram_id == telegram_id))
        for table in (TipOffPrompt, QuestionPrompt):
            await session.execute(delete(table).where(table.chat_id == telegram_id))
        # What was sent or waits for their private chat: the chat id is theirs.
        await session.execute(delete(Delivery).where(Delivery.chat_id == telegram_id))
        await session.execute(delete(ChatState).where(ChatState.chat_id == telegram_id))
    if secrets:
        await _scrub_json(session, await session.scalars(select(AuditEntry).where(or_(
            _mentions(AuditEntry.before, secrets), _mentions(AuditEntry.after, secrets),
            _mentions(AuditEntry.reason, secrets)))), ("before", "after", "reason"), secrets)
        await _scrub_json(session, await session.scalars(select(Broadcast).where(
            _mentions(Broadcast.content, secrets))), ("content",), secrets)
        await _scrub_json(session, await session.scalars(select(PendingUpload).where(
            _mentions(PendingUpload.rows, secrets))), ("rows",), secrets)
    person.name = PLACEHOLDER
    person.username = person.phone = person.telegram_id = None
    person.language = person.telegram_language = None
    person.area_id = None
    person.role = Role.RESIDENT
    person.unconfirmed_role = None
    person.status = PersonStatus.LEFT
    person.left_at = None  # nothing left for retention to delete
    await session.flush()
    await record(session, actor_id=actor_id, action="person.forget", object_type="person",
                 object_id=person_id, reason=reason)
    return True
