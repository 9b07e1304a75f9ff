"""The first admin: a console code redeemed once with /setup."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.audit import AuditEntry
from bot.db import transaction, utcnow
from bot.directory.models import Person, Role
from bot.setup.models import SetupCode
from bot.setup.service import AttemptLimiter, issue_setup_code
from tests.factories import make_person
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner, menu

CODE = re.compile(r"/setup ([A-Z0-9]{4}-[A-Z0-9]{4})")


def console_code(capsys: pytest.CaptureFixture[str]) -> str:
    """The code as the console showed it (request `capsys` before `bot` so it sees start-up)."""
    match = CODE.search(capsys.readouterr().out)
    assert match, "no setup code printed"
    return match.group(1)


async def role_of(session_factory, telegram_id: int) -> Role | None:
    async with session_factory() as session:
        person = await session.scalar(select(Person).where(Person.telegram_id == telegram_id))
    return person.role if person else None


async def test_right_code_makes_an_admin_once(
    settings, session_factory, fake: FakeTelegram, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = BotRunner(settings=settings, session_factory=session_factory, fake=fake)
    await runner.start()
    try:
        code = console_code(capsys)
        alice = fake.user("Alice", language_code="en")
        await alice.send(f"/setup {code.lower()}")
        assert alice.last_message.text.startswith("You are now the administrator")
        assert await role_of(session_factory, alice.id) is Role.ADMIN

        bob = fake.user("Bob", language_code="zh-hans")
        await bob.send(f"/setup {code}")
        assert bob.last_message.text == "这个设置码已经用过了，每个设置码只能用一次。"
        assert await role_of(session_factory, bob.id) is not Role.ADMIN

        async with session_factory() as session:
            entries = (await session.scalars(select(AuditEntry))).all()
        assert [e.action for e in entries] == ["setup.admin"]

        await runner.restart()
        assert not CODE.search(capsys.readouterr().out), "an admin exists: no new code"
    finally:
        await runner.stop()


async def test_wrong_code_is_refused(
    capsys: pytest.CaptureFixture[str], bot: BotRunner, fake: FakeTelegram, session_factory
) -> None:
    console_code(capsys)
    alice = fake.user("Alice", language_code="zh-hant")
    await alice.send("/setup AAAA-BBBB")
    assert alice.last_message.text == "設定碼不對，請核對後再試。"
    assert await role_of(session_factory, alice.id) is not Role.ADMIN


async def test_expired_code_is_refused(bot: BotRunner, fake: FakeTelegram, session_factory) -> None:
    async with transaction(session_factory) as session:
        code = await issue_setup_code(session, now=utcnow() - timedelta(hours=25))
    alice = fake.user("Alice", language_code="en")
    await alice.send(f"/setup {code}")
    assert alice.last_message.text == "That code has expired. Restart the bot to get a new one."
    assert await role_of(session_factory, alice.id) is not Role.ADMIN


async def test_attempts_are_rate_limited(
    capsys: pytest.CaptureFixture[str], bot: BotRunner, fake: FakeTelegram, session_factory
) -> None:
    code = console_code(capsys)
    mallory = fake.user("Mallory", language_code="en")
    for guess in range(5):
        await mallory.send(f"/setup AAAA-AAA{guess}")
    await mallory.send(f"/setup {code}")
    assert mallory.last_message.text == "Too many tries. Please wait ten minutes and try again."
    assert await role_of(session_factory, mallory.id) is not Role.ADMIN


async def test_setup_in_a_group_is_refused(
    capsys: pytest.CaptureFixture[str], bot: BotRunner, fake: FakeTelegram
) -> None:
    code = console_code(capsys)
    alice = fake.user("Alice", language_code="en")
    group = fake.group("Committee", members=[alice])
    await fake.add_bot(group, by=alice)
    await alice.send(f"/setup {code}", chat=group)
    # In a group the bot speaks the group's language (the default until staff set one).
    assert group.last_message.text == "为了安全，请在和我的私聊里发送设置码。"


async def test_admin_ids_setting_makes_admins_without_a_code(
    settings, session_factory, fake: FakeTelegram, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = fake.user("Alice", language_code="en")
    runner = BotRunner(settings=settings.model_copy(update={"admin_ids": (alice.id,)}),
                       session_factory=session_factory, fake=fake)
    await runner.start()
    try:
        assert not CODE.search(capsys.readouterr().out)
        await alice.send("/start")
        await alice.press("English")
        assert menu(fake, f"chat:{alice.id}") is not None
    finally:
        await runner.stop()


async def test_a_code_dies_when_admin_ids_are_set_at_restart(
    settings, session_factory, fake: FakeTelegram, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = fake.user("Alice", language_code="en")
    runner = BotRunner(settings=settings, session_factory=session_factory, fake=fake)
    await runner.start()
    try:
        code = console_code(capsys)
        await runner.restart(admin_ids=(alice.id,))
        mallory = fake.user("Mallory", language_code="en")
        await mallory.send(f"/setup {code}")
        assert mallory.last_message.text == ("That code has already been used. "
                                             "Each code works only once.")
        assert await role_of(session_factory, mallory.id) is not Role.ADMIN
    finally:
        await runner.stop()


async def test_a_code_dies_as_soon_as_an_admin_exists(
    capsys: pytest.CaptureFixture[str], bot: BotRunner, fake: FakeTelegram, session_factory
) -> None:
    code = console_code(capsys)
    async with transaction(session_factory) as session:  # e.g. a roster upload made one
        await make_person(session, name="王主任", role=Role.ADMIN, telegram_id=fake.user("Wang").id)
    mallory = fake.user("Mallory", language_code="en")
    await mallory.send(f"/setup {code}")
    assert mallory.last_message.text.startswith("That code has already been used.")
    assert await role_of(session_factory, mallory.id) is not Role.ADMIN


async def test_redeeming_a_code_kills_the_other_instances_code(
    capsys: pytest.CaptureFixture[str], bot: BotRunner, fake: FakeTelegram, session_factory
) -> None:
    first = console_code(capsys)
    # A second instance started at the same moment (on PostgreSQL neither sees the other's
    # code before committing), so two codes are live.
    async with transaction(session_factory) as session:
        second = await issue_setup_code(session, now=utcnow())
        await session.execute(update(SetupCode).values(revoked=False))
    alice = fake.user("Alice", language_code="en")
    await alice.send(f"/setup {second}")
    assert alice.last_message.text.startswith("You are now the administrator")
    mallory = fake.user("Mallory", language_code="en")
    await mallory.send(f"/setup {first}")
    assert mallory.last_message.text.startswith("That code has already been used.")
    assert await role_of(session_factory, mallory.id) is not Role.ADMIN


def test_attempt_limiter_window() -> None:
    limiter = AttemptLimiter(limit=2, window=60)
    assert limiter.allow(1, now=0) and limiter.allow(1, now=1)
    assert not limiter.allow(1, now=2)
    assert limiter.allow(2, now=2), "another person is not affected"
    assert limiter.allow(1, now=61)
