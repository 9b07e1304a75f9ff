"""Every message in the code is translated into all three languages, placeholders intact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from bot.i18n import (
    LANGUAGES,
    load_catalog,
    ngettext,
    normalize_language,
    people_and_groups,
    translator,
)

BOT_DIR = Path(__file__).resolve().parent.parent / "bot"
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def code_messages() -> dict[str, str]:
    """msgid → where; a plural message (`ngettext(_, singular, plural, n)`) by its singular."""
    return {msgid: where for msgid, (where, _plural) in _extracted().items()}


def plural_messages() -> dict[str, str]:
    """singular → plural, for the messages written with `ngettext`."""
    return {msgid: plural for msgid, (_where, plural) in _extracted().items() if plural}


def _extracted() -> dict[str, tuple[str, str | None]]:
    found: dict[str, tuple[str, str | None]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(BOT_DIR), method_map=[("**.py", "python")],
        keywords={"_": None, "N_": None, "gettext": None, "ngettext": (2, 3)},
    ):
        where = f"bot/{filename}:{lineno}"
        if isinstance(message, str) and message:
            found.setdefault(message, (where, None))
        elif isinstance(message, tuple) and all(message):
            found.setdefault(message[0], (where, message[1]))
    return found


def test_the_code_has_messages_to_check() -> None:
    assert len(code_messages()) > 10


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    catalog = load_catalog(language)
    missing = [f"{where}: {msgid!r}" for msgid, where in code_messages().items()
               if not (catalog.get(msgid) and catalog.get(msgid).string)]
    assert not missing, f"untranslated in {language}:\n" + "\n".join(missing)


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_messages_have_every_form(language: str) -> None:
    """Each form the language has (Chinese one, English two), with the same plural msgid."""
    catalog = load_catalog(language)
    wrong = []
    for singular, plural in plural_messages().items():
        message = catalog.get(singular)
        forms = message.string if message is not None else ()
        if (message is None or not message.pluralizable or message.id[1] != plural
                or len(forms) != catalog.num_plurals or not all(forms)):
            wrong.append(singular)
    assert not wrong, f"plural forms missing in {language}: {wrong}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_placeholders(language: str) -> None:
    catalog = load_catalog(language)
    broken = []
    for message in catalog:
        ids = message.id if isinstance(message.id, tuple) else (message.id or "",)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        placeholders = sorted(PLACEHOLDER.findall(ids[0]))
        if any(s and placeholders != sorted(PLACEHOLDER.findall(s)) for s in strings):
            broken.append(message.id)
    assert not broken


def test_chinese_catalogues_are_in_chinese() -> None:
    for language in ("zh-CN", "zh-TW"):
        assert translator(language)("Change language") != "Change language"


@pytest.mark.parametrize(
    ("code", "expected"),
    [("zh-hans", "zh-CN"), ("zh-cn", "zh-CN"), ("zh", "zh-CN"), ("zh-Hans-CN", "zh-CN"),
     ("zh-hant", "zh-TW"), ("zh-tw", "zh-TW"), ("zh-hk", "zh-TW"), ("zh-mo", "zh-TW"),
     ("en", "en"), ("en-US", "en"), ("en-gb", "en"), ("fr", "zh-CN"), ("", "zh-CN"),
     (None, "zh-CN"), ("not a tag!", "zh-CN")],
)
def test_telegram_language_codes_map_to_ours(code: str | None, expected: str) -> None:
    assert normalize_language(code) == expected


def test_unknown_language_code_falls_back_to_the_configured_default() -> None:
    assert normalize_language("de", default="en") == "en"


def test_a_number_gets_its_form() -> None:
    """English says “1 person”, “2 people”; Chinese has one form (issue 13, item 8)."""
    english, chinese = translator("en"), translator("zh-TW")
    assert people_and_groups(english, 1, 1) == "1 person and 1 group chat"
    assert people_and_groups(english, 3, 0) == "3 people and 0 group chats"
    assert people_and_groups(chinese, 1, 2) == "1 人和 2 個群組"
    one = ngettext(english, "Archived {count} area.", "Archived {count} areas.", 1)
    assert one.format(count=1) == "Archived 1 area."
