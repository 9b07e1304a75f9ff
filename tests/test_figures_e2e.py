"""/figures over the fake Bot API: staff and leaders get the message, four charts and the
workbook; a resident, another community's staff and a leader of another team are refused,
forged presses included."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from openpyxl import load_workbook

from bot.db import transaction
from bot.directory.models import Role
from bot.figures.handlers import CLOCK_KEY
from tests.factories import add_to_team, make_person
from tests.figures_support import seed

#: Early December 2026 in Shanghai; "last month" is the seeded November.
NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
REFUSED = "抱歉，您没有权限这样做。"


async def scene(bot, fake, session_factory, **people: str):
    """Seeded data; each keyword names a fake user and the part they play."""
    bot.application.bot_data["services"].extras[CLOCK_KEY] = lambda: NOW
    ids = await seed(session_factory)
    users = {}
    async with transaction(session_factory) as session:
        for name, part in people.items():
            user = fake.user(name, language_code="zh-hans")
            users[name] = user
            if part == "staff":
                await make_person(session, name=name, role=Role.STAFF, area=ids["community"],
                                  telegram_id=user.id)
            elif part == "other_staff":
                await make_person(session, name=name, role=Role.STAFF, area=ids["other"],
                                  telegram_id=user.id)
            elif part in ("leader", "other_leader"):
                person = await make_person(session, name=name, role=Role.MEMBER,
                                           telegram_id=user.id)
                team = ids["patrol"] if part == "leader" else ids["elsewhere"]
                await add_to_team(session, person=person, team=team, leader=True)
                if part == "other_leader":  # leads another team, only a member of this one
                    await add_to_team(session, person=person, team=ids["patrol"])
            else:
                await make_person(session, name=name, area=ids["community"],
                                  telegram_id=user.id)
    return ids, users


async def test_staff_get_message_charts_and_workbook(bot, fake, session_factory) -> None:
    _ids, users = await scene(bot, fake, session_factory, Li="staff")
    li = users["Li"]
    await li.send("/figures")
    assert "龙江路社区" in li.last_message.text
    await li.press("上月")
    await fake.wait_for(lambda: any(m.document for m in li.messages))
    text = next(m.text for m in li.messages if m.text and m.text.startswith("📊 数据"))
    assert "2026年11月" in text and "收到反映：5 件（↑150%；上期：2）" in text
    photos = [m for m in li.messages if m.photo]
    assert len(photos) == 4 and len({m.media_group_id for m in photos}) == 1
    assert all((m.photo[-1]["width"], m.photo[-1]["height"]) == (1200, 750) for m in photos)
    document = next(m for m in li.messages if m.document)
    assert document.document["file_name"] == "figures-2026-11.xlsx"
    book = load_workbook(io.BytesIO(fake.files[document.document["file_id"]].data))
    assert len(list(book["反映明细"].iter_rows(min_row=2))) == 5
    months = list(book["按月"].iter_rows(min_row=2, values_only=True))
    assert months[-1] == ("2026年11月", 5) and len(months) == 12
    values = {str(c.value) for sheet in book for row in sheet.iter_rows() for c in row}
    assert not [v for v in values if "陈阿姨" in v or "13800000009" in v]


async def test_staff_pick_a_grid_below(bot, fake, session_factory) -> None:
    _ids, users = await scene(bot, fake, session_factory, Li="staff")
    li = users["Li"]
    await li.send("/figures")
    await li.press("📍 看下面的社区或网格")
    await li.press("5网格")
    assert "5网格" in li.last_message.text
    await li.press("上月")
    await fake.wait_for(lambda: any(m.document for m in li.messages))
    text = next(m.text for m in li.messages if m.text and m.text.startswith("📊 数据"))
    assert "5网格" in text and "收到反映：1 件" in text


async def test_a_leader_sees_their_team(bot, fake, session_factory) -> None:
    _ids, users = await scene(bot, fake, session_factory, Wang="leader")
    wang = users["Wang"]
    await wang.send("/figures")
    assert "治安巡逻队" in wang.last_message.text
    await wang.press("上月")
    await fake.wait_for(lambda: any(m.document for m in wang.messages))
    text = next(m.text for m in wang.messages if m.text and m.text.startswith("📊 数据"))
    assert "收到反映：3 件" in text  # the patrol team's November reports only


async def test_others_are_refused(bot, fake, session_factory) -> None:
    ids, users = await scene(bot, fake, session_factory, Chen="resident", Zhao="other_staff",
                             Sun="other_leader")
    chen, zhao, sun = users["Chen"], users["Zhao"], users["Sun"]
    await chen.send("/figures")
    assert chen.last_message.text == REFUSED
    community, patrol = ids["community"].id, ids["patrol"].id
    for user in (chen, zhao, sun):
        # A message with buttons to forge presses on: their own figures, or /leave's.
        await user.send("/leave" if user is chen else "/figures")
        forged = [f"fg:p:a{community}:lm", f"fg:w:a{community}", f"fg:p:t{patrol}:lm",
                  f"fg:s:t{patrol}", "fg:p:a0:ty"]
        if user is not sun:  # "all the teams I lead" is Sun's own team
            forged.append("fg:p:t0:tm")
        for data in forged:
            before = len(user.messages)
            await user.press(data=data, forged=True)
            answer = user.last_callback_answer
            assert answer is not None and answer.text == REFUSED, (user, data)
            assert len(user.messages) == before  # nothing was sent
    # A malformed press is stale, not an error.
    await zhao.press(data="fg:p:a1:m202613", forged=True)
    assert zhao.last_callback_answer.text != REFUSED


async def test_figures_in_a_group_show_nothing(bot, fake, session_factory) -> None:
    _ids, users = await scene(bot, fake, session_factory, Li="staff")
    li = users["Li"]
    group = fake.group("社区群", [li])
    group.record.bot_status = "member"
    replies = await li.send("/figures", chat=group)
    assert len(replies) == 1 and "私聊" in replies[0].text
    assert not any(m.document or m.photo for m in group.messages)
