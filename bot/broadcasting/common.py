"""What the broadcasting screens share: the clock and the refusal."""

from __future__ import annotations

from datetime import datetime

from bot.context import BotContext
from bot.db import utcnow
from bot.i18n import Translate

#: `services.extras[CLOCK_KEY]`: a `() -> datetime` the composer and the scam check's
#: warning count in (quiet hours); tests set it.
CLOCK_KEY = "clock"


def now_of(context: BotContext) -> datetime:
    """The clock (tests may put a fixed `now` in `services.extras[CLOCK_KEY]`)."""
    clock = context.services.extras.get(CLOCK_KEY)
    return clock() if clock is not None else utcnow()


def refusal(_: Translate) -> str:
    return _("Sorry, only community staff can send messages to residents and teams.")
