"""People as Telegram sees them: find, register, load the acting person. No Telegram import."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth import Actor
from bot.directory.models import Area, Membership, Person, PersonStatus, Role
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
        person.status = PersonStatus.ACTIVE
    return person


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
        role = None
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
