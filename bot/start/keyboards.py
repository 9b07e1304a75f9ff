from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import LANGUAGE_NAMES, LANGUAGES
from bot.start.callbacks import choose_language


def language_keyboard() -> InlineKeyboardMarkup:
    """Each language named in itself, so anyone can find theirs."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(LANGUAGE_NAMES[lang], callback_data=choose_language(lang))]
         for lang in LANGUAGES]
    )


def area_keyboard(
    areas: list[tuple[int, str]], *, parent_id: int | None, page: int, pages: int,
    here_label: str | None, list_label: str | None,
) -> InlineKeyboardMarkup:
    """Areas two to a row, then paging, then "here is fine" / "I am on a list"."""
    from bot.start.callbacks import (
        REGISTRATION_PHONE,
        registration_area,
        registration_here,
        registration_page,
    )

    rows: list[list[InlineKeyboardButton]] = []
    buttons = [InlineKeyboardButton(name, callback_data=registration_area(i)) for i, name in areas]
    rows.extend(buttons[i:i + 2] for i in range(0, len(buttons), 2))
    paging = []
    if page > 0:
        paging.append(InlineKeyboardButton("◀", callback_data=registration_page(parent_id,
                                                                                 page - 1)))
    if page + 1 < pages:
        paging.append(InlineKeyboardButton("▶", callback_data=registration_page(parent_id,
                                                                                 page + 1)))
    if paging:
        rows.append(paging)
    if here_label and parent_id:
        rows.append([InlineKeyboardButton(here_label, callback_data=registration_here(parent_id))])
    if list_label:
        rows.append([InlineKeyboardButton(list_label, callback_data=REGISTRATION_PHONE)])
    return InlineKeyboardMarkup(rows)


def topics_keyboard(toggles: list[tuple[str, str, bool]], done_label: str) -> InlineKeyboardMarkup:
    """One toggle per topic (✅ on / ⬜ off), then Done."""
    from bot.start.callbacks import REGISTRATION_DONE, registration_topic

    rows = [[InlineKeyboardButton(f"{'✅' if on else '⬜'} {label}",
                                  callback_data=registration_topic(topic))]
            for topic, label, on in toggles]
    rows.append([InlineKeyboardButton(done_label, callback_data=REGISTRATION_DONE)])
    return InlineKeyboardMarkup(rows)
