"""People as Telegram sees them: find, register, load the acting person. No Telegram import."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit import record
from bot.auth import Actor
from bot.db import utcnow
from bot.directory.areas import subtree
from bot.directory.models import (
    Area,
    Membership,
    PastMembership,
    Person,
    PersonStatus,
    Role,
    Subscription,
    SubscriptionTopic,
    Team,
)
from bot.i18n import normalize_language


@dataclass(frozen=True)
class TelegramIdentity:
    """The parts of a Telegram user the directory keeps."""

    telegram_id: int
    name: str
    username: str | None = None
    language_code: str | None = None


async def find_person(session: AsyncSession, *, telegram_id: int) -> Person | None:
    return await session.scalar(select(Person).where(Person.telegram_id == telegram_id))


async def register_person(session: AsyncSession, *, identity: TelegramIdentity) -> Person:
    """Find or create the person behind a Telegram account (a stranger becomes a resident)."""
    person = await find_person(session, telegram_id=identity.telegram_id)
    if person is None:
        person = Person(telegram_id=identity.telegram_id, name=identity.name,
                        username=identity.username, telegram_language=identity.language_code,
                        role=Role.RESIDENT, status=PersonStatus.ACTIVE)
        session.add(person)
        await session.flush()
    elif person.status is PersonStatus.LEFT:
        await _come_back(session, person=person)
    return person


async def _come_back(session: AsyncSession, *, person: Person) -> None:
    """Someone who left returns as a plain resident who chooses their home again.

    Their old teams stay in `past_memberships`; their old role and area are in the audit log."""
    before = {"status": person.status.value, "role": person.role.value,
              "area_id": person.area_id}
    person.status = PersonStatus.ACTIVE
    person.left_at = None
    person.role = Role.RESIDENT
    person.unconfirmed_role = None
    person.area_id = None
    await session.flush()
    await record(session, actor_id=person.id, action="person.return", object_type="person",
                 object_id=person.id, before=before,
                 after={"status": PersonStatus.ACTIVE.value, "role": Role.RESIDENT.value,
                        "area_id": None})


async def load_actor(
    session: AsyncSession, *, identity: TelegramIdentity, default_language: str,
    admin_ids: tuple[int, ...] = (),
) -> Actor:
    """The acting person for one update: one read, no write."""
    row = (await session.execute(
        select(Person, Area.path).outerjoin(Area, Area.id == Person.area_id)
        .where(Person.telegram_id == identity.telegram_id)
    )).first()
    telegram_language = normalize_language(identity.language_code, default_language)
    if row is None:
        role = Role.ADMIN if identity.telegram_id in admin_ids else None
        return Actor(telegram_id=identity.telegram_id, name=identity.name,
                     language=telegram_language, role=role)
    person, area_path = row
    memberships = (await session.execute(
        select(Membership.team_id, Membership.is_leader).where(Membership.person_id == person.id)
    )).all()
    role = Role.ADMIN if identity.telegram_id in admin_ids else person.role
    if person.status is PersonStatus.LEFT and role is not Role.ADMIN:
        # Someone who left keeps their rows but none of their standing, teams included.
        role = None
        memberships = []
    return Actor(
        telegram_id=identity.telegram_id,
        name=person.name,
        language=person.language or telegram_language,
        person_id=person.id,
        role=role,
        area_path=area_path,
        team_ids=frozenset(m.team_id for m in memberships),
        led_team_ids=frozenset(m.team_id for m in memberships if m.is_leader),
    )


async def set_language(
    session: AsyncSession, *, identity: TelegramIdentity, language: str
) -> Person:
    person = await register_person(session, identity=identity)
    person.language = language
    return person


# -- what a person sees of themselves, leaving, finding people ------------------------

@dataclass(frozen=True)
class Profile:
    name: str
    role: Role
    status: PersonStatus
    phone: str | None
    language: str | None
    area_path: str | None
    teams: list[tuple[str, bool]] = field(default_factory=list)  # (team name, is leader)
    topics: set[SubscriptionTopic] = field(default_factory=set)


async def profile(session: AsyncSession, *, person_id: int) -> Profile | None:
    row = (await session.execute(
        select(Person, Area.path).outerjoin(Area, Area.id == Person.area_id)
        .where(Person.id == person_id)
    )).first()
    if row is None:
        return None
    person, area_path = row
    teams = (await session.execute(
        select(Team.name, Membership.is_leader).join(Membership, Membership.team_id == Team.id)
        .where(Membership.person_id == person_id, Team.archived.is_(False)).order_by(Team.name)
    )).all()
    topics = set(await session.scalars(
        select(Subscription.topic).where(Subscription.person_id == person_id)))
    return Profile(name=person.name, role=person.role, status=person.status, phone=person.phone,
                   language=person.language, area_path=area_path, teams=list(teams),
                   topics=topics)


async def leave(session: AsyncSession, *, person_id: int) -> bool:
    """Stop everything for this person: unsubscribe, leave every team, status LEFT.

    Their person row stays; their memberships move to `past_memberships` (history)."""
    person = await session.get(Person, person_id)
    if person is None or person.status is PersonStatus.LEFT:
        return False
    before = {"status": person.status.value}
    topics = sorted(await session.scalars(
        select(Subscription.topic).where(Subscription.person_id == person_id)))
    await session.execute(delete(Subscription).where(Subscription.person_id == person_id))
    now = utcnow()
    teams = await end_memberships(session, person_id=person_id, now=now)
    person.status = PersonStatus.LEFT
    person.left_at = now
    await record(session, actor_id=person_id, action="person.leave", object_type="person",
                 object_id=person_id, before={**before, "topics": topics, "teams": teams},
                 after={"status": PersonStatus.LEFT.value, "topics": [], "teams": []})
    return True


async def end_memberships(
    session: AsyncSession, *, person_id: int, now: datetime
) -> list[dict[str, Any]]:
    """Move the person's memberships into history; returns what they were (for the audit)."""
    current = list(await session.scalars(
        select(Membership).where(Membership.person_id == person_id).order_by(Membership.team_id)))
    session.add_all(PastMembership(person_id=person_id, team_id=m.team_id, is_leader=m.is_leader,
                                   joined_at=m.created_at, left_at=now) for m in current)
    for membership in current:
        await session.delete(membership)
    await session.flush()
    return [{"team_id": m.team_id, "is_leader": m.is_leader} for m in current]


