"""Who is who and where: areas (a tree), people, teams, memberships, group chats."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, enum_column, utcnow


class AreaKind(enum.StrEnum):
    STREET_OFFICE = "street_office"
    COMMUNITY = "community"
    GRID = "grid"
    BUILDING = "building"


class Role(enum.StrEnum):
    """A person's standing. Team leadership is a property of a membership, not a role."""

    ADMIN = "admin"
    STAFF = "staff"
    MEMBER = "member"
    RESIDENT = "resident"


class PersonStatus(enum.StrEnum):
    ACTIVE = "active"
    PENDING = "pending"  # imported from a roster, not yet matched to a Telegram account
    LEFT = "left"


class TeamKind(enum.StrEnum):
    LEGAL_PUBLICITY = "legal_publicity"
    ANTI_PYRAMID = "anti_pyramid"
    MEDIATION = "mediation"
    POVERTY_AID = "poverty_aid"
    AD_REMOVAL = "ad_removal"
    SCHOOL_GUARD = "school_guard"
    PATROL = "patrol"
    CADRES = "cadres"
    NEARBY_UNITS = "nearby_units"
    PARTY_MEMBERS = "party_members"
    CLEANERS = "cleaners"
    BUILDING_HEADS = "building_heads"
    OTHER = "other"


class ChatStatus(enum.StrEnum):
    ACTIVE = "active"
    LEFT = "left"  # the bot was removed or blocked
    MIGRATED = "migrated"


class Area(Base):
    """A node of the area tree. `path` is the materialized path `/1/4/17/`, so a
    subtree is one `LIKE '/1/4/%'` range on an index."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    kind: Mapped[AreaKind] = mapped_column(enum_column(AreaKind))
    name: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The language of the area's own texts (default team names); None: the parent's.
    language: Mapped[str | None] = mapped_column(String(8))


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(100))
    username: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.RESIDENT, index=True)
    status: Mapped[PersonStatus] = mapped_column(enum_column(PersonStatus),
                                                 default=PersonStatus.ACTIVE)
    # The language the person chose with /language; None means "follow Telegram's".
    language: Mapped[str | None] = mapped_column(String(8))
    telegram_language: Mapped[str | None] = mapped_column(String(16))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    # A role a roster gave this person (staff) that waits for a staff member's confirmation:
    # they were matched by Telegram username only, which anyone may register. Until then
    # `role` is member.
    unconfirmed_role: Mapped[Role | None] = mapped_column(enum_column(Role))
    #: When they left (/leave); retention deletes their data LEFT_KEEP_DAYS later, and
    #: None again once it is deleted (or they come back).
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TeamKind] = mapped_column(enum_column(TeamKind))
    name: Mapped[str] = mapped_column(String(100))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("person_id", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    # Leadership a roster gave, waiting for staff to confirm (see Person.unconfirmed_role).
    unconfirmed_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PastMembership(Base):
    """A membership that ended when its person left (/leave): kept as history, never active.

    Moving the row out of `memberships` (rather than flagging it) means every query of
    current team members stays right without knowing about history."""

    __tablename__ = "past_memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Chat(Base):
    """A group chat the bot is in, linked to a team or an area by staff."""

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255), default="")
    thread_id: Mapped[int | None] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[ChatStatus] = mapped_column(enum_column(ChatStatus), default=ChatStatus.ACTIVE)
    can_pin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubscriptionTopic(enum.StrEnum):
    """What a resident chose to receive."""

    SAFETY_TIPS = "safety_tips"
    ANTI_FRAUD = "anti_fraud"
    NOTICES = "notices"


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("person_id", "topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    topic: Mapped[SubscriptionTopic] = mapped_column(enum_column(SubscriptionTopic), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InviteRole(enum.StrEnum):
    """What an invite link makes of the person who follows it."""

    MEMBER = "member"
    LEADER = "leader"
    STAFF = "staff"


class Invite(Base):
    """A deep-link invitation to a team (member or leader) or to an area's staff.

    Only a hash of the token is kept: the link is shown once, to its creator."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    role: Mapped[InviteRole] = mapped_column(enum_column(InviteRole))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PendingUploadKind(enum.StrEnum):
    ROSTER = "roster"
    AREAS = "areas"
    DUTY_ROSTER = "duty_roster"  # a patrol team's 排班表 (bot/patrol/roster.py)


class PendingUpload(Base):
    """A checked file (roster or area tree) waiting for its uploader's Confirm button.

    The dry run stores the good rows here, so the Confirm button carries only an id
    and works after a restart."""

    __tablename__ = "pending_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[PendingUploadKind] = mapped_column(enum_column(PendingUploadKind))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # A roster's answers to its questions (unknown team names, roles, areas) until Confirm.
    choices: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportAliasKind(enum.StrEnum):
    TEAM = "team"
    ROLE = "role"
    AREA = "area"


class ImportAlias(Base):
    """A name a roster used (法制宣传志愿服务队, 副组长, 第三网格) mapped by its uploader, so
    the next file of that area with the same names needs no mapping. `text` is the name as
    compared (bot.directory.roster.name_key); `target` a team or area id, or a role."""

    __tablename__ = "import_aliases"
    __table_args__ = (UniqueConstraint("scope_path", "kind", "text"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope_path: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[ImportAliasKind] = mapped_column(enum_column(ImportAliasKind))
    text: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(32))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
