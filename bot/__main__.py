"""Command line: `python -m bot run`, `python -m bot db upgrade`, `python -m bot scamcheck`,
`python -m bot broadcast`, `python -m bot alert`, `python -m bot --help`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from bot.settings import Settings, SettingsError, load_settings

NO_TOKEN_HELP = """\
还没有设置 BOT_TOKEN。请在 Telegram 里找 @BotFather，发送 /newbot 按提示起名，
它会给您一串像 123456789:AAE... 的令牌；把它写进项目目录下的 .env 文件：
    BOT_TOKEN=123456789:AAE...
（可参考 .env.example），然后再运行一次。

BOT_TOKEN is not set. In Telegram, open @BotFather, send /newbot and follow the
steps; it gives you a token like 123456789:AAE... Put it in the file .env in the
project folder as BOT_TOKEN=... (see .env.example) and start again."""

TOKEN_REFUSED_HELP = """\
Telegram 不认这个 BOT_TOKEN：请在 @BotFather 里发送 /mybots 核对令牌，改好 .env 后再运行。
Telegram refused BOT_TOKEN: check it with @BotFather (/mybots), fix .env and start again."""

SECOND_INSTANCE_HELP = """\
另一个机器人实例已经在使用这个 SQLite 数据库（{path}）。SQLite 只能运行一个实例；
要运行多个实例，请改用 PostgreSQL（DATABASE_URL=postgresql+asyncpg://…）。
Another instance of the bot is already running on this SQLite database ({path}). With
SQLite run one instance; for several, use PostgreSQL (DATABASE_URL=postgresql+asyncpg://…)."""

# One line each: what happened, where, and what to do.
UNREACHABLE_HELP = (
    "连不上 Telegram，会一直重试 / Cannot reach the Telegram Bot API at {where} ({reason}); "
    "still trying every {every} s. If Telegram is blocked on this network, set TELEGRAM_PROXY "
    "(an http:// or socks5:// proxy).")
WEBHOOK_REFUSED_HELP = (
    "Telegram 拒绝了 WEBHOOK_URL / Telegram refused WEBHOOK_URL {url}: {reason}. It calls only "
    "https:// addresses on ports 443, 80, 88 or 8443; fix WEBHOOK_URL and start again.")

# Loggers that print request URLs (the token), update bodies or SQL parameters (who wrote
# what) below these levels: they stay this quiet even with LOG_LEVEL=DEBUG.
QUIET_LOGGERS = {"httpx": logging.WARNING, "httpcore": logging.WARNING,
                 "aiosqlite": logging.WARNING, "sqlalchemy": logging.WARNING,
                 "apscheduler": logging.WARNING, "telegram": logging.INFO}


class Redact(logging.Filter):
    """Masks secrets in a record's message and traceback before any handler writes it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


def secrets_of(settings: Settings) -> list[str]:
    """The bot token's secret half (the part after the colon) and the webhook secret."""
    values = []
    if settings.bot_token is not None:
        values.append(settings.bot_token.get_secret_value().partition(":")[2])
    if settings.webhook_secret is not None:
        values.append(settings.webhook_secret.get_secret_value())
    return values


def _log_crash(kind: type[BaseException], value: BaseException,
               traceback: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, traceback)
        return
    logging.getLogger("bot").critical("The bot stopped on an error", exc_info=(kind, value,
                                                                              traceback))


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelName(settings.log_level)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact = Redact(secrets_of(settings))
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    sys.excepthook = _log_crash  # a crash's traceback goes through the filter too
    for name, quietest in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, quietest))


#: Seconds between tries while the Bot API cannot be reached (each try waits at most 5 s).
REACH_RETRY_S = 5.0


async def go_online(settings: Settings) -> str | None:
    """Ask Telegram who the bot is (and, in webhook mode, set the webhook) before anything
    else, so a wrong token or a refused webhook is one clear line: returns that line, or
    None when all is well. While Telegram cannot be reached it says so once, with where it
    tried, and keeps trying."""
    from telegram import Bot
    from telegram.error import BadRequest, InvalidToken, TelegramError
    from telegram.request import HTTPXRequest

    assert settings.bot_token is not None
    bot = Bot(settings.bot_token.get_secret_value(), base_url=settings.telegram_api_url,
              base_file_url=settings.telegram_file_url,
              request=HTTPXRequest(proxy=settings.telegram_proxy, connect_timeout=5.0,
                                   read_timeout=5.0))
    said = False
    while True:
        try:
            await bot.initialize()
            break
        except InvalidToken:
            return TOKEN_REFUSED_HELP
        except TelegramError as exc:
            if not said:
                print(UNREACHABLE_HELP.format(where=settings.telegram_where, reason=exc,
                                              every=int(REACH_RETRY_S)),
                      file=sys.stderr, flush=True)
                said = True
            await asyncio.sleep(REACH_RETRY_S)
    if said:
        print(f"已连上 Telegram / reached the Telegram Bot API at {settings.telegram_where}",
              file=sys.stderr, flush=True)
    try:
        if settings.webhook_url:
            assert settings.webhook_secret is not None
            try:
                await bot.set_webhook(settings.webhook_url, allowed_updates=ALLOWED_UPDATES,
                                      secret_token=settings.webhook_secret.get_secret_value())
            except BadRequest as exc:
                return WEBHOOK_REFUSED_HELP.format(url=settings.webhook_url, reason=exc.message)
            except TelegramError:
                pass  # not reached this time: the start-up's own retries take over
    finally:
        await bot.shutdown()
    return None


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


# The same in both modes: Telegram keeps the last list it was given.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "chat_member"]


