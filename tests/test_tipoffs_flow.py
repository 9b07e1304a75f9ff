"""Tip-offs end to end over the fake server: report → team's group → claim → resolve."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from bot.db import transaction
from bot.directory.models import Person
from bot.tipoffs.handlers import SCAN_JOB
from bot.tipoffs.models import TipOff, TipOffDraft, TipOffEvent, TipOffStatus
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.tipoff_support import patrol_scene, report


async def test_anonymous_report_with_album_reaches_the_team_and_follows_its_life(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    town, leader, member, cadre = scene.town, scene.leader, scene.member, scene.cadre
    group = scene.group
    alice = fake.user("Alice Reporter", language_code="zh-hans")
    await report(alice, anonymous=True)
    assert "已发送，编号是 TX-" in alice.last_message.text
    await fake.wait_for(lambda: any("🔔" in (m.text or "") for m in group.messages))
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff))
    assert tipoff is not None and tipoff.team_id == town.patrol.id
    assert tipoff.latitude is not None and tipoff.anonymous
    msgs = group.messages
    album = [m for m in msgs if m.media_group_id]
    assert len(album) == 3 and tipoff.reference in (album[0].caption or "")
    card = msgs[-1]
    assert tipoff.reference in card.text and "反映人：匿名" in card.text
    assert card.buttons[0] == ["✋ 认领", "↪️ 转给其他队"]

    # Zhang (a member) claims; the reporter is told.
    await member.press(text="✋ 认领", chat=group)
    async with session_factory() as session:
        fresh = await session.get(TipOff, tipoff.id)
    assert fresh.status is TipOffStatus.CLAIMED
    assert "张队员 已认领" in group.messages[-1].text
    await fake.wait_for(lambda: "已经接手处理您反映的" in (alice.last_message.text or ""))
    assert "已经接手处理您反映的" in alice.last_message.text

    # Resolve asks for a note (a reply to the prompt), then the reporter hears back.
    await member.press(text="✅ 已办结", chat=group)
    prompt = group.messages[-1]
    assert prompt.text.startswith("✍️")
    await member.send("已经和车主确认，是他自己忘带钥匙", chat=group, reply_to=prompt)
    # (The satisfaction question follows the update: look for the update, not the last.)
    await fake.wait_for(lambda: any("已经办结" in (m.text or "") for m in alice.messages))
    async with session_factory() as session:
        fresh = await session.get(TipOff, tipoff.id)
        kinds = [e.kind.value for e in await session.scalars(
            select(TipOffEvent).where(TipOffEvent.tipoff_id == tipoff.id)
            .order_by(TipOffEvent.id))]
    assert fresh.status is TipOffStatus.RESOLVED
    assert fresh.outcome_note == "已经和车主确认，是他自己忘带钥匙"
    assert kinds == ["created", "routed", "claimed", "resolved"]
    update = next(m for m in alice.messages if "已经办结" in (m.text or ""))
    assert "忘带钥匙" in update.text
    assert card.message_id == prompt.reply_to.message_id  # the prompt answered the card
    card = fake.message(group.id, card.message_id)
    assert card.buttons == [] and "忘带钥匙" in card.text  # the card shows it is closed

    # Anonymity: nothing the team's chat or any team member received names Alice.
    for chat_id in (group.id, leader.id, member.id, cadre.id):
        for m in fake.messages_to(chat_id, include_deleted=True):
            for version in [m.content or "", *[str(e) for e in m.edits]]:
                assert "Alice" not in version and str(alice.id) not in version
    # The bot kept Telegram's limits (the fake enforces them): not one 429.
    assert fake.stats.answered_429 == 0


async def test_outsider_is_refused_and_a_double_claim_has_one_winner(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    leader, member, group = scene.leader, scene.member, scene.group
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=False, album=0)
    await fake.wait_for(lambda: any("🔔" in (m.text or "") for m in group.messages))
    card = group.messages[-1]
    assert "反映人：Alice" in card.text and "13800000001" not in card.text
    stranger = fake.user("Mallory", language_code="zh-hans")
    group.add_member(stranger)
    await stranger.press(text="✋ 认领", chat=group)
    assert "只有负责这条线索的队伍可以操作" in (stranger.last_callback_answer.text or "")
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff))
    assert tipoff.status is TipOffStatus.NEW
    # Two team members press claim on the same card: one wins, the other is told.
    await asyncio.gather(leader.press(text="✋ 认领", chat=group),
                         member.press(text="✋ 认领", chat=group))
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff))
        claimer = await session.get(Person, tipoff.claimed_by_id)
    assert claimer.name == "王队长"
    assert "慢了一步" in (member.last_callback_answer.text or "")


async def test_without_a_group_the_leaders_get_the_card_privately(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory, with_group=False)
    leader, group = scene.leader, scene.group
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=True, album=0)
    await fake.wait_for(lambda: any("🔔" in (m.text or "") for m in leader.messages))
    assert group.messages == []
    card = leader.last_message
    assert "🔔 新线索" in card.text
    assert leader.last_message.button(text="✋ 认领") is not None


async def test_escalation_fires_after_restart_once(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    cadre = scene.cadre
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=True, album=0)
    await bot.restart()
    async with transaction(session_factory) as session:
        tipoff = await session.scalar(select(TipOff))
        await session.execute(update(TipOff).values(routed_at=tipoff.routed_at
                                                    - timedelta(minutes=31)))
    (job,) = bot.application.job_queue.get_jobs_by_name(SCAN_JOB)
    await job.run(bot.application)
    await job.run(bot.application)  # idempotent
    await fake.wait_for(lambda: any("30 分钟没人认领" in (m.text or "") for m in cadre.messages))
    await fake.settle(quiet=0.5)  # a second escalation would have arrived by now
    escalations = [m for m in cadre.messages if "30 分钟没人认领" in (m.text or "")]
    assert len(escalations) == 1 and tipoff.reference in escalations[0].text


async def test_draft_survives_a_restart(bot: BotRunner, fake: FakeTelegram,
                                        session_factory) -> None:
    alice = fake.user("Alice", language_code="zh-hans")
    await alice.send("/report")
    await alice.press(text="📄 乱贴小广告")
    await bot.restart()
    await alice.send("楼道里贴满了小广告")
    assert "有照片吗" in alice.last_message.text
    async with session_factory() as session:
        draft = await session.scalar(select(TipOffDraft))
    assert draft.description == "楼道里贴满了小广告" and draft.category == "illegal_ads"


async def test_urgent_category_says_call_119_first(bot: BotRunner, fake: FakeTelegram) -> None:
    alice = fake.user("Alice", language_code="zh-hans")
    await alice.send("/report")
    replies = await alice.press(text="🔥 安全隐患 / 火情")
    assert any("请先打 119" in (m.text or "") for m in replies)


async def test_bad_photo_and_rate_limit_are_refused(bot: BotRunner, fake: FakeTelegram,
                                                    session_factory) -> None:
    alice = fake.user("Alice", language_code="zh-hans")
    await alice.send("/report")
    await alice.press(text="📄 乱贴小广告")
    await alice.send("楼道小广告")
    store = fake.store_document(b"%PDF-1.4 not a picture", "a.pdf", "application/pdf")
    replies = await fake.user_message(alice.record, document=store)
    assert any("这个文件不是图片" in (m.text or "") for m in replies)
    await alice.send("/cancel")
    async with transaction(session_factory) as session:
        person = await session.scalar(select(Person).where(Person.telegram_id == alice.id))
        for i in range(5):
            session.add(TipOff(reference=f"TX-AAA{i + 2}", reporter_id=person.id,
                               category="other"))
    await alice.send("/report")
    assert "这一小时里已经反映了好几次" in alice.last_message.text


async def test_start_menu_offers_a_report_button_that_starts_one(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    bob = fake.user("Bob", language_code="zh-hant")
    await bob.send("/start")
    await bob.press("繁體中文")
    menu = next(m for m in bob.messages if m.button(text="📷 反映問題"))
    assert "/help" in menu.text
    replies = await bob.press(text="📷 反映問題", message=menu)
    assert len([m for m in replies if m.button(text="👀 可疑人員或行為")]) == 1
    async with session_factory() as session:
        draft = await session.scalar(select(TipOffDraft))
    assert draft is not None and draft.telegram_id == bob.id
    # The same button, pressed again later, starts afresh (one draft per person).
    await bob.press(text="📷 反映問題", message=menu)
    async with session_factory() as session:
        assert len((await session.scalars(select(TipOffDraft))).all()) == 1
