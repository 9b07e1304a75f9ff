"""/alert drafts live in the database: a restart mid-way continues where the sender was; a
draft quiet for 15 minutes is put away kindly; people without a draft are not caught."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.alerts import drafts
from bot.alerts.drafts import AlertDraft
from bot.alerts.handlers import CLOCK_KEY, DRAFTS_KEY
from bot.alerts.models import Alert, AlertDraftRow, AlertRecipient, AlertStep, Severity
from bot.db import transaction, utcnow
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.test_alerts_flow import Clock, _alert, _alert_copies, _dispatcher, _settle, _town

EXPIRED = "超过 15 分钟"
#: Text no feature takes gets the free-text choices (report it, ask staff, help).
FREE_TEXT = "这条消息，您想怎么处理？"


async def _row(session_factory, telegram_id: int) -> AlertDraftRow | None:
    async with session_factory() as session:
        return await session.get(AlertDraftRow, telegram_id)


async def _alerts(session_factory) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(Alert)) or 0


async def _restart(bot: BotRunner, session_factory, clock: Clock):
    dispatcher = await _dispatcher(bot, session_factory)
    if bot.application.post_stop is None:  # a dispatcher the test started: stop it too
        await dispatcher.stop()
    await bot.restart()
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    return await _dispatcher(bot, session_factory)


async def test_leader_restarts_mid_alert_and_the_alert_still_goes_out(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    town = await _town(bot, fake, session_factory)
    clock = Clock()
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    leader = town.leaders[town.patrol.id]
    await leader.send("/alert")
    await leader.press(data=f"al:t:{town.patrol.id}")
    await leader.press(data="al:ok")
    row = await _row(session_factory, leader.id)
    assert row is not None and row.step is AlertStep.AWAITING_TEXT
    assert row.chosen == [["t", town.patrol.id]]

    await _restart(bot, session_factory, clock)
    assert leader.id in bot.application.bot_data[DRAFTS_KEY].ids  # loaded at start
    # An old button of a later step does nothing; the draft still waits for the text.
    await leader.press(data="al:go", message=leader.last_message, forged=True)
    assert leader.last_callback_answer.text == "这个按钮已经失效了。"
    assert await _alerts(session_factory) == 0
    await leader.send("今晚8点巡逻改到西门集合")
    assert leader.last_message.text == "情况有多紧急？"
    await leader.press(data="al:s:w")
    row = await _row(session_factory, leader.id)
    assert row is not None and row.step is AlertStep.AWAITING_ACK_CHOICE
    assert row.text == "今晚8点巡逻改到西门集合" and row.severity is Severity.WARNING

    # A second restart, this time between two buttons.
    dispatcher = await _restart(bot, session_factory, clock)
    await leader.press(data="al:r:1")
    assert "1 个群" in leader.last_message.text  # the confirm step: patrol's group
    await leader.press(data="al:go")
    await _settle(fake, dispatcher)

    alert = await _alert(session_factory)
    assert alert.text == "今晚8点巡逻改到西门集合" and alert.severity is Severity.WARNING
    assert alert.ack_required
    assert len(_alert_copies(town.pin_group)) == 1
    assert _alert_copies(town.plain_group) == []  # not mediation's
    async with session_factory() as session:
        recipients = await session.scalar(
            select(func.count()).where(AlertRecipient.alert_id == alert.id))
    assert recipients == 14  # patrol: fourteen members (the leader sent it)
    assert await _row(session_factory, leader.id) is None
    assert leader.id not in bot.application.bot_data[DRAFTS_KEY].ids


async def test_expired_draft_is_put_away_kindly_after_a_restart(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    town = await _town(bot, fake, session_factory)
    clock = Clock()
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    staff = town.staff
    await staff.send("/alert")
    await staff.press(data=f"al:a:{town.tree.community.id}")
    await staff.press(data="al:ok")
    await _restart(bot, session_factory, clock)
    clock.advance(16)
    await staff.send("3号楼发现可疑人员")
    assert EXPIRED in staff.last_message.text and "/alert" in staff.last_message.text
    assert await _row(session_factory, staff.id) is None
    assert await _alerts(session_factory) == 0
    # The draft is gone: the next message is no longer the alert feature's.
    await staff.send("3号楼发现可疑人员")
    assert FREE_TEXT in staff.last_message.text

    # A button of an expired draft says so too, on the message itself.
    await staff.send("/alert")
    picker = staff.last_message
    clock.advance(15)
    await staff.press(data=f"al:a:{town.tree.community.id}")
    assert EXPIRED in fake.message(staff.id, picker.message_id).text
    assert await _row(session_factory, staff.id) is None
    assert await _alerts(session_factory) == 0


async def test_text_from_someone_without_a_draft_is_not_caught_after_a_restart(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    town = await _town(bot, fake, session_factory)
    clock = Clock()
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    await town.staff.send("/alert")  # someone has a draft, so the filter has ids in it
    await _restart(bot, session_factory, clock)
    member = town.people[3]
    before = len(member.messages)
    await member.send("你好，请问明天几点巡逻？")
    replies = member.messages[before:]
    assert len(replies) == 1 and FREE_TEXT in replies[0].text
    assert await _row(session_factory, member.id) is None
    row = await _row(session_factory, town.staff.id)
    assert row is not None and row.step is AlertStep.AWAITING_AUDIENCE  # untouched
    # And the one with a draft, sending text while the picker waits, is re-asked.
    await town.staff.send("这是什么")
    assert town.staff.last_message.text == "请点上面的按钮，或发送 /cancel 取消。"
    await town.staff.send("/cancel")
    assert town.staff.last_message.text == "已取消，什么也没有发出。"
    assert await _row(session_factory, town.staff.id) is None


async def test_photo_after_a_restart_continues_and_day_old_drafts_are_dropped_at_start(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    town = await _town(bot, fake, session_factory)
    clock = Clock()
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    staff = town.staff
    await staff.send("/alert")
    await staff.press(data=f"al:a:{town.tree.community.id}")
    await staff.press(data="al:ok")
    async with transaction(session_factory) as session:  # someone who left one long ago
        await drafts.save_draft(session, telegram_id=town.other_staff.id, draft=AlertDraft(),
                                now=utcnow() - timedelta(days=1, minutes=1))
    await _restart(bot, session_factory, clock)
    assert bot.application.bot_data[DRAFTS_KEY].ids == {staff.id}
    assert await _row(session_factory, town.other_staff.id) is None
    await staff.send_photo(caption="  小区东门水管爆裂，请绕行  ")
    assert staff.last_message.text == "情况有多紧急？"
    row = await _row(session_factory, staff.id)
    assert row is not None and row.step is AlertStep.AWAITING_SEVERITY
    assert row.photo and row.text == "小区东门水管爆裂，请绕行"


async def test_draft_round_trip_and_expiry(session_factory) -> None:
    now = utcnow()
    draft = AlertDraft(step=AlertStep.AWAITING_CONFIRM, chosen={("t", 3), ("c", 9)},
                       section="c", page=2, text="停水通知", photo="file-1",
                       severity=Severity.WARNING, ack_required=False)
    async with transaction(session_factory) as session:
        await drafts.save_draft(session, telegram_id=777, draft=draft, now=now)
    async with session_factory() as session:
        loaded = await drafts.load_draft(session, telegram_id=777)
        assert await drafts.drafting_telegram_ids(session) == {777}
        assert await drafts.load_draft(session, telegram_id=778) is None
    assert loaded == AlertDraft(step=AlertStep.AWAITING_CONFIRM, chosen={("t", 3), ("c", 9)},
                                section="c", page=2, text="停水通知", photo="file-1",
                                severity=Severity.WARNING, ack_required=False, updated_at=now)
    assert loaded.spec().team_ids == {3} and loaded.spec().chat_ids == {9}
    assert not loaded.expired(now + timedelta(minutes=14, seconds=59))
    assert loaded.expired(now + timedelta(minutes=15))
    # Saving again replaces it (one draft per sender) and moves updated_at.
    async with transaction(session_factory) as session:
        await drafts.save_draft(session, telegram_id=777, draft=AlertDraft(),
                                now=now + timedelta(minutes=20))
    async with session_factory() as session:
        again = await drafts.load_draft(session, telegram_id=777)
    assert again is not None and again.chosen == set() and again.text is None
    assert not again.expired(now + timedelta(minutes=21))
    async with transaction(session_factory) as session:
        await drafts.delete_draft(session, telegram_id=777)
    async with session_factory() as session:
        assert await drafts.drafting_telegram_ids(session) == set()
