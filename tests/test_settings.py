"""Settings: sensible defaults, and one clear line for each bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.db import create_engine
from bot.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults() -> None:
    settings = load_settings(_env_file=None)
    assert settings.timezone == "Asia/Shanghai"
    assert settings.default_language == "zh-CN"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("data/pingan.db")


def test_admin_ids_as_people_type_them() -> None:
    assert load_settings(admin_ids="123, 456 789", _env_file=None).admin_ids == (123, 456, 789)


def test_api_url_sets_the_file_url_too() -> None:
    settings = load_settings(telegram_api_url="http://127.0.0.1:8081/bot", _env_file=None)
    assert settings.telegram_file_url == "http://127.0.0.1:8081/file/bot"


def test_token_is_secret() -> None:
    settings = load_settings(bot_token="123456:ABCdef_ghi", _env_file=None)
    assert "ABCdef" not in repr(settings) and "ABCdef" not in str(settings.bot_token)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [("timezone", "Mars/Olympus", "TIMEZONE"), ("default_language", "fr", "DEFAULT_LANGUAGE"),
     ("admin_ids", "alice,bob", "ADMIN_IDS"), ("bot_token", "not-a-token", "BOT_TOKEN"),
     ("database_url", "mysql://x", "DATABASE_URL"), ("log_level", "LOUD", "LOG_LEVEL"),
     ("telegram_api_url", "ftp://x", "TELEGRAM_API_URL"),
     ("webhook_secret", "has spaces", "WEBHOOK_SECRET"),
     ("webhook_secret", "a" * 257, "WEBHOOK_SECRET")],
)
def test_a_bad_value_is_named_in_one_line(name: str, value: str, words: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(**{name: value}, _env_file=None)
    message = str(error.value)
    assert message.startswith(f"Setting {words} is wrong:")
    assert "\n" not in message


def _run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "TIMEZONE"}}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_run_without_token_explains_botfather(tmp_path: Path) -> None:
    result = _run_cli("run", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    assert result.returncode == 1
    assert "@BotFather" in result.stderr and ".env" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_with_bad_setting_stops_with_one_line(tmp_path: Path) -> None:
    result = _run_cli("run", TIMEZONE="Nowhere/City", BOT_TOKEN="123456:abcdefgh")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Setting TIMEZONE is wrong: unknown time zone 'Nowhere/City' (try Asia/Shanghai)"
    ]


def test_help_lists_the_commands() -> None:
    result = _run_cli("--help")
    assert result.returncode == 0
    assert "run" in result.stdout and "db" in result.stdout


async def test_db_upgrade_creates_the_tables(database_url: str) -> None:
    result = _run_cli("db", "upgrade", DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    assert {"alembic_version", "people", "bc_delivery"} <= set(tables)


def test_webhook_must_be_https_with_telegram_but_not_with_a_local_server() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(webhook_url="http://bot.example.org/telegram", _env_file=None)
    assert str(error.value).startswith("Setting WEBHOOK_URL is wrong: must start with https://")
    local = load_settings(webhook_url="http://bot.local/telegram", webhook_secret="s3cret",
                          telegram_api_url="http://127.0.0.1:8081/bot", _env_file=None)
    assert local.webhook_url == "http://bot.local/telegram"


def test_webhook_needs_a_secret() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(webhook_url="https://bot.example.org/telegram", _env_file=None)
    message = str(error.value)
    assert message.startswith("Setting WEBHOOK_SECRET is wrong: it is required with WEBHOOK_URL")
    assert "\n" not in message
    settings = load_settings(webhook_url="https://bot.example.org/telegram",
                             webhook_secret="Ab_-09" * 40, _env_file=None)
    assert settings.webhook_secret is not None


def test_settings_left_empty_in_env_file_take_their_defaults(tmp_path: Path) -> None:
    """`.env.example` copied as is, with `WEBHOOK_URL=` and `ADMIN_IDS=` left empty, starts in
    long-polling mode with no fixed administrators instead of refusing the empty values."""
    env_file = tmp_path / ".env"
    env_file.write_text("BOT_TOKEN=123456:ABCdef_ghi\nWEBHOOK_URL=\nWEBHOOK_SECRET=\n"
                        "ADMIN_IDS=\nLOG_LEVEL=\n", encoding="utf-8")
    settings = load_settings(_env_file=env_file)
    assert settings.webhook_url is None and settings.webhook_secret is None
    assert settings.admin_ids == () and settings.log_level == "INFO"


def test_a_proxy_must_be_http_or_socks5() -> None:
    assert load_settings(telegram_proxy="socks5://127.0.0.1:1080",
                         _env_file=None).telegram_proxy == "socks5://127.0.0.1:1080"
    with pytest.raises(SettingsError) as error:
        load_settings(telegram_proxy="127.0.0.1:1080", _env_file=None)
    assert str(error.value).startswith("Setting TELEGRAM_PROXY is wrong: must start with http://")
