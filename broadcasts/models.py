"""The engine's tables: broadcasts, one delivery row per recipient chat, and chat state.

They hang off the engine's own declarative ``Base`` so the engine can be lifted into
another bot; the host application adds ``Base.metadata`` to its Alembic target.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Priority(enum.IntEnum):
    """Lower goes first; within a priority the row due earliest goes first."""

    ALERT = 0
    TIPOFF = 10
    REPORTER_UPDATE = 20
    NORMAL = 50


class BroadcastStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"


#: Statuses after which the dispatcher never touches a row again.
FINAL_STATUSES = frozenset(
    {
        DeliveryStatus.SENT,
        DeliveryStatus.FAILED,
        DeliveryStatus.UNREACHABLE,
        DeliveryStatus.CANCELLED,
    }
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (SQLite has no time zones), hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """Statuses stored as their lowercase values, as a VARCHAR (no CHECK churn on SQLite)."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda e: [m.value for m in e],
    )


class Base(DeclarativeBase):
    """Declarative base of the engine's tables only (``bc_`` prefix)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012


class Broadcast(Base):
    """One message (in several languages) to many chats; the cause of its delivery rows."""

    __tablename__ = "bc_broadcast"
    __table_args__ = (UniqueConstraint("schedule_key", "fire_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(default=Priority.NORMAL)
    #: ``{language: OutgoingMessage.to_dict()}``; the first key is the fallback.
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: How the audience was described (teams, areas …): opaque here, shown in reports.
    audience: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    author_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    schedule_key: Mapped[str | None] = mapped_column(String(128), default=None)
    fire_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[BroadcastStatus] = mapped_column(
        _enum(BroadcastStatus, "bc_broadcast_status"), default=BroadcastStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    not_before: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    def __repr__(self) -> str:
        return f"<Broadcast {self.id} {self.kind} p{self.priority} {self.status.value}>"


class Delivery(Base):
    """One message to one chat: the unit the dispatcher claims, sends and records."""

    __tablename__ = "bc_delivery"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "chat_id"),
        # The claim query walks this index: pending, best priority, due first.
        Index("ix_bc_delivery_queue", "status", "priority", "next_attempt_at", "id"),
        # Per-chat follow-ups: skip a blocked chat's rows, re-target a migrated one.
        Index("ix_bc_delivery_chat_status", "chat_id", "status"),
        # "Is this broadcast finished?" and its report, without scanning its rows.
        Index("ix_bc_delivery_broadcast_status", "broadcast_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("bc_broadcast.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int]
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus, "bc_delivery_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Set while in flight: a row whose lease ran out (a crash) is claimable again.
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    #: JSON list of the Telegram message ids the delivery produced (a split makes several).
    message_ids: Mapped[list[int] | None] = mapped_column(JSON, default=None)
    #: How many of the message's parts (see ``split.py``) went out; a retry skips them.
    parts_sent: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    #: A send timed out and was retried: the chat may have the message twice.
    possible_duplicate: Mapped[bool] = mapped_column(default=False)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Delivery {self.id} b{self.broadcast_id} chat {self.chat_id} {self.status.value}>"


class ChatState(Base):
    """What the engine learnt about a chat: it blocked us (403) or moved (migration)."""

    __tablename__ = "bc_chat_state"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    unreachable_since: Mapped[datetime | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    migrated_to: Mapped[int | None] = mapped_column(BigInteger, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