@dataclass(frozen=True)
class PersonSummary:
    id: int
    name: str
    phone: str | None
    role: Role
    status: PersonStatus
    area_path: str | None


def _in_scope(scope_path: str) -> ColumnElement[bool]:
    """People whose home area, or one of whose teams, lies under `scope_path`."""
    team_area = Area.__table__.alias("team_area")
    in_team = (
        select(Membership.person_id).join(Team, Team.id == Membership.team_id)
        .join(team_area, team_area.c.id == Team.area_id)
        .where(subtree(team_area.c.path, scope_path))
    )
    return or_(subtree(Area.path, scope_path), Person.id.in_(in_team))


#: Digits of a Chinese mobile number: typing fewer looks nothing up when partial numbers
#: must not (`search_people(partial_phone=False)`).
WHOLE_PHONE_DIGITS = 11


def mask_phone(phone: str | None) -> str:
    """`+8613987654321` → `+86139****4321`: enough to tell two namesakes apart."""
    if not phone:
        return ""
    return phone[:-8] + "****" + phone[-4:] if len(phone) > 8 else "****"


async def search_people(
    session: AsyncSession, *, query: str, scope_path: str, limit: int = 20,
    partial_phone: bool = True,
) -> list[PersonSummary]:
    """By part of the name or the phone number, within the scope. Without `partial_phone`
    (someone who may not browse phones) only the whole number finds a person by phone."""
    query = query.strip()
    digits = "".join(ch for ch in query if ch.isdigit())
    condition = Person.name.contains(query, autoescape=True)
    if len(digits) >= (3 if partial_phone else WHOLE_PHONE_DIGITS):
        condition = or_(condition, Person.phone.contains(digits, autoescape=True))
    rows = (await session.execute(
        select(Person, Area.path).outerjoin(Area, Area.id == Person.area_id)
        .where(condition, _in_scope(scope_path)).order_by(Person.name, Person.id).limit(limit)
    )).all()
    return [PersonSummary(p.id, p.name, p.phone, p.role, p.status, path) for p, path in rows]


