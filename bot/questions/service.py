"""Questions: ask, send to the community's staff, answer. No Telegram import.

Every message goes through the durable outbox in the transaction that causes it: the
card to the staff, the answer to the resident."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit import record
from bot.auth import Actor, Standing, in_scope
from bot.broadcasting.service import community_of
from bot.directory import areas as area_service
from bot.directory.models import (
    Area,
    Chat,
    ChatStatus,
    Person,
    PersonStatus,
    Role,
)
from bot.i18n import Translate, normalize_language
from bot.questions import callbacks as cb
from bot.questions.models import Question, QuestionPrompt, QuestionStatus
from bot.tipoffs.references import ALPHABET
from bot.tipoffs.render import in_all_languages
from bot.tipoffs.routing import cadres_for
from bot.tipoffs.service import admin_recipients, team_recipients
from broadcasts import OutgoingMessage, Priority, enqueue_broadcast

PREFIX = "Q-"
MAX_TEXT = 1000


async def _unique_reference(session: AsyncSession) -> str:
    for length in (4, 4, 4, 5, 5, 6):
        reference = PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(length))
        if await session.scalar(select(Question.id).where(Question.reference == reference)) \
                is None:
            return reference
    raise RuntimeError("could not find a free reference code")


async def home_community(session: AsyncSession, *, person_id: int) -> Area | None:
    """The community the person lives in (None: no home chosen yet)."""
    path = await session.scalar(select(Area.path).join(Person, Person.area_id == Area.id)
                                .where(Person.id == person_id))
    return await community_of(session, area_path=path)


async def staff_recipients(
    session: AsyncSession, *, community: Area, default_language: str
) -> list[tuple[int, str]]:
    """Where a community's questions go: the group chats linked to the community or to its
    duty cadres; with none, its staff privately; then the duty cadres; then the admins."""
    cadres = await cadres_for(session, area_id=community.id)
    linked = or_(Chat.area_id == community.id, Chat.team_id == cadres) if cadres is not None \
        else Chat.area_id == community.id
    chats = (await session.execute(
        select(Chat.telegram_chat_id, Chat.language)
        .where(linked, Chat.status == ChatStatus.ACTIVE, Chat.type != "private"))).all()
    if chats:
        return [(chat_id, language or default_language) for chat_id, language in chats]
    staff = (await session.execute(
        select(Person.telegram_id, Person.language, Person.telegram_language)
        .where(Person.role == Role.STAFF, Person.area_id == community.id,
               Person.status == PersonStatus.ACTIVE, Person.telegram_id.is_not(None)))).all()
    if staff:
        return [(r.telegram_id, r.language or normalize_language(r.telegram_language,
                                                                 default_language))
                for r in staff]
    if cadres is not None:
        found = await team_recipients(session, team_id=cadres, default_language=default_language)
        if found:
            return found
    return await admin_recipients(session, default_language=default_language)


@dataclass(frozen=True)
class CardFacts:
    question_id: int
    reference: str
    text: str
    place: str
    asker: str | None  # None: anonymous
    answer: str | None = None
    answered_by: str | None = None


def card_text(facts: CardFacts, _: Translate) -> str:
    lines = [_("❓ Question {reference} from a resident of {place}").format(
                 reference=facts.reference, place=facts.place),
             _("From: {name}").format(name=facts.asker) if facts.asker
             else _("Asked anonymously."), "", facts.text]
    if facts.answer is not None:
        lines += ["", _("✅ Answered by {name}: {answer}").format(
            name=facts.answered_by or "", answer=facts.answer)]
    return "\n".join(lines)


def card_buttons(facts: CardFacts, _: Translate) -> tuple[tuple[tuple[str, str], ...], ...]:
    if facts.answer is not None:
        return ()
    return (((_("💬 Reply"), cb.encode("reply", facts.question_id)),),
            ((_("💬 Reply with my name"), cb.encode("named", facts.question_id)),))


async def card_facts(session: AsyncSession, *, question: Question) -> CardFacts:
    asker = await session.get_one(Person, question.person_id)
    home = await session.scalar(select(Area.path).where(Area.id == asker.area_id))
    community = await session.get_one(Area, question.area_id)
    place = (community.name if question.anonymous or home is None
             else await area_service.label(session, path=home))
    answered_by = None
    if question.answered_by_id is not None:
        answered_by = await session.scalar(select(Person.name).where(
            Person.id == question.answered_by_id))
    return CardFacts(question.id, question.reference, question.text, place,
                     None if question.anonymous else asker.name, question.answer, answered_by)


@dataclass(frozen=True)
class Asked:
    reference: str
    recipients: int


async def ask(
    session: AsyncSession, *, person_id: int, community: Area, text: str, anonymous: bool,
    now: datetime, default_language: str,
) -> Asked:
    """Save the question and queue its card for the community's staff."""
    question = Question(reference=await _unique_reference(session), person_id=person_id,
                        anonymous=anonymous, area_id=community.id, text=text[:MAX_TEXT],
                        created_at=now)
    session.add(question)
    await session.flush()
    facts = await card_facts(session, question=question)
    recipients = await staff_recipients(session, community=community,
                                        default_language=default_language)
    if recipients:
        await enqueue_broadcast(
            session, kind="question_card", priority=Priority.TIPOFF,
            audience={"question": question.id},
            content=in_all_languages(lambda _: OutgoingMessage(
                text=card_text(facts, _), buttons=card_buttons(facts, _)), default_language),
            recipients=recipients)
    return Asked(question.reference, len(recipients))


