"""Invite links: `https://t.me/<bot>?start=<token>` to join a team or an area's staff.

Only a hash of the token is stored; redemption is checked against expiry, the use
limit and revocation, and a refused link changes nothing. No Telegram.
"""

from __future__ import annotations

import enum
import hashlib
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit import record
from bot.directory.models import (
    Area,
    Invite,
    InviteRole,
    Membership,
    Person,
    PersonStatus,
    Role,
    Team,
)
from bot.directory.people import TelegramIdentity, register_person

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEFAULT_LIFETIME = timedelta(days=14)
DEFAULT_USES = {InviteRole.MEMBER: 50, InviteRole.LEADER: 1, InviteRole.STAFF: 1}
# "No limit" is a cap nobody reaches: the guarded use count below stays one rule, and the
# column stays NOT NULL. Shown as "unlimited" wherever max_uses >= UNLIMITED_USES.
UNLIMITED_USES = 1_000_000
LIFETIME_CHOICES = (timedelta(days=1), timedelta(days=7), timedelta(days=30))
USES_CHOICES = (1, 10, 50, UNLIMITED_USES)
DEFAULT_LIFETIME_CHOICE = 1  # 7 days
ROLE_RANK = {Role.RESIDENT: 0, Role.MEMBER: 1, Role.STAFF: 2, Role.ADMIN: 3}


class InviteOutcome(enum.Enum):
    JOINED = "joined"
    ALREADY = "already"  # followed the same link twice: nothing to do, no use spent
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED_UP = "used_up"


@dataclass(frozen=True)
class Redemption:
    outcome: InviteOutcome
    role: InviteRole | None = None
    team_name: str | None = None
    area_name: str | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """22 URL-safe characters: fits a deep link (≤ 64 of [A-Za-z0-9_-]), unguessable."""
    return secrets.token_urlsafe(16)


def invite_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={token}"


def qr_png(link: str) -> bytes:
    """A QR code of the link, big enough to print on a notice board."""
    import segno

    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="png", scale=10, border=4)
    return buffer.getvalue()


async def create_invite(
    session: AsyncSession, *, area: Area, team: Team | None, role: InviteRole, now: datetime,
    actor_id: int | None, lifetime: timedelta = DEFAULT_LIFETIME, max_uses: int | None = None,
) -> tuple[Invite, str]:
    """A new invite and its token (shown once: only the hash is kept)."""
    if role is not InviteRole.STAFF and team is None:
        raise ValueError("a member or leader invite needs a team")
    token = new_token()
    invite = Invite(token_hash=token_hash(token), team_id=team.id if team else None,
                    area_id=area.id, role=role, expires_at=now + lifetime,
                    max_uses=max_uses or DEFAULT_USES[role], uses=0, created_by_id=actor_id)
    session.add(invite)
    await session.flush()
    await record(session, actor_id=actor_id, action="invite.create", object_type="invite",
                 object_id=invite.id,
                 after={"team_id": invite.team_id, "area_id": area.id, "role": role.value,
                        "expires_at": invite.expires_at.isoformat(), "max_uses": invite.max_uses})
    return invite, token


async def check_invite(session: AsyncSession, *, token: str, now: datetime) -> InviteOutcome:
    """Whether a token would work now, without using it."""
    if not TOKEN_PATTERN.match(token):
        return InviteOutcome.UNKNOWN
    invite = await session.scalar(select(Invite).where(Invite.token_hash == token_hash(token)))
    return _state(invite, now)


def _state(invite: Invite | None, now: datetime) -> InviteOutcome:
    if invite is None or invite.revoked:
        return InviteOutcome.UNKNOWN
    if invite.expires_at <= now:
        return InviteOutcome.EXPIRED
    if invite.uses >= invite.max_uses:
        return InviteOutcome.USED_UP
    return InviteOutcome.JOINED


