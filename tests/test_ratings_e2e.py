"""Residents' satisfaction over the fake server: a resolved report's reporter is asked once,
privately, “对处理结果满意吗？”; only their first press counts; the comment is kept unsigned;
the team never sees who rated, and /figures shows the average and the distribution."""

from __future__ import annotations

from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select

from bot.audit import AuditEntry
from bot.db import transaction, utcnow
from bot.directory.models import Person
from bot.figures import periods, render, workbook
from bot.figures import service as figures
from bot.figures.counting import Scope
from bot.i18n import translator
from bot.tipoffs import ratings
from bot.tipoffs.models import TipOff, TipOffRating, TipOffStatus
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.tipoff_support import card_in, patrol_scene, report

QUESTION = "对处理结果满意吗？"


async def test_a_resolved_report_asks_its_reporter_once_and_counts_one_press(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    alice = fake.user("Alice", language_code="zh-hans")
    mallory = fake.user("Mallory", language_code="zh-hans")
    await report(alice, anonymous=True, album=0)
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)
    await scene.member.press(text="✋ 认领", chat=scene.group)
    await scene.member.press(text="✅ 已办结", chat=scene.group)
    await scene.member.send("已联系物业修好了", chat=scene.group,
                            reply_to=scene.group.messages[-1])
    await fake.wait_for(lambda: any(QUESTION in (m.text or "") for m in alice.messages))
    await fake.settle()
    asked = [m for m in alice.messages if QUESTION in (m.text or "")]
    assert len(asked) == 1
    question = asked[0]
    assert question.buttons == [["1⭐", "2⭐", "3⭐", "4⭐", "5⭐"]]
    # Nobody on the team is asked, nor told anything about the rating.
    for chat in (scene.group, scene.leader, scene.member, scene.cadre):
        assert not any(QUESTION in (m.text or "") for m in chat.messages)
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff).order_by(TipOff.id.desc()))
        rating = await session.scalar(select(TipOffRating))
    assert tipoff is not None and tipoff.status is TipOffStatus.RESOLVED
    assert rating is not None and rating.tipoff_id == tipoff.id and rating.score is None
    # The claim and the close are in the audit log, by the member; the reporter is not.
    async with session_factory() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
        member = await session.scalar(select(Person).where(
            Person.telegram_id == scene.member.id))
    assert [(e.action, e.actor_id, e.object_id, e.before, e.after["status"])
            for e in entries] == [
        ("tipoff.claim", member.id, tipoff.id, {"status": "new"}, "claimed"),
        ("tipoff.resolved", member.id, tipoff.id, {"status": "claimed"}, "resolved")]
    assert entries[1].reason == "已联系物业修好了"
    assert not [e for e in entries if e.actor_id == tipoff.reporter_id
                or "Alice" in str(e.after)]

    # Someone else forging the press is refused kindly; nothing is counted.
    mallory.record.started = True
    await mallory.press(data=ratings.button_data(rating.id, 1), message=question, forged=True)
    assert "问反映人" in (mallory.last_callback_answer.text or "")
    async with session_factory() as session:
        assert (await session.get_one(TipOffRating, rating.id)).score is None

    # Alice's press counts; a second press (even a forged 5) does not change it.
    await alice.press(text="4⭐", message=question)
    assert "谢谢" in (alice.last_callback_answer.text or "")
    await alice.press(data=ratings.button_data(rating.id, 5), message=question, forged=True)
    assert "已经评价过" in (alice.last_callback_answer.text or "")
    async with session_factory() as session:
        stored = await session.get_one(TipOffRating, rating.id)
    assert (stored.score, stored.rated_at is not None) == (4, True)
    assert "4 分" in (question.text or "")

    # The optional comment: a reply to the prompt, kept once, without a name.
    prompt = alice.messages[-1]
    assert prompt.text.startswith("💬")
    await mallory.send("我也来评论", reply_to=prompt)
    await alice.send("处理得很快，谢谢", reply_to=prompt)
    assert "不会附上您的名字" in alice.messages[-1].text
    async with session_factory() as session:
        assert (await session.get_one(TipOffRating, rating.id)).comment == "处理得很快，谢谢"

    # Asking again for the same report does nothing (one row per report).
    async with transaction(session_factory) as session:
        again = await ratings.ask(session, tipoff=await session.get_one(TipOff, tipoff.id),
                                  telegram_id=alice.id, language="zh-CN", now=utcnow())
    assert again is False

    # The figures: one rating of 4, the distribution, the comment without who or which.
    tz = bot.settings.tz
    period = periods.this_month(tz=tz, now=utcnow())
    async with session_factory() as session:
        report_ = await figures.collect(
            session, scope=Scope(area_path=scene.town.community.path), period=period,
            previous=periods.previous(period, tz=tz),
            months=periods.months_back(count=12, tz=tz, now=utcnow()))
    s = report_.satisfaction
    assert (s.asked, s.rated, s.average, s.distribution) == (
        1, 1, 4.0, {1: 0, 2: 0, 3: 0, 4: 1, 5: 0})
    assert s.comments == ["处理得很快，谢谢"]
    text = render.figures_text(report_, scope_name="社区", _=translator("zh-CN"),
                               language="zh-CN", tz=tz)
    assert "满意度：4.0 分" in text and "4⭐1" in text
    data = workbook.build_workbook(report_, scope_name="社区", language="zh-CN", tz=tz)
    sheet = load_workbook(BytesIO(data), read_only=True)["满意度"]
    rows = [tuple(r) for r in sheet.iter_rows(max_row=20, max_col=3, values_only=True)]
    assert (4, 1, 0) in rows and ("处理得很快，谢谢", None, None) in [r[:3] for r in rows]
    assert not any("Alice" in str(r) or tipoff.reference in str(r) for r in rows)
