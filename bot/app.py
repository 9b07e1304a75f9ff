"""Builds the Application and registers every feature, in an explicit order."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import middleware, persistence, replays, shared_drafts
from bot.alerts import handlers as alert_handlers
from bot.audit import handlers as audit_handlers
from bot.broadcasting import handlers as broadcasting_handlers
from bot.chats import handlers as chats_handlers
from bot.chats.service import follow_migration, mark_removed, set_private_blocked
from bot.commands import publish_shared_menus
from bot.context import BotContext, Services
from bot.db import create_engine, create_session_factory, transaction, utcnow
from bot.directory import handlers as directory_handlers
from bot.figures import handlers as figures_handlers
from bot.leader import Leadership, leader_only
from bot.patrol import handlers as patrol_handlers
from bot.privacy import handlers as privacy_handlers
from bot.privacy import retention
from bot.questions import handlers as question_handlers
from bot.scamcheck import handlers as scamcheck_handlers
from bot.schedules import handlers as schedule_handlers
from bot.sending import AiohttpRequest, SharedRateLimiter, TelegramSender
from bot.settings import Settings
from bot.setup import handlers as setup_handlers
from bot.setup.service import admin_exists, issue_setup_code, revoke_setup_codes
from bot.start import free_text
from bot.start import handlers as start_handlers
from bot.tipoffs import handlers as tipoff_handlers
from broadcasts import Dispatcher, Limiter, Limits

logger = logging.getLogger(__name__)

BotApplication = Application[Any, BotContext, Any, Any, Any, Any]


def build_application(
    settings: Settings,
    *,
    session_factory: async_sessionmaker[AsyncSession] | None = None,
    setup_code_announced: bool = False,
) -> BotApplication:
    """The whole bot, wired to the Bot API at `settings.telegram_api_url`."""
    if settings.bot_token is None:
        raise ValueError("BOT_TOKEN is required to build the application")
    owns_engine = session_factory is None
    if session_factory is None:
        session_factory = create_session_factory(create_engine(settings.database_url))
    services = Services(settings=settings, session_factory=session_factory)
    # One budget for the whole bot: direct replies and the outbox dispatcher share it.
    limiter = Limiter(Limits(overall_per_s=settings.rate_overall_per_s,
                             chat_per_s=settings.rate_chat_per_s,
                             chat_burst=settings.rate_chat_burst,
                             group_per_min=settings.rate_group_per_min,
                             margin=settings.rate_margin),
                      start_spent=True)

    async def elected() -> None:
        """This instance became the sender: start the outbox dispatcher."""
        services.dispatcher = Dispatcher(
            session_factory, TelegramSender(application.bot), limiter,
            concurrency=settings.sender_concurrency,
            lease=settings.sender_lease_s,
            poll_interval=settings.sender_poll_interval,
            flush_interval=settings.sender_flush_s,
            on_unreachable=lambda chat_id, reason: chat_unreachable(services, chat_id),
            on_migrated=lambda old, new: chat_migrated(services, old, new),
            # Elected: the leadership lock (or SQLite's single instance) means no other
            # sender is alive, so rows left in flight come back at once.
            sole_sender=True,
            # The command line and other instances write broadcasts too.
            watch_others=True,
        )
        await services.dispatcher.start()

    async def deposed(drain: bool) -> None:
        dispatcher, services.dispatcher = services.dispatcher, None
        if dispatcher is None:
            return
        try:
            await dispatcher.stop(drain=drain)
        except Exception:  # the database went away: the leases bring the rows back
            logger.exception("The dispatcher could not write its last outcomes")
            await dispatcher.kill()

    def census(is_leader: bool, instances: int) -> None:
        """Several instances share Telegram's budget for the bot: each other instance keeps
        a small share for its direct replies, the sender has the rest."""
        share = settings.rate_overall_per_s * REPLY_SHARE
        limiter.set_overall(settings.rate_overall_per_s - share * (instances - 1) if is_leader
                            else share)

    leadership = Leadership(session_factory.kw["bind"], on_elected=elected, on_deposed=deposed,
                            on_census=census)
    services.extras[LEADERSHIP_KEY] = leadership
    services.extras[LIMITER_KEY] = limiter

    async def post_init(application: BotApplication) -> None:
        application.bot_data["services"] = services
        if not setup_code_announced:  # `python -m bot run` prints it before going online
            await announce_setup_code(services)
        try:
            await publish_shared_menus(application.bot, settings.default_language)
        except TelegramError as exc:
            logger.warning("Could not publish the command menus: %s", exc)
        await leadership.start()
        for start_feature in services.on_start:
            await start_feature(application)
        if application.job_queue is not None:
            leader_only(application.job_queue, sender_jobs(), leadership)
        if settings.health_listen:
            from bot.__main__ import listen_address
            from bot.health import serve

            host, port = listen_address(settings.health_listen, setting="HEALTH_LISTEN")
            services.extras[HEALTH_KEY] = await serve(host, port, session_factory,
                                                      settings.database_url, leadership)

    async def post_stop(application: BotApplication) -> None:
        await leadership.stop()

    async def post_shutdown(application: BotApplication) -> None:
        # Also when the start never completed (PTB calls post_stop only after a start):
        # no dispatcher task is left behind to be destroyed pending.
        await leadership.stop()
        if (health := services.extras.pop(HEALTH_KEY, None)) is not None:
            await health.cleanup()
        if owns_engine:
            await session_factory.kw["bind"].dispose()

    # Conversations and user_data in the database: any instance takes a person's next message.
    builder = (ApplicationBuilder()
               .persistence(persistence.DatabasePersistence(
                   session_factory, shared=not settings.is_sqlite,
                   memory_only=frozenset({scamcheck_handlers.ASKED_KEY})))
               .concurrent_updates(persistence.PersistingUpdateProcessor()))
    if settings.telegram_proxy:  # long polling's own transport goes through it too
        builder = builder.get_updates_proxy(settings.telegram_proxy)
    application: BotApplication = (
        builder
        .token(settings.bot_token.get_secret_value())
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_file_url)
        .context_types(ContextTypes(context=BotContext))
        .defaults(Defaults(tzinfo=settings.tz))
        .rate_limiter(SharedRateLimiter(limiter))
        # Sends go over aiohttp (a third of httpx's CPU per call); long polling stays on
        # PTB's default transport.
        .request(AiohttpRequest(connection_pool_size=64, proxy=settings.telegram_proxy))
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data["services"] = services
    register_handlers(application)
    return application


#: `services.extras` key of the instance's `Leadership` (health reads it).
LEADERSHIP_KEY = "leadership"
#: `services.extras` key of the /healthz server, when HEALTH_LISTEN is set.
HEALTH_KEY = "health"
#: `services.extras` key of the instance's send budget (`broadcasts.Limiter`).
LIMITER_KEY = "limiter"
#: With several instances, the part of the bot's overall rate each one that is not the
#: sender keeps for its direct replies (1 message/s at Telegram's 30/s).
REPLY_SHARE = 1 / 30


def sender_jobs() -> list[str]:
    """The repeating jobs only the sender runs: the scans that write to the outbox."""
    from bot.schedules.jobs import TICK_JOB

    return [alert_handlers.SCAN_JOB, tipoff_handlers.SCAN_JOB, TICK_JOB,
            patrol_handlers.SCAN_JOB, retention.JOB, figures_handlers.MONTHLY_JOB]


def register_handlers(application: BotApplication) -> None:
    """Order matters: cross-cutting checks first (lower groups), then the features."""
    replays.install(application)  # -100: an update id seen before is dropped
    # -50: with several instances, who has a draft is read from the database.
    settings: Settings = application.bot_data["services"].settings
    shared_drafts.install(application, shared=not settings.is_sqlite)
    # -2: ignore other bots; -1: load who is acting, once per update.
    application.add_handler(TypeHandler(Update, middleware.ignore_other_bots), group=-2)
    application.add_handler(TypeHandler(Update, middleware.load_actor_for_update), group=-1)
    # 0: the features.
    # A patrol post's QR sign opens `/start post_<token>`: it must come before /start.
    application.add_handler(patrol_handlers.deep_link())
    # chats before start: its group-only /language must win over the private one.
    for feature in (setup_handlers, chats_handlers, start_handlers, directory_handlers,
                    broadcasting_handlers, figures_handlers, question_handlers,
                    privacy_handlers, audit_handlers):
        application.add_handlers(feature.handlers())
    tipoff_handlers.install(application)  # tip-offs: handlers, draft index, escalation job
    alert_handlers.install(application)  # alerts: /alert, acknowledge, status, re-notify scan
    schedule_handlers.install(application)  # schedules, campaigns; runner starts in post_init
    patrol_handlers.install(application)  # patrol: posts, duty, sign-in, evening; timer scan
    figures_handlers.schedule(application)  # figures: the monthly report's timer
    retention.install(application)  # PIPL: the daily job deleting old media, people who left
    # After every conversation and draft, before the free-text fallback: a forwarded message
    # or pasted text that looks like a scam gets the scam check's answer.
    scamcheck_handlers.install(application)
    # Last in group 0, so it runs only when no feature took the message: useful choices
    # (or a pointer to /help) instead of silence.
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE,
                       free_text.answer)
    )
    application.add_error_handler(middleware.report_error)
    # -60: with several instances, the person's conversations are read from the database.
    persistence.install(application)


async def announce_setup_code(services: Services) -> None:
    """With no admin yet, print a fresh one-time code for /setup to the console; once there
    is one (in ADMIN_IDS or the database), codes printed before stop working."""
    async with transaction(services.session_factory) as session:
        if services.settings.admin_ids or await admin_exists(session):
            await revoke_setup_codes(session)
            return
        code = await issue_setup_code(session, now=utcnow())
    print(
        f"\n  No administrator yet. In a private chat with the bot, send:\n\n"
        f"      /setup {code}\n\n"
        f"  The code works once and expires in 24 hours.\n",
        flush=True,
    )


async def chat_unreachable(services: Services, chat_id: int) -> None:
    """The dispatcher got a 403 (blocked, kicked): the directory stops counting that chat."""
    async with transaction(services.session_factory) as session:
        if chat_id > 0:
            await set_private_blocked(session, telegram_id=chat_id, blocked=True)
        else:
            await mark_removed(session, telegram_chat_id=chat_id)


async def chat_migrated(services: Services, old_chat_id: int, new_chat_id: int) -> None:
    """The dispatcher learnt a group became a supergroup: keep its link under the new id."""
    async with transaction(services.session_factory) as session:
        await follow_migration(session, old_chat_id=old_chat_id, new_chat_id=new_chat_id)
