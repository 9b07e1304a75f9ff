"""Tip-off tables: reports, their photos and history, drafts, routing rules, blocks, prompts."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, enum_column, utcnow


class TipOffStatus(enum.StrEnum):
    NEW = "new"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    REFERRED = "referred"
    REJECTED = "rejected"


OPEN_STATUSES = frozenset({TipOffStatus.NEW, TipOffStatus.CLAIMED})


class DraftStep(enum.StrEnum):
    """What the bot waits for from the reporter (named after the wait, like a conversation)."""

    AWAITING_CATEGORY = "awaiting_category"
    AWAITING_DESCRIPTION = "awaiting_description"
    AWAITING_PHOTOS = "awaiting_photos"
    AWAITING_PLACE = "awaiting_place"
    AWAITING_ANONYMITY = "awaiting_anonymity"
    AWAITING_CONFIRM = "awaiting_confirm"
    AWAITING_ADDITION = "awaiting_addition"  # a comment or photo for an open report


class TipOff(Base):
    __tablename__ = "tipoffs"
    __table_args__ = (
        Index("ix_tipoffs_status_created", "status", "created_at"),
        Index("ix_tipoffs_reporter_created", "reporter_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    share_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    category: Mapped[str] = mapped_column(String(32))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    voice_file_id: Mapped[str | None] = mapped_column(String(255))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    status: Mapped[TipOffStatus] = mapped_column(enum_column(TipOffStatus),
                                                 default=TipOffStatus.NEW)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome_note: Mapped[str | None] = mapped_column(Text)
    #: When the routed team was last given the report; escalation counts from here.
    routed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When retention deleted its photos and voice notes (MEDIA_KEEP_DAYS after closing).
    media_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TipOffPhoto(Base):
    __tablename__ = "tipoff_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    tipoff_id: Mapped[int] = mapped_column(ForeignKey("tipoffs.id", ondelete="CASCADE"),
                                           index=True)
    #: What the reporter sent (a photo, or a document kept with its metadata).
    file_id: Mapped[str] = mapped_column(String(255))
    file_unique_id: Mapped[str] = mapped_column(String(64))
    #: What the team is shown: the same photo, or a re-encoded copy without EXIF/GPS.
    team_file_id: Mapped[str] = mapped_column(String(255))
    stripped: Mapped[bool] = mapped_column(Boolean, default=False)
    sha256: Mapped[str | None] = mapped_column(String(64))
    local_path: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TipOffEventKind(enum.StrEnum):
    CREATED = "created"
    ROUTED = "routed"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    REFERRED = "referred"
    REJECTED = "rejected"
    REASSIGNED = "reassigned"
    ESCALATED = "escalated"
    REMINDED = "reminded"
    COMMENT = "comment"
    PHOTO_ADDED = "photo_added"
    VOICE_ADDED = "voice_added"
    REVEALED = "revealed"


class TipOffEvent(Base):
    __tablename__ = "tipoff_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    tipoff_id: Mapped[int] = mapped_column(ForeignKey("tipoffs.id", ondelete="CASCADE"),
                                           index=True)
    kind: Mapped[TipOffEventKind] = mapped_column(enum_column(TipOffEventKind))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TipOffDraft(Base):
    """A report being written: one per person, kept in the database so a restart loses nothing."""

    __tablename__ = "tipoff_drafts"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                           primary_key=True, autoincrement=False)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    step: Mapped[DraftStep] = mapped_column(enum_column(DraftStep))
    category: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    voice_file_id: Mapped[str | None] = mapped_column(String(255))
    #: [{"file_id", "file_unique_id", "team_file_id", "stripped", "sha256", "local_path"}]
    photos: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"))
    address: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    anonymous: Mapped[bool | None] = mapped_column(Boolean)
    share_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    #: For AWAITING_ADDITION: the open report the addition is for.
    tipoff_id: Mapped[int | None] = mapped_column(ForeignKey("tipoffs.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoutingRule(Base):
    """Category × area → team. A rule without an area applies everywhere; deepest area wins."""

    __tablename__ = "tipoff_routing_rules"
    __table_args__ = (UniqueConstraint("category", "area_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReporterBlock(Base):
    """A person staff have stopped from reporting (abuse)."""

    __tablename__ = "tipoff_reporter_blocks"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                           primary_key=True, autoincrement=False)
    blocked_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TipOffPrompt(Base):
    """A "please reply with a note" message the bot sent; the reply completes the action."""

    __tablename__ = "tipoff_prompts"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(Integer)
    tipoff_id: Mapped[int] = mapped_column(ForeignKey("tipoffs.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TipOffRating(Base):
    """The reporter's satisfaction with a resolved report: asked once (one row per report),
    counted once (`score` is set only while it is empty). It names nobody: the reporter is
    only ever found through the report, and only to check that a press is theirs."""

    __tablename__ = "tipoff_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    tipoff_id: Mapped[int] = mapped_column(ForeignKey("tipoffs.id", ondelete="CASCADE"),
                                           unique=True)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    score: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    comment: Mapped[str | None] = mapped_column(Text)
    #: The "reply with a comment" message in the reporter's private chat (its chat is the
    #: reporter's own, found through the report, so no chat id is kept here).
    comment_message_id: Mapped[int | None] = mapped_column(Integer)
