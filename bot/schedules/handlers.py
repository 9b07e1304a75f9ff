"""/schedules, /schedule and /campaigns: staff manage recurring and one-off broadcasts.

The wiring only; the screens live in `compose` (/schedule and the trigger steps that
/broadcast enters too), `manage` (/schedules and each schedule's card) and `campaigns`.
Thin: parse, ask `bot.auth.can` (through `service.load_for` / `load_campaign_for`, which
also check the area scope) on every command and every press, call the service, render.
A refusal says so plainly and changes nothing; a forged or stale button gets a polite
"no longer valid".
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler

from bot.schedules import campaigns, compose, manage
from bot.schedules.compose import ScheduleStep
from bot.schedules.jobs import start_schedules


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        # "Change time" and "Change text" on a card continue in the composer's steps.
        compose.conversation(CallbackQueryHandler(manage.on_schedule_button,
                                                  pattern=r"^sch:[tx]:")),
        CallbackQueryHandler(compose.stale_compose, pattern=r"^scn:"),
        CallbackQueryHandler(manage.on_schedule_button, pattern=r"^sch:"),
        CallbackQueryHandler(campaigns.on_campaign_button, pattern=r"^cmp:"),
        CommandHandler("schedules", manage.list_command),
        CommandHandler("campaigns", campaigns.campaigns_command),
    ]


def install(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the handlers, and start the runner after the application's own post_init
    (so the dispatcher it wakes exists)."""
    application.add_handlers(handlers())
    application.bot_data["services"].on_start.append(start_schedules)


__all__ = ["ScheduleStep", "handlers", "install", "start_schedules"]
