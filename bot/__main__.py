"""Command line: `python -m bot run`, `python -m bot db upgrade`, `python -m bot --help`."""

from __future__ import annotations

import argparse
import logging
import sys

from bot.settings import Settings, SettingsError, load_settings

NO_TOKEN_HELP = """\
还没有设置 BOT_TOKEN。请在 Telegram 里找 @BotFather，发送 /newbot 按提示起名，
它会给您一串像 123456789:AAE... 的令牌；把它写进项目目录下的 .env 文件：
    BOT_TOKEN=123456789:AAE...
（可参考 .env.example），然后再运行一次。

BOT_TOKEN is not set. In Telegram, open @BotFather, send /newbot and follow the
steps; it gives you a token like 123456789:AAE... Put it in the file .env in the
project folder as BOT_TOKEN=... (see .env.example) and start again."""


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL, and the URL carries the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


# The same in both modes: Telegram keeps the last list it was given.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "chat_member"]


def listen_address(value: str) -> tuple[str, int]:
    """WEBHOOK_LISTEN as host and port: `127.0.0.1:8443`, `[::]:8443`, `:8443` or `8443`."""
    host, _, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]") or "0.0.0.0"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"Setting WEBHOOK_LISTEN is wrong: {value!r} needs a port, "
                         "like 127.0.0.1:8443")
    return host, int(port)


def run(_: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    if settings.bot_token is None:
        print(NO_TOKEN_HELP, file=sys.stderr)
        return 1
    configure_logging(settings.log_level)
    from bot.app import build_application
    from bot.db import upgrade_database

    if settings.webhook_url:
        try:
            host, port = listen_address(settings.webhook_listen)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
    upgrade_database(settings.database_url)
    application = build_application(settings)
    if settings.webhook_url:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        application.run_webhook(listen=host, port=port, url_path="telegram",
                                webhook_url=settings.webhook_url, secret_token=secret,
                                allowed_updates=ALLOWED_UPDATES, bootstrap_retries=-1)
    else:
        application.run_polling(bootstrap_retries=-1, allowed_updates=ALLOWED_UPDATES)
    return 0


def db_upgrade(_: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    configure_logging(settings.log_level)
    from bot.db import upgrade_database

    upgrade_database(settings.database_url)
    print("数据库已是最新 / database is up to date")
    return 0


def db_revision(args: argparse.Namespace) -> int:
    """For developers: autogenerate a migration from the models."""
    settings = _settings_or_exit()
    from alembic import command

    from bot.db import alembic_config

    command.revision(alembic_config(settings.database_url), message=args.message,
                     autogenerate=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="平安社区机器人 · the safe-community Telegram bot",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the bot (long polling, or webhook if WEBHOOK_URL is set)"
                        ).set_defaults(func=run)
    db = commands.add_parser("db", help="database tasks").add_subparsers(dest="db_command",
                                                                          required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=db_upgrade)
    revision = db.add_parser("revision", help="autogenerate a migration (developers)")
    revision.add_argument("message")
    revision.set_defaults(func=db_revision)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
