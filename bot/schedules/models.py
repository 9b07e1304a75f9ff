"""Schedules (recurring or one-off broadcasts) and sensitive-period campaigns.

The database is the record of every schedule: the runner rebuilds its timers from these
rows at start, and `last_fire_at` remembers the last planned fire it handled (sent or
skipped), so a restart neither repeats nor forgets one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.alerts.models import SensitivePeriod
from bot.db import Base, UTCDateTime, enum_column, utcnow
from bot.schedules.triggers import TriggerKind


class Campaign(Base):
    """A sensitive period (敏感时期): a date window with its own extra schedules.

    Inclusive local dates in `timezone`; `ended_at` set when staff end it early.
    `area_id` None means everywhere (admins only).

    The period itself is the alerts feature's `SensitivePeriod` (`period`), the one record
    of "a sensitive time here": alerts read it (sooner re-notify, the banner on /alert),
    /sensitive shows and can end it, and a campaign whose period has ended sends no more.
    """

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    preset: Mapped[str | None] = mapped_column(String(32), default=None)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"),
                                                default=None)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"),
                                                  default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    period_id: Mapped[int | None] = mapped_column(
        ForeignKey("sensitive_periods.id", ondelete="SET NULL"), default=None)
    #: Loaded with the campaign (a second SELECT), never lazily.
    period: Mapped[SensitivePeriod | None] = relationship(lazy="selectin")

    def __repr__(self) -> str:
        return f"<Campaign {self.id} {self.name} {self.starts_on}..{self.ends_on}>"


class Schedule(Base):
    """A broadcast sent by a trigger: its audience, content, time zone and grace time."""

    __tablename__ = "schedules"
    __table_args__ = (Index("ix_schedules_active", "deleted", "paused"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    #: The broadcast kind (tip, anti_fraud, notice, task), as the broadcasting service names it.
    kind: Mapped[str] = mapped_column(String(32))
    #: `AudienceSpec.to_json()`.
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: `{"type": "text", "text": …, "photo": file_id|None}` or `{"type": "tip", "categories": […]}`.
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    trigger_kind: Mapped[TriggerKind] = mapped_column(enum_column(TriggerKind))
    #: `TriggerSpec.to_json()`.
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(64))
    grace_seconds: Mapped[int] = mapped_column(Integer, default=2 * 3600)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The scope that may see and change it (the author's area, or the campaign's);
    #: None: admins only.
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"),
                                                default=None)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), default=None, index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"),
                                                  default=None)
    #: Fires at or before this time are never sent (set at creation, on edit and on resume:
    #: a fire planned while paused, or under an older trigger, is not "missed").
    planned_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The last planned fire time handled (sent, found already sent, or skipped).
    last_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: What happened last, for the list ("sent", "skipped: …").
    last_outcome: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def key(self) -> str:
        """The idempotency key of this schedule's broadcasts (with the fire time)."""
        return f"schedule:{self.id}"

    def __repr__(self) -> str:
        return f"<Schedule {self.id} {self.name} {self.trigger_kind.value}>"