async def person_in_scope(session: AsyncSession, *, person_id: int, scope_path: str) -> bool:
    found = await session.scalar(
        select(Person.id).outerjoin(Area, Area.id == Person.area_id)
        .where(Person.id == person_id, _in_scope(scope_path))
    )
    return found is not None


async def match_by_phone(
    session: AsyncSession, *, identity: TelegramIdentity, phone: str
) -> Person | None:
    """Join a pending roster entry with this phone to the Telegram account that shared it.

    The caller has checked that the contact is the sender's own. If the account already
    has a person (from /start), the roster entry's teams, role and area move onto it.
    """
    pending = await session.scalar(
        select(Person).where(Person.phone == phone, Person.status == PersonStatus.PENDING,
                             Person.telegram_id.is_(None)).order_by(Person.id).limit(1)
    )
    if pending is None:
        return None
    return await _claim(session, pending=pending, identity=identity, phone=phone,
                        action="person.match_phone", proven=True)


async def match_by_username(
    session: AsyncSession, *, identity: TelegramIdentity
) -> Person | None:
    """Join a pending roster entry listed by Telegram username (any case) to this account.

    Anyone may register a username nobody holds yet, so it proves nothing: the account
    joins the entry's teams as a member, and a staff role or leadership on the entry waits
    for a staff member's confirmation (or the person's own phone, shared)."""
    username = (identity.username or "").lstrip("@").lower()
    if not username:
        return None
    pending = await session.scalar(
        select(Person).where(func.lower(Person.username) == username,
                             Person.status == PersonStatus.PENDING,
                             Person.telegram_id.is_(None)).order_by(Person.id).limit(1)
    )
    if pending is None:
        return None
    return await _claim(session, pending=pending, identity=identity, phone=pending.phone,
                        action="person.match_username", proven=False)


RANK = {Role.RESIDENT: 0, Role.MEMBER: 1, Role.STAFF: 2, Role.ADMIN: 3}


async def _withhold(session: AsyncSession, *, person: Person) -> None:
    """Set aside what the entry gives beyond team membership (a staff role, leadership)
    until it is confirmed."""
    if RANK[person.role] > RANK[Role.MEMBER]:
        person.unconfirmed_role = person.role
        person.role = Role.MEMBER
    for membership in await session.scalars(select(Membership).where(
            Membership.person_id == person.id, Membership.is_leader.is_(True))):
        membership.is_leader = False
        membership.unconfirmed_leader = True
    await session.flush()


async def _claim(
    session: AsyncSession, *, pending: Person, identity: TelegramIdentity, phone: str | None,
    action: str, proven: bool,
) -> Person:
    """The pending entry becomes this account's person, or merges into the one it has.

    Unless the match is `proven` (the person's own phone), privileges wait (`_withhold`)."""
    if not proven:
        await _withhold(session, person=pending)
    waiting = {"unconfirmed_role": pending.unconfirmed_role and pending.unconfirmed_role.value}
    existing = await find_person(session, telegram_id=identity.telegram_id)
    if existing is None:
        pending.telegram_id = identity.telegram_id
        pending.username = identity.username or pending.username
        pending.telegram_language = identity.language_code
        pending.status = PersonStatus.ACTIVE
        await session.flush()
        await record(session, actor_id=pending.id, action=action,
                     object_type="person", object_id=pending.id,
                     before={"status": PersonStatus.PENDING.value},
                     after={"status": PersonStatus.ACTIVE.value, "phone": phone,
                            "username": pending.username, "role": pending.role.value,
                            **waiting})
        return pending
    before = {"role": existing.role.value, "area_id": existing.area_id, "phone": existing.phone}
    if RANK[pending.role] > RANK[existing.role]:
        existing.role = pending.role
    if (pending.unconfirmed_role is not None
            and RANK[pending.unconfirmed_role] > RANK[existing.role]):
        existing.unconfirmed_role = pending.unconfirmed_role
    if pending.area_id is not None and (existing.area_id is None or pending.role is Role.STAFF):
        existing.area_id = pending.area_id
    existing.phone = phone or existing.phone
    existing.status = PersonStatus.ACTIVE
    mine = set(await session.scalars(
        select(Membership.team_id).where(Membership.person_id == existing.id)))
    for membership in list(await session.scalars(
            select(Membership).where(Membership.person_id == pending.id))):
        if membership.team_id in mine:
            await session.delete(membership)
        else:
            membership.person_id = existing.id
    await session.flush()
    await record(session, actor_id=existing.id, action=action,
                 object_type="person", object_id=existing.id, before=before,
                 after={"role": existing.role.value, "area_id": existing.area_id,
                        "phone": existing.phone, "merged_person_id": pending.id, **waiting})
    await session.delete(pending)
    await session.flush()
    return existing


