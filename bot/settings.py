"""Settings read from the environment and `.env`, validated once at start-up.

Built in `main()` and passed down; nothing reads the environment at import time.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
LANGUAGES = ("zh-CN", "zh-TW", "en")
TOKEN_PATTERN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{4,100}$")
PROXY_SCHEMES = ("http://", "socks5://")
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class Settings(BaseSettings):
    """Everything a deployment may set. Names match the environment variables."""

    # A setting left empty (`WEBHOOK_URL=` as in .env.example) means its default.
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      env_ignore_empty=True)

    bot_token: SecretStr | None = None
    database_url: str = f"sqlite+aiosqlite:///{DATA_DIR / 'pingan.db'}"
    timezone: str = "Asia/Shanghai"
    default_language: str = "zh-CN"
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    telegram_api_url: str = "https://api.telegram.org/bot"
    # Where Telegram is blocked: every Bot API call (polling and sending) goes through this.
    telegram_proxy: str | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1:8443"
    # Serve GET /healthz here (e.g. 127.0.0.1:8080); empty: no health endpoint.
    health_listen: str | None = None
    log_level: str = "INFO"
    # Tip-off evidence: keep a copy of every photo (with its SHA-256) under MEDIA_DIR.
    media_download: bool = False
    media_dir: Path = DATA_DIR / "media"
    # The monthly figures: sent on the 1st at this local time (TIMEZONE); their charts and
    # workbooks are written under FIGURES_DIR and uploaded from there by the outbox.
    figures_monthly_at: time = time(9, 0)
    figures_dir: Path = DATA_DIR / "figures"
    # PIPL art. 47: evidence and the people who left are kept only as long as needed.
    media_keep_days: int = Field(default=180, ge=1)
    left_keep_days: int = Field(default=180, ge=1)
    # Telegram's flood limits, mirrored by the outbox dispatcher (see FACTS.md).
    rate_overall_per_s: float = Field(default=30.0, gt=0)
    rate_chat_per_s: float = Field(default=1.0, gt=0)
    rate_chat_burst: int = Field(default=3, ge=1)
    rate_group_per_min: float = Field(default=20.0, gt=0)
    # Fraction of the overall and group limits used in any window (room for jitter).
    rate_margin: float = Field(default=0.97, gt=0, le=1)
    # The outbox dispatcher: requests on the wire at once; how long a claimed row stays
    # this sender's before another may take it back; how often the outbox is looked at
    # anyway (empty: 5 s on SQLite, 1 s on PostgreSQL; a broadcast another process
    # commits wakes the sender at once); how often outcomes are written back.
    sender_concurrency: int = Field(default=16, ge=1, le=256)
    sender_lease_s: float = Field(default=60.0, ge=5)
    sender_poll_s: float | None = Field(default=None, gt=0)
    sender_flush_s: float = Field(default=0.05, gt=0, le=5)
    # The scam check's early warning: this many residents of one community asking about
    # the same kind of scam within these hours give the community's staff one suggestion.
    scamcheck_warning_askers: int = Field(default=3, ge=2)
    scamcheck_warning_hours: int = Field(default=24, ge=1, le=168)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not TOKEN_PATTERN.match(value.get_secret_value()):
            raise ValueError("does not look like a token from @BotFather (digits:letters)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (try Asia/Shanghai)") from None
        return value

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
            if not all(p.lstrip("-").isdigit() for p in parts):
                raise ValueError("must be Telegram user ids separated by commas, e.g. 12345,67890")
            return tuple(int(p) for p in parts)
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("telegram_api_url", "webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("telegram_proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(PROXY_SCHEMES):
            raise ValueError("must start with http:// or socks5:// "
                             "(e.g. socks5://127.0.0.1:1080)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET_PATTERN.match(value.get_secret_value()):
            raise ValueError("must be 1-256 of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @model_validator(mode="after")
    def _webhook_over_https(self) -> Settings:
        """Telegram calls webhooks over HTTPS only; a local Bot API server may use HTTP."""
        official = self.telegram_api_url.startswith("https://api.telegram.org/")
        if official and self.webhook_url and not self.webhook_url.startswith("https://"):
            raise ValueError("Setting WEBHOOK_URL is wrong: must start with https:// "
                             "(Telegram calls webhooks over HTTPS only)")
        return self

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        """Without a secret anyone who finds the URL can post updates in anyone's name."""
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("Setting WEBHOOK_SECRET is wrong: it is required with WEBHOOK_URL; "
                             "use 32 random letters, digits, _ and - (python -c \"import secrets; "
                             "print(secrets.token_urlsafe(24))\")")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def telegram_file_url(self) -> str:
        """PTB builds download links from a separate base: `…/bot` becomes `…/file/bot`."""
        base = self.telegram_api_url.rstrip("/")
        root, _, last = base.rpartition("/")
        return f"{root}/file/{last}" if root else f"{base}/file"

    @property
    def telegram_where(self) -> str:
        """Where Bot API calls go, for the console: the server, and the proxy without its
        password."""
        from urllib.parse import urlsplit

        api = urlsplit(self.telegram_api_url)
        where = f"{api.scheme}://{api.netloc}"
        if self.telegram_proxy:
            proxy = urlsplit(self.telegram_proxy)
            where += f" through the proxy {proxy.scheme}://{proxy.hostname}:{proxy.port}"
        return where

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sender_poll_interval(self) -> float:
        """The look that finds what no wake-up announced: on PostgreSQL, where other
        instances run, a notification missed while the listening connection was down."""
        if self.sender_poll_s is not None:
            return self.sender_poll_s
        return 5.0 if self.is_sqlite else 1.0


class SettingsError(Exception):
    """A setting is wrong; the message is one line fit for the console."""


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line per bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            if not error["loc"]:  # a check across settings names its setting itself
                lines.append(message)
                continue
            lines.append(f"Setting {str(error['loc'][0]).upper()} is wrong: {message}")
        raise SettingsError("\n".join(lines)) from None
