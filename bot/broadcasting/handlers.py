"""/broadcast (compose and send or schedule), /broadcasts (reports, stop what is pending),
/quiethours — the wiring; the screens live in `composer`, `lists` and `quiet`.

Every command and every button press asks `bot.auth.can` again, and the audience is
checked with `may_target` before anything is written; a press from an old or another
draft, or forged data, gets a polite "no longer valid" and changes nothing.
"""

from __future__ import annotations

from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.broadcasting import composer, lists, quiet


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [
        composer.conversation(),
        CallbackQueryHandler(composer.stale, pattern=r"^bc:"),
        CallbackQueryHandler(lists.list_pressed, pattern=r"^bcl:"),
        CommandHandler("broadcasts", lists.list_command),
        CommandHandler("quiethours", quiet.quiet_hours_command),
    ]