def listen_address(value: str, setting: str = "WEBHOOK_LISTEN") -> tuple[str, int]:
    """WEBHOOK_LISTEN (or HEALTH_LISTEN) as host and port: `127.0.0.1:8443`, `[::]:8443`,
    `:8443` or `8443`."""
    host, _, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]") or "0.0.0.0"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"Setting {setting} is wrong: {value!r} needs a port, "
                         "like 127.0.0.1:8443")
    return host, int(port)


def run(_: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    if settings.bot_token is None:
        print(NO_TOKEN_HELP, file=sys.stderr)
        return 1
    configure_logging(settings)
    host, port = "", 0
    try:
        if settings.webhook_url:
            host, port = listen_address(settings.webhook_listen)
        if settings.health_listen:
            listen_address(settings.health_listen, setting="HEALTH_LISTEN")
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    from bot.db import file_lock, sqlite_path

    path = sqlite_path(settings.database_url)
    # SQLite has one writer and no shared leases: one instance only, and a second says so.
    lock = (file_lock(path.with_name(path.name + ".lock"), wait=False) if path is not None
            else contextlib.nullcontext(True))
    with lock as alone:
        if not alone:
            print(SECOND_INSTANCE_HELP.format(path=path), file=sys.stderr)
            return 1
        return _serve(settings, host, port)


def _serve(settings: Settings, host: str, port: int) -> int:
    """Migrate, print the setup code (before any network call), go online, then take
    updates until stopped."""
    from telegram.error import InvalidToken

    from bot.app import build_application
    from bot.db import upgrade_database

    upgrade_database(settings.database_url)
    asyncio.run(_announce_setup_code(settings))
    problem = asyncio.run(go_online(settings))
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    application = build_application(settings, setup_code_announced=True)
    try:
        if settings.webhook_url:
            assert settings.webhook_secret is not None  # the settings require one
            application.run_webhook(listen=host, port=port, url_path="telegram",
                                    webhook_url=settings.webhook_url,
                                    secret_token=settings.webhook_secret.get_secret_value(),
                                    allowed_updates=ALLOWED_UPDATES, bootstrap_retries=-1)
        else:
            application.run_polling(bootstrap_retries=-1, allowed_updates=ALLOWED_UPDATES)
    except InvalidToken:  # refused after the check above (revoked meanwhile)
        print(TOKEN_REFUSED_HELP, file=sys.stderr)
        return 1
    return 0


async def _announce_setup_code(settings: Settings) -> None:
    from bot.app import announce_setup_code
    from bot.context import Services
    from bot.db import create_engine, create_session_factory

    engine = create_engine(settings.database_url)
    try:
        await announce_setup_code(Services(settings=settings,
                                           session_factory=create_session_factory(engine)))
    finally:
        await engine.dispose()


def db_upgrade(_: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    configure_logging(settings)
    from bot.db import upgrade_database

    upgrade_database(settings.database_url)
    print("数据库已是最新 / database is up to date")
    return 0


def health(_: argparse.Namespace) -> int:
    """Exit 0 when the database answers, an instance is sending and the outbox moves."""
    settings = _settings_or_exit()
    configure_logging(settings)
    from bot.db import create_engine, create_session_factory
    from bot.health import check

    async def ask() -> bool:
        engine = create_engine(settings.database_url)
        try:
            report = await check(create_session_factory(engine), settings.database_url)
        finally:
            await engine.dispose()
        print("\n".join(report.lines()))
        return report.ok

    return 0 if asyncio.run(ask()) else 1


def db_backup(args: argparse.Namespace) -> int:
    """A consistent copy of a SQLite database while the bot runs (SQLite's online backup)."""
    settings = _settings_or_exit()
    from bot.db import sqlite_path

    source = sqlite_path(settings.database_url)
    if source is None:
        print("PostgreSQL: back up with pg_dump, e.g. pg_dump --format=custom "
              "--file pingan.dump DATABASE (see the README)", file=sys.stderr)
        return 2
    if not source.exists():
        print(f"No database at {source} yet: nothing to back up.", file=sys.stderr)
        return 1
    import sqlite3

    target = Path(args.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(source)) as src, \
            contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    print(f"备份完成 / backed up {source} to {target}")
    return 0


def db_revision(args: argparse.Namespace) -> int:
    """For developers: autogenerate a migration from the models."""
    settings = _settings_or_exit()
    from alembic import command

    from bot.db import alembic_config

    command.revision(alembic_config(settings.database_url), message=args.message,
                     autogenerate=True)
    return 0


def scamcheck(_: argparse.Namespace) -> int:
    """JSON lines `{"text": …}` on standard input, one verdict a line out; no settings needed."""
    from bot.scamcheck.cli import main as check_lines

    return check_lines()


def broadcast(args: argparse.Namespace) -> int:
    """A broadcast or an alert from outside the chat, written to the outbox (see
    bot.broadcasting.cli)."""
    settings = _settings_or_exit()
    configure_logging(settings)
    from bot.broadcasting import cli

    write = cli.alert if args.command == "alert" else cli.broadcast
    return asyncio.run(write(settings, args))


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
    backup = db.add_parser("backup", help="copy the SQLite database to PATH while the bot runs")
    backup.add_argument("path", metavar="PATH")
    backup.set_defaults(func=db_backup)
    commands.add_parser("health", help="check the database, the sender and the outbox "
                        "(exit 0 when well)").set_defaults(func=health)
    revision = db.add_parser("revision", help="autogenerate a migration (developers)")
    revision.add_argument("message")
    revision.set_defaults(func=db_revision)
    commands.add_parser("scamcheck", help='check messages for scam signs: JSON lines {"text": ...} '
                        "in, one verdict a line out").set_defaults(func=scamcheck)
    from bot.broadcasting.cli import add_parsers as add_broadcast

    add_broadcast(commands)
    for name in ("broadcast", "alert"):
        commands.choices[name].set_defaults(func=broadcast)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