async def redeem_invite(
    session: AsyncSession, *, token: str, identity: TelegramIdentity, now: datetime
) -> Redemption:
    """Join the team (or the area's staff) the link is for; a refused link writes nothing."""
    if not TOKEN_PATTERN.match(token):
        return Redemption(InviteOutcome.UNKNOWN)
    invite = await session.scalar(select(Invite).where(Invite.token_hash == token_hash(token)))
    state = _state(invite, now)
    if invite is None:
        return Redemption(state)
    if state is not InviteOutcome.JOINED:
        # Following a spent link again, when it already did its work for you, is no error.
        if invite.team_id is not None and await session.scalar(
            select(Membership.id).join(Person, Person.id == Membership.person_id).where(
                Membership.team_id == invite.team_id,
                Person.telegram_id == identity.telegram_id,
                Person.status != PersonStatus.LEFT)
        ) is not None:
            return Redemption(InviteOutcome.ALREADY, role=invite.role)
        return Redemption(state)
    area = await session.get(Area, invite.area_id)
    team = await session.get(Team, invite.team_id) if invite.team_id else None
    if area is None or area.archived or (team is not None and team.archived):
        return Redemption(InviteOutcome.UNKNOWN)
    person = await register_person(session, identity=identity)
    before = {"role": person.role.value, "area_id": person.area_id, "status": person.status.value}
    changed = False
    if team is not None:
        membership = await session.scalar(select(Membership).where(
            Membership.team_id == team.id, Membership.person_id == person.id))
        want_leader = invite.role is InviteRole.LEADER
        if membership is None:
            session.add(Membership(team_id=team.id, person_id=person.id, is_leader=want_leader))
            changed = True
        elif want_leader and not membership.is_leader:
            membership.is_leader = True
            changed = True
    target = Role.STAFF if invite.role is InviteRole.STAFF else Role.MEMBER
    if ROLE_RANK[target] > ROLE_RANK[person.role]:
        person.role = target
        changed = True
    if invite.role is InviteRole.STAFF and person.area_id != area.id:
        person.area_id = area.id
        changed = True
    elif person.area_id is None:
        person.area_id = area.id
        changed = True
    if person.status is not PersonStatus.ACTIVE:
        person.status = PersonStatus.ACTIVE
    result = Redemption(InviteOutcome.JOINED if changed else InviteOutcome.ALREADY,
                        role=invite.role, team_name=team.name if team else None,
                        area_name=area.name)
    if not changed:
        return result
    # Count the use with a guarded update, so two people racing for the last use can't both win.
    used = await session.execute(
        update(Invite).where(Invite.id == invite.id, Invite.uses < Invite.max_uses)
        .values(uses=Invite.uses + 1).execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise InviteRace
    await session.flush()
    await record(session, actor_id=person.id, action="invite.redeem", object_type="person",
                 object_id=person.id, before=before,
                 after={"role": person.role.value, "area_id": person.area_id,
                        "team_id": invite.team_id, "invite_id": invite.id,
                        "leader": invite.role is InviteRole.LEADER})
    return result


@dataclass(frozen=True)
class ActiveInvite:
    id: int
    role: InviteRole
    created_by: str | None
    uses_left: int | None  # None: no limit
    expires_at: datetime


def uses_left(invite: Invite) -> int | None:
    if invite.max_uses >= UNLIMITED_USES:
        return None
    return max(invite.max_uses - invite.uses, 0)


def is_active(invite: Invite, now: datetime) -> bool:
    return _state(invite, now) is InviteOutcome.JOINED


async def active_invites(
    session: AsyncSession, *, now: datetime, team_id: int | None = None,
    staff_area_id: int | None = None, offset: int = 0, limit: int = 8,
) -> tuple[list[ActiveInvite], int]:
    """A team's links (or the staff links of `staff_area_id`) that still work (not revoked,
    not expired, uses left), newest first."""
    if (team_id is None) == (staff_area_id is None):
        raise ValueError("give a team or an area")
    whose = (Invite.team_id == team_id if team_id is not None
             else (Invite.area_id == staff_area_id) & Invite.team_id.is_(None))
    condition = (whose & Invite.revoked.is_(False)
                 & (Invite.expires_at > now) & (Invite.uses < Invite.max_uses))
    total = await session.scalar(select(func.count()).select_from(Invite).where(condition))
    rows = (await session.execute(
        select(Invite, Person.name).outerjoin(Person, Person.id == Invite.created_by_id)
        .where(condition).order_by(Invite.id.desc()).offset(offset).limit(limit)
    )).all()
    return [ActiveInvite(id=invite.id, role=invite.role, created_by=name,
                         uses_left=uses_left(invite), expires_at=invite.expires_at)
            for invite, name in rows], total or 0


async def get_invite(session: AsyncSession, *, invite_id: int) -> Invite | None:
    return await session.get(Invite, invite_id)


class InviteRace(Exception):
    """The last use was taken meanwhile: roll the transaction back and refuse."""


async def revoke_invite(session: AsyncSession, *, invite: Invite, actor_id: int | None) -> None:
    invite.revoked = True
    await record(session, actor_id=actor_id, action="invite.revoke", object_type="invite",
                 object_id=invite.id, before={"revoked": False}, after={"revoked": True})
