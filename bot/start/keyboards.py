from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import LANGUAGE_NAMES, LANGUAGES
from bot.start.callbacks import choose_language

Back = tuple[str, str]  # (label, callback data) of a "« back" button


def language_keyboard(back: Back | None = None) -> InlineKeyboardMarkup:
    """Each language named in itself, so anyone can find theirs."""
    rows = [[InlineKeyboardButton(LANGUAGE_NAMES[lang], callback_data=choose_language(lang))]
            for lang in LANGUAGES]
    if back is not None:
        rows.append([InlineKeyboardButton(back[0], callback_data=back[1])])
    return InlineKeyboardMarkup(rows)


def area_keyboard(
    areas: list[tuple[int, str]], *, parent_id: int | None, page: int, pages: int,
    here_label: str | None, list_label: str | None, back: Back | None = None,
) -> InlineKeyboardMarkup:
    """Areas two to a row, then paging, then "here is fine" / "I am on a list", then back."""
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
    if back is not None:
        rows.append([InlineKeyboardButton(back[0], callback_data=back[1])])
    return InlineKeyboardMarkup(rows)


def topics_keyboard(toggles: list[tuple[str, str, bool]], done_label: str) -> InlineKeyboardMarkup:
    """One toggle per topic (✅ on / ⬜ off), then Done."""
    from bot.start.callbacks import REGISTRATION_DONE, registration_topic

    rows = [[InlineKeyboardButton(f"{'✅' if on else '⬜'} {label}",
                                  callback_data=registration_topic(topic))]
            for topic, label, on in toggles]
    rows.append([InlineKeyboardButton(done_label, callback_data=REGISTRATION_DONE)])
    return InlineKeyboardMarkup(rows)


def me_keyboard(*, area_label: str | None, topics_label: str, language_label: str
                ) -> InlineKeyboardMarkup:
    """The /me screen's changes, one per row (no area button for staff: it is their scope)."""
    from bot.start.callbacks import me

    rows = [[InlineKeyboardButton(area_label, callback_data=me("area"))]] if area_label else []
    rows.append([InlineKeyboardButton(topics_label, callback_data=me("topics"))])
    rows.append([InlineKeyboardButton(language_label, callback_data=me("lang"))])
    return InlineKeyboardMarkup(rows)


def free_text_keyboard(*, report: str, ask: str, help_: str) -> InlineKeyboardMarkup:
    from bot.start.callbacks import free_text

    return InlineKeyboardMarkup([[InlineKeyboardButton(report, callback_data=free_text("report"))],
                                 [InlineKeyboardButton(ask, callback_data=free_text("ask"))],
                                 [InlineKeyboardButton(help_, callback_data=free_text("help"))]])
