"""Forged presses and bad arguments found in the review: each must be refused and change nothing."""

from __future__ import annotations

from sqlalchemy import select

from bot.db import transaction
from bot.directory.models import Person
from bot.tipoffs.models import RoutingRule
from tests.factories import make_cast, make_person
from tests.fake_telegram import FakeTelegram


async def test_forged_registration_press_cannot_move_staff_to_a_wider_area(
    bot, fake: FakeTelegram, session_factory
):
    """Staff scope is their person's area: a forged `reg:h:` for the street office would
    widen it to every community below."""
    li = fake.user("Li", language_code="zh-hans")
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = li.id
        office_id, community_id = cast.tree.street_office.id, cast.tree.community.id
    await li.send("/language")  # a message with buttons to press on
    await li.press(data=f"reg:h:{office_id}", forged=True)
    answer = li.last_callback_answer
    assert answer is not None and "失效" in (answer.text or "")
    async with session_factory() as session:
        person = await session.scalar(select(Person).where(Person.telegram_id == li.id))
    assert person.area_id == community_id


async def test_forged_routing_press_cannot_send_reports_to_another_communitys_team(
    bot, fake: FakeTelegram, session_factory
):
    """Staff of 龙江路社区 must not route their reports to 青石桥社区's team."""
    li = fake.user("Li", language_code="zh-hans")
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = li.id
        grid_id, foreign_team = cast.tree.grid.id, cast.other_team.id
    await li.send("/routing")
    await li.press(data=f"tq:team:theft:{grid_id}:{foreign_team}", forged=True)
    async with session_factory() as session:
        rules = (await session.scalars(select(RoutingRule))).all()
    assert rules == []


async def test_people_search_names_a_pending_person_in_chinese(
    bot, fake: FakeTelegram, session_factory
):
    li = fake.user("Li", language_code="zh-hans")
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = li.id
        await make_person(session, name="王大妈", area=cast.tree.grid)  # imported, pending
    await li.send("/people 王大妈")
    text = li.last_message.text
    assert "王大妈" in text and "还没上 Telegram" in text and "pending" not in text