# -- roles that wait for confirmation -------------------------------------------------

@dataclass(frozen=True)
class AwaitingConfirmation:
    """Someone matched to a roster entry by username whose role on it waits for staff."""

    person_id: int
    name: str
    username: str | None
    role: Role | None  # the role to confirm, if any
    area_path: str | None  # where that role applies: the person's area
    lead_teams: list[tuple[str, str]]  # (team name, zone path) they would lead

    @property
    def paths(self) -> list[str]:
        """The areas a staff member must manage to confirm all of it (no area: admins)."""
        return ([self.area_path or "/"] if self.role is not None else []) + [
            path for _name, path in self.lead_teams]


async def awaiting_confirmation(
    session: AsyncSession, *, scope_path: str, person_ids: list[int] | None = None,
    limit: int = 20,
) -> list[AwaitingConfirmation]:
    """People in the scope with a role or leadership waiting (optionally among `person_ids`)."""
    leads = select(Membership.person_id).where(Membership.unconfirmed_leader.is_(True))
    query = (select(Person, Area.path).outerjoin(Area, Area.id == Person.area_id)
             .where(or_(Person.unconfirmed_role.is_not(None), Person.id.in_(leads)),
                    Person.status == PersonStatus.ACTIVE, _in_scope(scope_path))
             .order_by(Person.name, Person.id).limit(limit))
    if person_ids is not None:
        query = query.where(Person.id.in_(person_ids))
    found = []
    for person, area_path in (await session.execute(query)).all():
        teams = (await session.execute(
            select(Team.name, Area.path).join(Membership, Membership.team_id == Team.id)
            .join(Area, Area.id == Team.area_id)
            .where(Membership.person_id == person.id, Membership.unconfirmed_leader.is_(True))
            .order_by(Team.name))).all()
        found.append(AwaitingConfirmation(person.id, person.name, person.username,
                                          person.unconfirmed_role, area_path,
                                          [(name, path) for name, path in teams]))
    return found


async def settle_confirmation(
    session: AsyncSession, *, person_id: int, confirm: bool, actor_id: int | None,
    reason: str,
) -> bool:
    """Give (confirm) or drop what waits for this person, audited; False if nothing waits.

    The caller has checked that the actor may (`AwaitingConfirmation.paths`)."""
    person = await session.get(Person, person_id)
    leads = list(await session.scalars(select(Membership).where(
        Membership.person_id == person_id, Membership.unconfirmed_leader.is_(True))))
    if person is None or (person.unconfirmed_role is None and not leads):
        return False
    before = {"role": person.role.value,
              "unconfirmed_role": person.unconfirmed_role and person.unconfirmed_role.value,
              "unconfirmed_leader_team_ids": [m.team_id for m in leads]}
    if (confirm and person.unconfirmed_role is not None
            and RANK[person.unconfirmed_role] > RANK[person.role]):
        person.role = person.unconfirmed_role
    person.unconfirmed_role = None
    for membership in leads:
        membership.is_leader = membership.is_leader or confirm
        membership.unconfirmed_leader = False
    await session.flush()
    await record(session, actor_id=actor_id,
                 action="person.confirm_role" if confirm else "person.decline_role",
                 object_type="person", object_id=person_id, before=before,
                 after={"role": person.role.value,
                        "leader_team_ids": [m.team_id for m in leads if m.is_leader]},
                 reason=reason)
    return True


async def confirm_by_own_phone(
    session: AsyncSession, *, telegram_id: int, phone: str
) -> Person | None:
    """The person shared their own phone and it is the one on their roster entry: proof
    enough to give what waited. None when nothing waited or the numbers differ."""
    person = await find_person(session, telegram_id=telegram_id)
    if person is None or person.phone != phone:
        return None
    confirmed = await settle_confirmation(session, person_id=person.id, confirm=True,
                                          actor_id=person.id, reason="own phone shared")
    return person if confirmed else None
