"""Every message in the code is translated into all three languages, placeholders intact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from bot.i18n import LANGUAGES, load_catalog, normalize_language, translator

BOT_DIR = Path(__file__).resolve().parent.parent / "bot"
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def code_messages() -> dict[str, str]:
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(BOT_DIR), method_map=[("**.py", "python")],
        keywords={"_": None, "N_": None, "gettext": None},
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, f"bot/{filename}:{lineno}")
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
def test_translations_keep_placeholders(language: str) -> None:
    catalog = load_catalog(language)
    broken = []
    for message in catalog:
        placeholders = sorted(PLACEHOLDER.findall(message.id or ""))
        if message.string and placeholders != sorted(PLACEHOLDER.findall(message.string)):
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
