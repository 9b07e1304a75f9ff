"""Where a report happened: the team sees the place the reporter chose, exactly as the
reporter confirmed it, and never the reporter's home (which would point at an anonymous
reporter's door)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.db import transaction
from bot.tipoffs.models import TipOff
from tests.factories import make_person
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.tipoff_support import card_in, patrol_scene, report


def _place_line(text: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith("地点：")]
    return line


@pytest.mark.parametrize(("place", "expected"), [
    ("和平路88号小区东门", "地点：和平路88号小区东门"),
    (None, "地点：定位 31.23040, 121.47370"),
    ("⏭ 跳过", "地点：未填写"),
])
async def test_an_anonymous_card_shows_the_place_given_never_the_reporters_home(
    bot: BotRunner, fake: FakeTelegram, session_factory, place: str | None, expected: str,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    town = scene.town
    alice = fake.user("Alice", language_code="zh-hans")
    async with transaction(session_factory) as session:
        await make_person(session, name="Alice", area=town.building, telegram_id=alice.id)

    await report(alice, anonymous=True, album=0, place=place, send=False)
    summary = alice.last_message.text
    assert _place_line(summary) == expected
    await alice.press(text="✅ 发送")
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)

    card = card_in(scene.group.messages).text
    assert _place_line(card) == _place_line(summary)  # what she confirmed is what they see
    assert town.building.name not in card and town.grid.name not in card
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff))
    assert tipoff.area_id is None  # her home is not stored as the report's place
    # Routed by where she lives all the same: the patrol team of her community has it.
    assert tipoff.team_id == town.patrol.id


async def test_a_chosen_building_reads_the_same_in_the_summary_and_on_the_card(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    town = scene.town
    alice = fake.user("Alice", language_code="zh-hans")
    async with transaction(session_factory) as session:
        await make_person(session, name="Alice", area=town.building, telegram_id=alice.id)

    await report(alice, anonymous=True, album=0, place=town.building.name, send=False)
    summary = alice.last_message.text
    await alice.press(text="✅ 发送")
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)

    card = card_in(scene.group.messages).text
    assert _place_line(summary) == _place_line(card) == "地点：3网格 · 12栋"
