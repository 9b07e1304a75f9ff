"""The /alert audience picker: areas, teams (8 a page, More » / « Back) and linked group
chats within the sender's scope, with the number of people and chats as they toggle."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.alerts.models import Alert
from bot.db import transaction
from bot.directory.models import Chat
from tests.factories import make_team
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.test_alerts_flow import _alert, _dispatcher, _settle, _town


def _rows(message) -> list[list[tuple[str, str]]]:
    return [[(b["text"], b["callback_data"]) for b in row]
            for row in (message.reply_markup or {}).get("inline_keyboard", [])]


def _texts(message) -> list[str]:
    return [text for row in _rows(message) for text, _ in row]


async def test_picker_pages_teams_offers_areas_and_chats_and_counts(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    town = await _town(bot, fake, session_factory)
    dispatcher = await _dispatcher(bot, session_factory)
    async with transaction(session_factory) as session:
        extra = [await make_team(session, area=town.tree.grid, name=f"楼栋队{i:02d}")
                 for i in range(10)]  # 12 teams in all
        chat_ids = {c.telegram_chat_id: c.id for c in await session.scalars(select(Chat))}
    staff = town.staff
    await staff.send("/alert")
    picker = staff.last_message
    # Areas first: the community and its grid; tabs for the three kinds.
    assert _texts(picker)[:3] == ["• 区域", "队伍", "群聊"]
    assert "▫️ 龙江路社区全体" in _texts(picker) and "▫️ 3网格全体" in _texts(picker)
    assert "人" not in picker.text.split("\n")[-1]  # nothing chosen: no count yet

    await staff.press(data="al:v:t")
    page1 = fake.message(staff.id, picker.message_id)
    teams1 = [t for t in _texts(page1) if t.startswith("▫️")]
    assert len(teams1) == 8 and "更多 »" in _texts(page1) and "« 上一页" not in _texts(page1)
    await staff.press(data="al:p:1")
    page2 = fake.message(staff.id, picker.message_id)
    teams2 = [t for t in _texts(page2) if t.startswith("▫️")]
    assert len(teams2) == 4 and "« 上一页" in _texts(page2) and "更多 »" not in _texts(page2)
    assert not set(teams1) & set(teams2)
    assert {t.removeprefix("▫️ ") for t in teams1 + teams2} >= {"治安巡逻队 · 龙江路社区",
                                                                 "楼栋队09 · 3网格"}

    # The patrol team: 15 people and its linked group; then the mediation group on its own.
    patrol_page = 0 if any("治安巡逻队" in t for t in teams1) else 1
    await staff.press(data=f"al:p:{patrol_page}")
    await staff.press(data=f"al:t:{town.patrol.id}")
    assert fake.message(staff.id, picker.message_id).text.endswith(
        "目前会发给 15 人和 1 个群。")
    await staff.press(data="al:v:c")
    await staff.press(data=f"al:c:{chat_ids[town.plain_group.id]}")
    assert fake.message(staff.id, picker.message_id).text.endswith("目前会发给 15 人和 2 个群。")
    await staff.press(data="al:v:a")
    await staff.press(data=f"al:a:{town.tree.grid.id}")
    shown = fake.message(staff.id, picker.message_id)
    assert shown.text.endswith("目前会发给 30 人和 2 个群。")
    assert "✅ 3网格全体" in _texts(shown)
    await staff.press(data=f"al:a:{town.tree.grid.id}")  # and off again
    assert fake.message(staff.id, picker.message_id).text.endswith("目前会发给 15 人和 2 个群。")

    # Every button's data is small (ids, not names), in every version of the picker.
    edits = [c.params for c in fake.calls("editMessageText")
             if int(c.params.get("message_id", 0)) == picker.message_id]
    assert len(edits) >= 8
    markups = [json.loads(p["reply_markup"]) if isinstance(p["reply_markup"], str)
               else p["reply_markup"] for p in edits]
    datas = [b["callback_data"] for m in markups for row in m["inline_keyboard"] for b in row]
    assert datas and all(len(d.encode()) <= 64 for d in datas)

    await staff.press(data="al:ok")
    await staff.send("停水通知：今晚十点到明早六点")
    await staff.press(data="al:s:w")
    await staff.press(data="al:r:1")
    assert "15 人" in staff.last_message.text and "2 个群" in staff.last_message.text
    await staff.press(data="al:go")
    await _settle(fake, dispatcher)
    alert = await _alert(session_factory)
    assert alert.audience["team_ids"] == [town.patrol.id]
    assert alert.audience["chat_ids"] == [chat_ids[town.plain_group.id]]
    assert len([m for m in town.plain_group.messages if "停水" in (m.text or "")]) == 1
    assert len([m for m in town.people[20].messages if "停水" in (m.text or "")]) == 0
    assert extra  # (the extra teams only fill the pages)


async def test_leader_picks_only_own_team_and_its_chat_forged_choices_ignored(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    town = await _town(bot, fake, session_factory)
    await _dispatcher(bot, session_factory)
    async with session_factory() as session:
        chat_ids = {c.telegram_chat_id: c.id for c in await session.scalars(select(Chat))}
    leader = town.leaders[town.patrol.id]
    await leader.send("/alert")
    picker = leader.last_message
    assert _texts(picker)[:2] == ["• 队伍", "群聊"]
    assert "▫️ 治安巡逻队" in _texts(picker) and "民事调解队" not in " ".join(_texts(picker))
    # Forged: the other team, the other team's chat, an area, a page far away.
    for data in (f"al:t:{town.mediation.id}", f"al:c:{chat_ids[town.plain_group.id]}",
                 f"al:a:{town.tree.community.id}", "al:v:a"):
        await leader.press(data=data, forged=True)
    await leader.press(data="al:p:99", forged=True)
    shown = fake.message(leader.id, picker.message_id)
    assert not any(t.startswith("✅") for t in _texts(shown))
    await leader.press(data="al:ok")
    assert leader.last_callback_answer.text  # "please choose at least one"
    await leader.press(data="al:v:c")
    await leader.press(data=f"al:c:{chat_ids[town.pin_group.id]}")
    assert fake.message(leader.id, picker.message_id).text.endswith("目前会发给 0 人和 1 个群。")
    async with session_factory() as session:
        assert await session.scalar(select(Alert.id)) is None
