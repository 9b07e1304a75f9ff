"""First contact: /start, the language buttons, /help, and the error handler."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.directory.models import Person
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner, menu

GREETINGS = {
    "zh-CN": "您好！我是社区的平安小助手",
    "zh-TW": "您好！我是社區的平安小幫手",
    "en": "I am your community's safety assistant",
}


@pytest.mark.parametrize(
    ("telegram_language", "greeted_in"),
    [("zh-hans", "zh-CN"), ("zh-hant", "zh-TW"), ("en-US", "en"), ("fr", "zh-CN"), (None, "zh-CN")],
)
async def test_start_greets_in_telegram_language(
    bot: BotRunner, fake: FakeTelegram, telegram_language: str | None, greeted_in: str
) -> None:
    alice = fake.user("Alice", language_code=telegram_language)
    await alice.send("/start")
    reply = alice.last_message
    assert GREETINGS[greeted_in] in reply.text
    assert reply.buttons == [["简体中文"], ["繁體中文"], ["English"]]


@pytest.mark.parametrize(
    ("button", "confirmation", "help_title"),
    [("简体中文", "以后我就用简体中文和您交流", "我可以为您做这些"),
     ("繁體中文", "以後我就用繁體中文和您交流", "我可以為您做這些"),
     ("English", "I will talk to you in English", "Here is what I can do for you")],
)
async def test_language_choice_sticks(
    bot: BotRunner, fake: FakeTelegram, session_factory, button: str, confirmation: str,
    help_title: str,
) -> None:
    alice = fake.user("Alice", language_code="fr")
    await alice.send("/start")
    await alice.press(button)
    assert confirmation in alice.last_message.text
    await alice.send("/help")
    assert help_title in alice.last_message.text
    async with session_factory() as session:
        person = await session.scalar(select(Person).where(Person.telegram_id == alice.id))
    assert person is not None and person.name == "Alice"


async def test_language_command_offers_the_buttons_again(
    bot: BotRunner, fake: FakeTelegram
) -> None:
    bob = fake.user("Bob", language_code="en")
    await bob.send("/language")
    assert bob.last_message.text == "Please choose your language:"
    await bob.press("繁體中文")
    assert "繁體中文" in bob.last_message.text


async def test_forged_language_button_changes_nothing(
    bot: BotRunner, fake: FakeTelegram, session_factory
) -> None:
    carol = fake.user("Carol", language_code="en")
    await carol.send("/start")
    await carol.press(data="lang:xx-YY", forged=True)
    answer = carol.last_callback_answer
    assert answer is not None and answer.text == "This button is no longer valid."
    async with session_factory() as session:
        person = await session.scalar(select(Person).where(Person.telegram_id == carol.id))
    assert person is not None and person.language is None


async def test_zh_tw_speaker_gets_a_menu_of_their_own(bot: BotRunner, fake: FakeTelegram) -> None:
    dan = fake.user("Dan", language_code="zh-hant")
    await dan.send("/start")
    await dan.press("繁體中文")
    dans_menu = menu(fake, f"chat:{dan.id}")
    assert dans_menu is not None
    assert {"command": "language", "description": "切換語言"} in dans_menu


async def test_shared_menus_are_published_for_zh_en_and_default(
    bot: BotRunner, fake: FakeTelegram
) -> None:
    zh = menu(fake, "default", "zh")
    en = menu(fake, "default", "en")
    default = menu(fake, "default")
    assert zh is not None and {"command": "help", "description": "我能为您做什么"} in zh
    assert en is not None and {"command": "help", "description": "What I can do for you"} in en
    assert default == zh


async def test_start_in_a_group_points_to_a_private_chat(
    bot: BotRunner, fake: FakeTelegram
) -> None:
    alice = fake.user("Alice", language_code="zh-hans")
    group = fake.group("巡逻一队", members=[alice])
    await fake.add_bot(group, by=alice)
    await alice.send("/start", chat=group)
    assert "私聊" in group.last_message.text


async def test_a_message_that_is_not_text_gets_a_pointer_to_help(
    bot: BotRunner, fake: FakeTelegram
) -> None:
    erin = fake.user("Erin", language_code="en")
    await erin.send_location(31.2, 121.4)  # text gets choices (tests/test_residents_e2e.py)
    assert erin.last_message.text == (
        "Sorry, I did not understand that. Send /help to see what I can do."
    )


async def test_error_handler_logs_the_update_and_apologises(
    bot: BotRunner, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    frank = fake.user("Frank", language_code="en")
    fake.faults.server_error(times=1, method="sendMessage")
    with caplog.at_level(logging.ERROR, logger="bot.middleware"):
        await frank.send("/help")
    errors = [r for r in caplog.records if r.name == "bot.middleware"]
    assert errors and errors[0].update_id is not None
    assert str(errors[0].update_id) in errors[0].getMessage()
    assert frank.last_message.text == (
        "Sorry, something went wrong on my side. Please try again in a moment."
    )
    assert "Traceback" not in frank.last_message.text
