"""Languages: zh-CN (default), zh-TW and English, from gettext catalogues.

Each feature keeps its own `.po` file per language under `bot/locales/<lang>/`
(so features never edit one shared file); they are merged when loaded. The
msgids are English. Pick a translator per update: handlers for different people
interleave, so nothing is ever installed globally.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = ("zh-CN", "zh-TW", "en")
DEFAULT_LANGUAGE = "zh-CN"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LANGUAGE_NAMES = {"zh-CN": "简体中文", "zh-TW": "繁體中文", "en": "English"}

Translate = Callable[[str], str]


def N_(message: str) -> str:
    """Mark a string for extraction where it is defined; translate it where it is shown."""
    return message


def locale_dir_name(language: str) -> str:
    return language.replace("-", "_")


def normalize_language(code: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """Map Telegram's `language_code` (an optional IETF tag) to one of ours.

    Chinese users run community language packs, so we see `zh-hans`, `zh-hant`,
    `zh`, `zh-cn`, `zh-tw`, `zh-hk`: traditional script or TW/HK/MO → zh-TW,
    any other Chinese → zh-CN, English → en, anything else → the default.
    """
    if not code:
        return default
    try:
        locale = Locale.parse(code.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return default
    if locale.language == "zh":
        script = (locale.script or "").lower()
        territory = (locale.territory or "").upper()
        if script == "hant" or (not script and territory in {"TW", "HK", "MO"}):
            return "zh-TW"
        return "zh-CN"
    if locale.language == "en":
        return "en"
    return default


def load_catalog(language: str) -> Catalog:
    """All of one language's `.po` files merged into one catalogue."""
    merged = Catalog(locale=locale_dir_name(language), domain="bot")
    for po_path in sorted((LOCALES_DIR / locale_dir_name(language)).glob("*.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=locale_dir_name(language))
        for message in catalog:
            if message.id and message.string and not message.fuzzy:
                merged.add(message.id, message.string)
    return merged


@cache
def translations(language: str) -> Translations:
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    buffer = io.BytesIO()
    write_mo(buffer, load_catalog(language))
    buffer.seek(0)
    return Translations(buffer, domain="bot")


def translator(language: str) -> Translate:
    """The `_` for one language."""
    return translations(language).gettext


def ngettext(_: Translate, singular: str, plural: str, n: int) -> str:
    """The form of a message for the number `n` in `_`'s language ("1 person", "2 people";
    Chinese has one form). Takes the `_` that code already passes around, so a message
    with a number needs no second translator; extracted as `ngettext:2,3`."""
    catalogue = getattr(_, "__self__", None)
    if isinstance(catalogue, Translations):
        return catalogue.ngettext(singular, plural, n)
    return singular if n == 1 else plural  # a plain function (a test's identity `_`)


def people_and_groups(_: Translate, people: int, groups: int) -> str:
    """How many a message reaches: "1 person and 2 group chats" (broadcasts and alerts)."""
    return _("{people} and {groups}").format(
        people=ngettext(_, "{count} person", "{count} people", people).format(count=people),
        groups=ngettext(_, "{count} group chat", "{count} group chats", groups).format(
            count=groups))
