"""Issue and redeem the one-time setup code. No Telegram here."""

from __future__ import annotations

import enum
import hashlib
import secrets
import time
from collections import defaultdict, deque
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit import record
from bot.directory.models import Person, Role
from bot.directory.people import TelegramIdentity, register_person
from bot.setup.models import SetupCode

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: it is read off a console
CODE_LIFETIME = timedelta(hours=24)


class Redemption(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    USED = "used"
    EXPIRED = "expired"


def _hash(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def format_code(raw: str) -> str:
    return f"{raw[:4]}-{raw[4:]}"


async def admin_exists(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(exists().where(Person.role == Role.ADMIN))))


async def revoke_setup_codes(session: AsyncSession) -> None:
    """Every unused code stops working."""
    await session.execute(
        update(SetupCode).where(SetupCode.used_at.is_(None)).values(revoked=True)
    )


async def issue_setup_code(session: AsyncSession, *, now: datetime) -> str:
    """A fresh code; earlier unused ones stop working, so only the latest console line counts."""
    await revoke_setup_codes(session)
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    session.add(SetupCode(code_hash=_hash(raw), created_at=now, expires_at=now + CODE_LIFETIME))
    return format_code(raw)


async def redeem_setup_code(
    session: AsyncSession, *, identity: TelegramIdentity, code: str, now: datetime
) -> Redemption:
    """Make the redeemer an admin if the code is right, unused and fresh, and nobody is
    admin yet; then no other code works (two instances may each have printed one)."""
    setup_code = await session.scalar(select(SetupCode).where(SetupCode.code_hash == _hash(code)))
    if setup_code is None:
        return Redemption.WRONG
    if setup_code.used_at is not None or setup_code.revoked:
        return Redemption.USED
    if setup_code.expires_at <= now:
        return Redemption.EXPIRED
    if await admin_exists(session):
        await revoke_setup_codes(session)
        return Redemption.USED
    person = await register_person(session, identity=identity)
    before = {"role": person.role.value}
    person.role = Role.ADMIN
    setup_code.used_at = now
    setup_code.used_by_id = person.id
    await session.flush()
    await revoke_setup_codes(session)
    await record(session, actor_id=person.id, action="setup.admin", object_type="person",
                 object_id=person.id, before=before, after={"role": Role.ADMIN.value})
    return Redemption.OK


class AttemptLimiter:
    """At most `limit` attempts per person in `window` seconds; guessing a code takes forever."""

    def __init__(self, limit: int = 5, window: float = 600.0) -> None:
        self.limit = limit
        self.window = window
        self._attempts: dict[int, deque[float]] = defaultdict(deque)

    def allow(self, key: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        attempts = self._attempts[key]
        while attempts and attempts[0] <= now - self.window:
            attempts.popleft()
        if len(attempts) >= self.limit:
            return False
        attempts.append(now)
        return True



