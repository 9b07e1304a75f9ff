"""Residents' satisfaction: when a report is resolved its reporter is asked once, privately
and through the outbox, "对处理结果满意吗？" (1–5), with an optional comment. No Telegram here.

Anonymous reports are asked too. The rating row names nobody and the team is never told a
rating: the figures show only averages, the distribution and unsigned comments.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Person
from bot.i18n import Translate
from bot.tipoffs import render
from bot.tipoffs.models import TipOff, TipOffRating
from broadcasts import OutgoingMessage, Priority, enqueue_broadcast

SCORES = (1, 2, 3, 4, 5)
COMMENT_LIMIT = 500
PATTERN = re.compile(r"^sr:(\d{1,12}):([1-5])$")


def button_data(rating_id: int, score: int) -> str:
    return f"sr:{rating_id}:{score}"


@dataclass(frozen=True)
class Press:
    rating_id: int
    score: int


def parse(data: str) -> Press | None:
    match = PATTERN.match(data)
    return Press(int(match.group(1)), int(match.group(2))) if match else None


def question(reference: str, rating_id: int, _: Translate) -> OutgoingMessage:
    return OutgoingMessage(
        text=_("Your report {reference} has been dealt with. Are you satisfied with the "
               "result? Please choose 1 (not at all) to 5 (very).").format(reference=reference),
        buttons=(tuple((f"{score}⭐", button_data(rating_id, score)) for score in SCORES),))


async def ask(session: AsyncSession, *, tipoff: TipOff, telegram_id: int, language: str,
              now: datetime) -> bool:
    """Queue the question to the reporter, once per report (False when already asked)."""
    if await session.scalar(select(TipOffRating.id)
                            .where(TipOffRating.tipoff_id == tipoff.id)) is not None:
        return False
    rating = TipOffRating(tipoff_id=tipoff.id, asked_at=now)
    session.add(rating)
    await session.flush()
    await enqueue_broadcast(
        session, kind="tipoff_rating", priority=Priority.REPORTER_UPDATE,
        audience={"tipoff": tipoff.id},
        content=render.in_all_languages(
            lambda _: question(tipoff.reference, rating.id, _), language),
        recipients=[(telegram_id, language)])
    return True


class Outcome(enum.StrEnum):
    COUNTED = "counted"
    ALREADY = "already"  # a second press: the first one stands
    NOT_YOURS = "not_yours"  # missing, or the presser is not the reporter


@dataclass(frozen=True)
class Rated:
    outcome: Outcome
    reference: str | None = None


async def _reference_if_reporter(session: AsyncSession, *, rating_id: int,
                                 telegram_id: int) -> str | None:
    """The report's reference when `telegram_id` is its reporter's, else None."""
    return await session.scalar(
        select(TipOff.reference)
        .join(TipOffRating, TipOffRating.tipoff_id == TipOff.id)
        .join(Person, Person.id == TipOff.reporter_id)
        .where(TipOffRating.id == rating_id, Person.telegram_id == telegram_id))


async def rate(session: AsyncSession, *, rating_id: int, score: int, telegram_id: int,
               now: datetime) -> Rated:
    """Count a press once: only the reporter's, only while no score is set."""
    if score not in SCORES:
        return Rated(Outcome.NOT_YOURS)
    reference = await _reference_if_reporter(session, rating_id=rating_id,
                                             telegram_id=telegram_id)
    if reference is None:
        return Rated(Outcome.NOT_YOURS)
    result = await session.execute(
        update(TipOffRating)
        .where(TipOffRating.id == rating_id, TipOffRating.score.is_(None))
        .values(score=score, rated_at=now)
        .execution_options(synchronize_session=False))
    counted = getattr(result, "rowcount", 0) == 1
    return Rated(Outcome.COUNTED if counted else Outcome.ALREADY, reference)


async def await_comment(session: AsyncSession, *, rating_id: int, message_id: int) -> None:
    await session.execute(update(TipOffRating).where(TipOffRating.id == rating_id)
                          .values(comment_message_id=message_id)
                          .execution_options(synchronize_session=False))


async def add_comment(session: AsyncSession, *, message_id: int, telegram_id: int,
                      text: str) -> bool:
    """The reporter's reply to the comment prompt, kept once (False: no open prompt there)."""
    rating_id = await session.scalar(
        select(TipOffRating.id)
        .join(TipOff, TipOff.id == TipOffRating.tipoff_id)
        .join(Person, Person.id == TipOff.reporter_id)
        .where(TipOffRating.comment_message_id == message_id,
               TipOffRating.comment.is_(None), Person.telegram_id == telegram_id))
    if rating_id is None:
        return False
    await session.execute(update(TipOffRating).where(TipOffRating.id == rating_id)
                          .values(comment=text[:COMMENT_LIMIT])
                          .execution_options(synchronize_session=False))
    return True
