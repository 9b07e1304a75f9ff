"""What the log may hold: never a reporter tied to a report, even when the database fails."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import text

from bot.__main__ import Redact, secrets_of
from bot.db import transaction
from bot.settings import load_settings
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.tipoff_support import patrol_scene, report


async def test_a_database_error_logs_no_report_values(
    bot: BotRunner, fake: FakeTelegram, session_factory, caplog: pytest.LogCaptureFixture
) -> None:
    scene = await patrol_scene(fake, session_factory)
    async with transaction(session_factory) as session:  # the disk "fills up" for reports
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text(
                "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'database or disk is full'; END $$"))
            await session.execute(text("CREATE TRIGGER full_disk BEFORE INSERT ON tipoffs "
                                       "FOR EACH ROW EXECUTE FUNCTION full_disk()"))
        else:
            await session.execute(text(
                "CREATE TRIGGER full_disk BEFORE INSERT ON tipoffs "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"))
    alice = fake.user("Alice Reporter", language_code="zh-hans")
    caplog.set_level(logging.INFO, logger="bot")
    await report(alice, anonymous=True, album=0, text="3号楼有人撬锁 Building7")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and "database or disk is full" in caplog.text, caplog.text  # it did fail
    assert alice.last_callback_answer.text == "抱歉，我这边出了点问题，请稍后再试一次。"
    for value in ("Building7", "31.2304", "121.4737", "Alice"):
        assert value not in caplog.text, f"{value!r} reached the log:\n{caplog.text}"
    assert scene.group.messages == []


def test_secrets_are_masked_in_messages_and_tracebacks() -> None:
    settings = load_settings(bot_token="123456789:AAE-secret_part", webhook_secret="hook-secret",
                             _env_file=None)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(Redact(secrets_of(settings)))
    logger = logging.getLogger("tests.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("GET %s", "https://api.telegram.org/bot123456789:AAE-secret_part/getMe")
        try:
            raise RuntimeError("The token `123456789:AAE-secret_part` with hook-secret")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    written = out.getvalue()
    assert "bot123456789:***/getMe" in written and "RuntimeError" in written
    assert "AAE-secret_part" not in written and "hook-secret" not in written
