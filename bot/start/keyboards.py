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
