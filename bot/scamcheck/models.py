"""What the scam check keeps: each check as kind, verdict, community and time (never the
text, never who asked), and the early warnings given to a community's staff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, enum_column, utcnow
from bot.scamcheck.checker import Verdict


class ScamCheck(Base):
    """One message checked, for the early warning and the monthly figures."""

    __tablename__ = "scam_checks"
    __table_args__ = (Index("ix_scam_checks_community_kind_at", "community_id", "kind",
                            "checked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str | None] = mapped_column(String(40))
    verdict: Mapped[Verdict] = mapped_column(enum_column(Verdict))
    #: The asker's home community (None: not registered, or no home chosen).
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("areas.id", ondelete="SET NULL"))
    #: The same asker already asked about this kind within the warning's window: the early
    #: warning counts askers, not checks (who asked is not kept, only this mark).
    repeat: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ScamWarning(Base):
    """The latest early warning for one community and kind of scam.

    One row per community and kind: a new warning (a new `round`) claims it with a
    conditional update, so two checks at once cannot both warn. The round is in the
    buttons, so a press on an older warning's buttons changes nothing.
    """

    __tablename__ = "scam_warnings"
    __table_args__ = (UniqueConstraint("community_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    round: Mapped[int] = mapped_column(Integer, default=1)
    tip_id: Mapped[str] = mapped_column(String(64))
    warned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The anti-fraud broadcast a staff member sent from it (None: not sent).
    broadcast_id: Mapped[int | None] = mapped_column(Integer)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
