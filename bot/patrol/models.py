"""Patrol tables: posts (岗点), shifts, the weekly rotation, duties (one person, one shift,
one day, with its sign-in and its timers), the evening all-clear and its summary, and the
reply prompts the patrol screens wait on."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, enum_column, utcnow

ALL_WEEKDAYS = 0b1111111


class PatrolPost(Base):
    """A named place a patrol team signs in at, with the token of its printed QR sign."""

    __tablename__ = "patrol_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    #: In the sign's deep link (`post_<token>`); a new sign gets a new token.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[int] = mapped_column(Integer, default=150)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PatrolShift(Base):
    """A recurring shift at a post, in local time; `ends` at or before `starts` means it
    ends the next day (night rounds). `sensitive_only`: an extra shift that runs only while
    a sensitive period (a campaign or /sensitive) covers the team's area."""

    __tablename__ = "patrol_shifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("patrol_posts.id", ondelete="CASCADE"),
                                         index=True)
    name: Mapped[str] = mapped_column(String(40))
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)
    sensitive_only: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The days of the week it runs: bit 0 Monday … bit 6 Sunday (127: every day).
    weekdays: Mapped[int] = mapped_column(Integer, default=ALL_WEEKDAYS)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PatrolRotation(Base):
    """The weekly roster: this person is on this shift every `weekday` (0 = Monday)."""

    __tablename__ = "patrol_rotations"
    __table_args__ = (UniqueConstraint("shift_id", "person_id", "weekday"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("patrol_shifts.id", ondelete="CASCADE"),
                                          index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                           index=True)
    weekday: Mapped[int] = mapped_column(Integer)


class DutyStage(enum.StrEnum):
    """What a duty's timer (`next_due_at`) will do next."""

    REMIND = "remind"  # the reminder before the shift
    NUDGE = "nudge"  # not signed in after the grace time: a kind word to the member
    TELL_LEADER = "tell_leader"  # still not signed in: the leader is told
    SIGN_OUT = "sign_out"  # signed in: sign out automatically at the shift's end
    DONE = "done"


class PatrolDuty(Base):
    """One person on one shift on one day: the plan, the sign-in, and the chase timers.

    The timers live here (`next_due_at`, indexed), read by a scan, so a restart loses none.
    """

    __tablename__ = "patrol_duties"
    __table_args__ = (
        UniqueConstraint("shift_id", "on_date", "person_id"),
        Index("ix_patrol_duties_due", "next_due_at"),
        Index("ix_patrol_duties_person_starts", "person_id", "starts_at"),
        Index("ix_patrol_duties_team_date", "team_id", "on_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("patrol_shifts.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(ForeignKey("patrol_posts.id", ondelete="CASCADE"),
                                         index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    #: The local date the shift starts on.
    on_date: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: False: signed in at a post without being on the roster (helping out).
    planned: Mapped[bool] = mapped_column(Boolean, default=True)
    stage: Mapped[DutyStage] = mapped_column(enum_column(DutyStage), default=DutyStage.REMIND)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The grace time in force for this duty (shorter in a sensitive period).
    grace_s: Mapped[int] = mapped_column(Integer, default=900)
    signed_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: "qr", "location" or "button".
    signin_method: Mapped[str | None] = mapped_column(String(16))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    #: For a location sign-in: metres from the post, and whether outside its radius.
    distance_m: Mapped[int | None] = mapped_column(Integer)
    far: Mapped[bool] = mapped_column(Boolean, default=False)
    signed_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auto_signed_out: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    leader_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    covered_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    excused: Mapped[bool] = mapped_column(Boolean, default=False)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    #: Swapped: who had this duty before the swap.
    swapped_from_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    #: A swap offered to this teammate, waiting for them to accept.
    swap_offered_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DayAnswer(enum.StrEnum):
    NONE = "none"
    NORMAL = "normal"
    ISSUE = "issue"


class PatrolDayReport(Base):
    """A team's evening all-clear (平安日报) for one day: asked, reminded, answered."""

    __tablename__ = "patrol_day_reports"
    __table_args__ = (UniqueConstraint("team_id", "on_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    on_date: Mapped[date] = mapped_column(Date)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[DayAnswer] = mapped_column(enum_column(DayAnswer), default=DayAnswer.NONE)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    note: Mapped[str | None] = mapped_column(Text)
    tipoff_id: Mapped[int | None] = mapped_column(ForeignKey("tipoffs.id", ondelete="SET NULL"))


class PatrolDaySummary(Base):
    """The cadres' evening summary of one community, written once per day."""

    __tablename__ = "patrol_day_summaries"
    __table_args__ = (UniqueConstraint("community_id", "on_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    on_date: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PatrolTimes(Base):
    """A community's own evening times (else the defaults: all-clear 21:00, summary 21:30)."""

    __tablename__ = "patrol_times"

    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"),
                                              primary_key=True, autoincrement=False)
    allclear_at: Mapped[time] = mapped_column(Time)
    summary_at: Mapped[time] = mapped_column(Time)


class PatrolPrompt(Base):
    """A message the bot asked a reply to (a post's name, its pin, the all-clear's note):
    the reply completes the action, after a restart too."""

    __tablename__ = "patrol_prompts"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
