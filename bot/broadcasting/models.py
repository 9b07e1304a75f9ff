"""This feature's tables: which library tips an audience has had, and quiet hours."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, utcnow


class TipSent(Base):
    """A library tip that went to an audience in the current round of its category.

    `audience_key` names the audience and the category (see `service.audience_key`); when
    every tip of the category has gone out, its rows are deleted and a new round starts.
    """

    __tablename__ = "broadcasting_tips_sent"
    __table_args__ = (UniqueConstraint("audience_key", "tip_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_key: Mapped[str] = mapped_column(String(80), index=True)
    tip_id: Mapped[str] = mapped_column(String(64))
    broadcast_id: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuietHoursSetting(Base):
    """A community's own quiet hours (minutes after local midnight); default without a row.

    `start_minute == end_minute` means "no quiet hours".
    """

    __tablename__ = "broadcasting_quiet_hours"

    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"),
                                         primary_key=True, autoincrement=False)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
