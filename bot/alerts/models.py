"""Alert tables: the alert, who is expected to acknowledge it, sensitive periods, and the
/alert drafts being written."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, enum_column, utcnow


class Severity(enum.StrEnum):
    WARNING = "warning"
    EMERGENCY = "emergency"


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Alert(Base):
    """One emergency alert and its chase state (the timers live here, not in memory)."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_status_next_renotify", "status", "next_renotify_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    #: Where the live status message lives (the author's private chat).
    status_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    status_message_id: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8))
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    area_path: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    photo: Mapped[str | None] = mapped_column(String(255))
    severity: Mapped[Severity] = mapped_column(enum_column(Severity))
    ack_required: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[AlertStatus] = mapped_column(enum_column(AlertStatus), default=AlertStatus.OPEN)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    renotify_every_s: Mapped[int] = mapped_column(Integer)
    renotify_max: Mapped[int] = mapped_column(Integer)
    renotify_done: Mapped[int] = mapped_column(Integer, default=0)
    #: When the next re-notify (or, after the last one, the escalation) is due; None: done.
    next_renotify_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The broadcasts of the first sending (groups first), for figures and unpinning.
    broadcast_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    all_clear_text: Mapped[str | None] = mapped_column(Text)


class AlertRecipient(Base):
    """A person expected to acknowledge; acknowledged once, whatever copy they pressed."""

    __tablename__ = "alert_recipients"
    __table_args__ = (UniqueConstraint("alert_id", "person_id"),
                      Index("ix_alert_recipients_alert_ack", "alert_id", "acknowledged_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                           index=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(8))
    #: Reached in a private chat by the first sending (else only through a group).
    private: Mapped[bool] = mapped_column(Boolean, default=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The chat whose button they pressed (their private chat or a group).
    acknowledged_in: Mapped[int | None] = mapped_column(BigInteger)
    reminders: Mapped[int] = mapped_column(Integer, default=0)


class SensitivePeriod(Base):
    """A time when re-notify comes sooner: for one area (and below) or everywhere."""

    __tablename__ = "sensitive_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    renotify_minutes: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertStep(enum.StrEnum):
    """What /alert waits for: the conversation's states and a draft's stored step."""

    AWAITING_AUDIENCE = "awaiting_audience"
    AWAITING_TEXT = "awaiting_text"
    AWAITING_SEVERITY = "awaiting_severity"
    AWAITING_ACK_CHOICE = "awaiting_ack_choice"
    AWAITING_CONFIRM = "awaiting_confirm"


class AlertDraftRow(Base):
    """An /alert being written, one per sender, so a restart mid-way loses nothing."""

    __tablename__ = "alert_drafts"

    sender_telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                                    autoincrement=False)
    step: Mapped[AlertStep] = mapped_column(enum_column(AlertStep))
    #: The audience chosen so far: [["t"|"a"|"c", id], ...].
    chosen: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)
    #: The picker's tab ("t" teams, "a" areas, "c" group chats) and page.
    section: Mapped[str] = mapped_column(String(1))
    page: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str | None] = mapped_column(Text)
    photo: Mapped[str | None] = mapped_column(String(255))
    severity: Mapped[Severity] = mapped_column(enum_column(Severity))
    ack_required: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
