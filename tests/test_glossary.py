"""One vocabulary (issue 13, item 6): the glossary in bot/locales/README.md is kept by every
catalogue, a message shared by two features reads the same in both, and /quiethours
accepts the words its messages teach."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from bot.broadcasting.models import QuietHoursSetting
from bot.db import transaction
from bot.i18n import LOCALES_DIR, locale_dir_name
from bot.tipoffs.render import STATUS_LABELS
from tests.factories import make_cast
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner

README = LOCALES_DIR / "README.md"
ROW = re.compile(r"^\|\s*(zh-CN|zh-TW)\s*\|([^|]*)\|([^|]*)\|([^|]*)\|\s*(all|reporters)\s*\|$")
#: What a resident who sent a report reads: the news about it and its status in /mytips.
TO_REPORTERS = re.compile(r"\byour reports?\b|\byou reported\b", re.IGNORECASE)


def glossary() -> list[tuple[str, str, list[str], str]]:
    """(language, word to use, words not to use, where) from the README's table."""
    rows = []
    for line in README.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line.strip())
        if match:
            language, use, forbidden, _for, where = (g.strip() for g in match.groups())
            rows.append((language, use, [w.strip() for w in forbidden.split("、")], where))
    return rows


def messages(language: str) -> list[tuple[str, str, str]]:
    """(catalogue, msgid, translation) for every translated entry of one language."""
    found = []
    for path in sorted((LOCALES_DIR / locale_dir_name(language)).glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=locale_dir_name(language)):
                if message.id and message.string:
                    msgid = message.id if isinstance(message.id, str) else message.id[0]
                    strings = ([message.string] if isinstance(message.string, str)
                               else list(message.string))
                    found.extend((path.stem, msgid, s) for s in strings)
    return found


def to_reporters(msgid: str) -> bool:
    return bool(TO_REPORTERS.search(msgid)) or msgid in STATUS_LABELS.values()


def test_the_glossary_table_is_read() -> None:
    rows = glossary()
    assert ("zh-CN", "紧急通知", ["警报"], "all") in rows
    assert ("zh-CN", "队长", ["组长"], "all") in rows
    assert {language for language, *_ in rows} == {"zh-CN", "zh-TW"}


@pytest.mark.parametrize("language", ["zh-CN", "zh-TW"])
def test_no_message_uses_a_word_the_glossary_forbids(language: str) -> None:
    wrong = []
    for row_language, use, forbidden, where in glossary():
        if row_language != language:
            continue
        for catalogue, msgid, text in messages(language):
            if where == "reporters" and not to_reporters(msgid):
                continue
            for word in forbidden:
                if word in text:
                    wrong.append(f"{catalogue}.po: {word} → {use}: {text}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("language", ["zh-CN", "zh-TW", "en"])
def test_a_message_shared_by_features_reads_the_same_in_each(language: str) -> None:
    seen: dict[str, dict[str, str]] = defaultdict(dict)
    for catalogue, msgid, text in messages(language):
        seen[msgid][catalogue] = text
    disagree = {msgid: where for msgid, where in seen.items() if len(set(where.values())) > 1}
    assert not disagree


def test_the_check_sees_a_forbidden_word(tmp_path: Path) -> None:
    """The glossary check would catch what it is for (guards against a table it misreads)."""
    forbidden = {w for language, _use, words, _ in glossary() if language == "zh-CN"
                 for w in words}
    assert {"警报", "组长", "社区工作人员"} <= forbidden
    assert to_reporters("Good news: {team} have taken on your report {reference} and are "
                        "looking into it.")
    assert not to_reporters("✋ Claim")


async def test_quiet_hours_take_back_the_default_in_the_words_the_messages_teach(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    staff = fake.user("陳幹部", language_code="zh-hant")
    staff.record.started = True
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = staff.id
        cast.staff.language = "zh-TW"
    await staff.send("/quiethours")
    assert "「預設」" in staff.last_message.text
    for word in ("預設", "「預設」", "默认"):
        await staff.send("/quiethours 22:00-06:30")
        assert "22:00–06:30" in staff.last_message.text
        await staff.send(f"/quiethours {word}")
        assert "21:30–07:30" in staff.last_message.text, word
        async with session_factory() as session:
            assert list(await session.scalars(select(QuietHoursSetting))) == [], word