async def may_answer(session: AsyncSession, *, actor: Actor, question: Question) -> bool:
    """Staff of the question's community (or above it), its duty cadres, admins."""
    if actor.person_id is None:
        return False
    if actor.is_admin:
        return True
    path = await session.scalar(select(Area.path).where(Area.id == question.area_id))
    if actor.standing >= Standing.STAFF and in_scope(actor, path):
        return True
    cadres = await cadres_for(session, area_id=question.area_id)
    return cadres is not None and cadres in actor.team_ids


async def save_prompt(session: AsyncSession, *, chat_id: int, message_id: int, question_id: int,
                      person_id: int, named: bool, card_message_id: int | None,
                      now: datetime) -> None:
    session.add(QuestionPrompt(chat_id=chat_id, message_id=message_id, question_id=question_id,
                               person_id=person_id, named=named,
                               card_message_id=card_message_id, created_at=now))


async def find_prompt(session: AsyncSession, *, chat_id: int, message_id: int
                      ) -> QuestionPrompt | None:
    return await session.scalar(select(QuestionPrompt).where(
        QuestionPrompt.chat_id == chat_id, QuestionPrompt.message_id == message_id))


class Outcome(enum.Enum):
    DONE = "done"
    ALREADY = "already"


async def answer(
    session: AsyncSession, *, question: Question, person_id: int, text: str, named: bool,
    now: datetime, default_language: str,
) -> Outcome:
    """Save the answer (audited, without its text) and queue it for the asker, naming the
    staff member only if they chose to."""
    if question.status is QuestionStatus.ANSWERED:
        return Outcome.ALREADY
    question.status = QuestionStatus.ANSWERED
    question.answer = text
    question.answered_by_id = person_id
    question.answer_named = named
    question.answered_at = now
    await session.flush()
    await record(session, actor_id=person_id, action="question.answer", object_type="question",
                 object_id=question.id, after={"named": named})
    asker = await session.get_one(Person, question.person_id)
    if asker.telegram_id is None or asker.status is not PersonStatus.ACTIVE:
        return Outcome.DONE
    staff_name = await session.scalar(select(Person.name).where(Person.id == person_id))
    language = asker.language or normalize_language(asker.telegram_language, default_language)

    def build(_: Translate) -> OutgoingMessage:
        lines = [_("💬 The community staff answered your question {reference}:").format(
                     reference=question.reference), "", text]
        if named and staff_name:
            lines += ["", _("— {name}, community staff").format(name=staff_name)]
        return OutgoingMessage(text="\n".join(lines))

    await enqueue_broadcast(session, kind="question_answer", priority=Priority.REPORTER_UPDATE,
                            audience={"question": question.id},
                            content=in_all_languages(build, language),
                            recipients=[(asker.telegram_id, language)])
    return Outcome.DONE


@dataclass(frozen=True)
class MyQuestion:
    reference: str
    status: QuestionStatus
    created_at: datetime


async def my_questions(session: AsyncSession, *, person_id: int, limit: int = 10
                       ) -> list[MyQuestion]:
    rows = await session.scalars(select(Question).where(Question.person_id == person_id)
                                 .order_by(Question.created_at.desc(), Question.id.desc())
                                 .limit(limit))
    return [MyQuestion(q.reference, q.status, q.created_at) for q in rows]

