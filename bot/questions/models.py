"""Questions to the community staff, and the "reply to this message" prompts that answer them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, enum_column, utcnow


class QuestionStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"


class Question(Base):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    #: Who asked; kept even when anonymous (the answer must reach them), never shown.
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The community whose staff answer.
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[QuestionStatus] = mapped_column(enum_column(QuestionStatus),
                                                   default=QuestionStatus.OPEN)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    #: Whether the resident was told who answered (the staff member's choice).
    answer_named: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuestionPrompt(Base):
    """A "please reply with your answer" message the bot sent; the reply is the answer."""

    __tablename__ = "question_prompts"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    named: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The card the answer is about, to show it answered afterwards.
    card_message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
