"""The buttons under a check's answer."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translate
from bot.scamcheck import callbacks as cb


def answer_buttons(_: Translate, *, tip_id: str | None, can_tell: bool
                   ) -> InlineKeyboardMarkup | None:
    """“Tell the community” (private chats only: a report is private) and the matching tip."""
    row = []
    if can_tell:
        row.append(InlineKeyboardButton(_("📣 Tell the community"), callback_data=cb.tell()))
    if tip_id is not None:
        row.append(InlineKeyboardButton(_("💡 Anti-fraud tip"), callback_data=cb.tip(tip_id)))
    return InlineKeyboardMarkup([row]) if row else None


def without(markup: InlineKeyboardMarkup | None, data: str) -> InlineKeyboardMarkup | None:
    """The same buttons minus the one carrying `data` (None when none is left)."""
    if markup is None:
        return None
    rows = [[button for button in row if button.callback_data != data]
            for row in markup.inline_keyboard]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None
