"""A private copy's "Received" button turns into a plain note once its reader confirms; a
group copy keeps its button for everyone else; pressing again stays harmless."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.alerts.handlers import CLOCK_KEY
from bot.alerts.models import AlertRecipient
from bot.directory.models import Person
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.test_alerts_flow import (
    Clock,
    _alert,
    _alert_copies,
    _dispatcher,
    _send_alert,
    _settle,
    _town,
)


def _buttons(message) -> list[tuple[str, str]]:
    markup = message.reply_markup or {}
    return [(b["text"], b.get("callback_data", "")) for row in markup.get("inline_keyboard", [])
            for b in row]


async def test_private_copy_shows_received_time_group_copy_keeps_button(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    town = await _town(bot, fake, session_factory)
    dispatcher = await _dispatcher(bot, session_factory)
    clock = Clock()
    bot.application.bot_data["services"].extras[CLOCK_KEY] = clock
    await _send_alert(town)
    await _settle(fake, dispatcher)
    alert = await _alert(session_factory)
    tz = bot.application.bot_data["services"].settings.tz
    at = clock.now.astimezone(tz).strftime("%H:%M")
    p2, p0 = town.people[2], town.people[0]

    (copy,) = _alert_copies(p2)
    assert _buttons(copy) == [("✅ 收到", f"ak:{alert.id}")]
    await p2.press(data=f"ak:{alert.id}", message=copy)
    assert p2.last_callback_answer.text == "已收到，谢谢！🙏"
    assert _buttons(fake.message(p2.id, copy.message_id)) == [(f"✅ 已收到 {at}",
                                                               f"ak:{alert.id}")]

    # In the group the button stays for the others; P0's own private copy still asks.
    (group_copy,) = _alert_copies(town.pin_group)
    await p0.press(data=f"ak:{alert.id}", message=group_copy)
    assert _buttons(fake.message(town.pin_group.id, group_copy.message_id)) == [
        ("✅ 收到", f"ak:{alert.id}")]
    (own,) = _alert_copies(p0)
    assert _buttons(fake.message(p0.id, own.message_id)) == [("✅ 收到", f"ak:{alert.id}")]
    # Pressing their private copy later: already counted, and the copy shows when.
    clock.advance(5)
    await p0.press(data=f"ak:{alert.id}", message=own)
    assert p0.last_callback_answer.text == "您已经确认过了，谢谢。"
    assert _buttons(fake.message(p0.id, own.message_id)) == [(f"✅ 已收到 {at}", f"ak:{alert.id}")]

    # Re-pressing the replaced button: answered, nothing edited, the time kept.
    edits = len(fake.calls("editMessageReplyMarkup"))
    await p2.press(data=f"ak:{alert.id}", message=fake.message(p2.id, copy.message_id))
    assert p2.last_callback_answer.text == "您已经确认过了，谢谢。"
    assert len(fake.calls("editMessageReplyMarkup")) == edits
    async with session_factory() as session:
        acked = dict((await session.execute(
            select(Person.telegram_id, AlertRecipient.acknowledged_at)
            .join(Person, Person.id == AlertRecipient.person_id)
            .where(AlertRecipient.alert_id == alert.id,
                   AlertRecipient.acknowledged_at.is_not(None)))).all())
    assert set(acked) == {p0.id, p2.id}
    assert acked[p0.id] == acked[p2.id] == clock.now - timedelta(minutes=5)

    # A stale copy after the all clear: answered kindly, nothing recorded, no edit.
    p3 = town.people[3]
    (stale,) = _alert_copies(p3)
    await town.staff.press(data=f"am:end:{alert.id}")
    await town.staff.press(data=f"am:endok:{alert.id}")
    await _settle(fake, dispatcher)
    await p3.press(data=f"ak:{alert.id}", message=stale)
    assert p3.last_callback_answer.text == "这条通知已经解除了，谢谢。"
    assert _buttons(fake.message(p3.id, stale.message_id)) == [("✅ 收到", f"ak:{alert.id}")]
    assert len(fake.calls("editMessageReplyMarkup")) == edits
