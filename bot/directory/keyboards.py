"""Inline keyboards of the directory: small, paginated, ids in the callback data."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.directory.callbacks import encode


def button(text: str, action: str, a: int | None = None, b: int | None = None
           ) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=encode(action, a, b))


def pick_list(
    items: list[tuple[int, str]], action: str, *, extra: int | None = None,
    page: int = 0, pages: int = 1, page_action: str | None = None, page_arg: int | None = None,
) -> list[list[InlineKeyboardButton]]:
    """One button per item (two to a row), then ◀ ▶ if there are more pages."""
    buttons = [button(label, action, item_id, extra) if extra is not None
               else button(label, action, item_id) for item_id, label in items]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    if page_action is not None:
        paging = []
        if page > 0:
            paging.append(button("◀", page_action, page_arg or 0, page - 1))
        if page + 1 < pages:
            paging.append(button("▶", page_action, page_arg or 0, page + 1))
        if paging:
            rows.append(paging)
    return rows


def markup(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(rows)
