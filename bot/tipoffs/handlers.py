"""What the tip-offs feature registers, and its timers (rebuilt from the database at start)."""

from __future__ import annotations

import logging
from typing import Any

from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from bot.db import transaction
from bot.tipoffs import callbacks as cb
from bot.tipoffs import intake, rate, service, staff, team

logger = logging.getLogger(__name__)

SCAN_JOB = "tipoff-scan"


def handlers(drafts: intake.DraftIndex) -> list[BaseHandler[Any, Any, Any]]:
    has_draft = drafts.filter()
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("report", intake.report),
        CommandHandler("mytips", intake.my_tips),
        CommandHandler("cancel", intake.cancel, filters=private & has_draft),
        CommandHandler("routing", staff.show_routing),
        CommandHandler("tipblock", staff.block),
        CommandHandler("tipunblock", staff.unblock),
        CommandHandler("reveal", staff.reveal),
        CallbackQueryHandler(intake.on_button, pattern=r"^tr:"),
        CallbackQueryHandler(team.on_card_button, pattern=r"^tp:"),
        CallbackQueryHandler(staff.on_routing_button, pattern=r"^tq:"),
        # A reply to "please reply with a note" (in the team's group or privately).
        MessageHandler(team.REPLIES_TO_PROMPT & filters.UpdateType.MESSAGE, team.on_note),
        # The reporter's satisfaction with a resolved report, and their optional comment.
        CallbackQueryHandler(rate.on_press, pattern=r"^sr:"),
        MessageHandler(rate.REPLIES_TO_COMMENT_PROMPT & filters.UpdateType.MESSAGE,
                       rate.on_comment),
        # Anything else from someone with a draft continues it at its stored step.
        MessageHandler(private & has_draft & filters.UpdateType.MESSAGE & ~filters.COMMAND,
                       intake.on_message),
    ]


async def scan(context: BotContext) -> None:
    """The periodic job: escalations, reminders, stale drafts — all due times from the DB."""
    settings = context.services.settings
    async with transaction(context.services.session_factory) as session:
        result = await service.run_scan(session, now=intake.current_time(context),
                                        config=intake.config(context),
                                        default_language=settings.default_language,
                                        tz=settings.tz)
    if result.escalated or result.reminded or result.drafts_expired:
        intake.wake(context)
        if result.drafts_expired:
            await _reload(context)


async def _reload(context: BotContext) -> None:
    async with context.services.session_factory() as session:
        ids = await service.drafting_telegram_ids(session)
    index: intake.DraftIndex = context.application.bot_data["tipoff_drafts"]
    index.ids = ids


def install(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the handlers, load who has a draft before polling, schedule the scan."""
    drafts = intake.DraftIndex()
    application.bot_data["tipoff_drafts"] = drafts
    application.add_handlers(handlers(drafts))

    async def load_drafts(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        async with app.bot_data["services"].session_factory() as session:
            drafts.ids = await service.drafting_telegram_ids(session)

    application.bot_data["services"].on_start.append(load_drafts)
    if application.job_queue is not None:
        interval = service.TipoffConfig().scan_interval_s
        application.job_queue.run_repeating(scan, interval=interval, first=1.0, name=SCAN_JOB)
    else:  # pragma: no cover - the job-queue extra is a dependency
        logger.warning("No job queue: tip-off escalations will not run")


__all__ = ["SCAN_JOB", "cb", "install", "scan"]
