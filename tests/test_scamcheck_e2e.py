"""The scam check over the fake server: a forwarded scam, “tell the community”, pasted text,
/check in a group, pictures, and forged buttons."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.tipoffs.models import TipOff, TipOffDraft
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.fake_telegram.state import RecordedMessage
from tests.support import BotRunner
from tests.tipoff_support import patrol_scene

FAKE_POLICE = ("【市公安局】您好，我是刑侦支队李警官，您名下银行卡涉嫌一起洗钱案件，请将资金转入"
               "安全账户配合调查，此事严格保密，不要告诉任何人。咨询电话 +1 646 555 0199")


async def forward(fake: FakeTelegram, user: FakeUser, text: str | None = None,
                  **content: Any) -> list[RecordedMessage]:
    """`user` forwards someone else's message to the bot (text, or other `content`)."""
    origin = {"type": "hidden_user", "sender_user_name": "95588客服", "date": 1_700_000_000}
    if text is not None:
        content["text"] = text
    return await fake.user_message(user.record, None, forward_origin=origin, **content)


async def test_a_forwarded_scam_gets_high_risk_with_its_reasons_and_the_buttons(
    bot: BotRunner, fake: FakeTelegram,
) -> None:
    alice = fake.user("Alice", language_code="zh-hans")
    replies = await forward(fake, alice, FAKE_POLICE)
    assert len(replies) == 1
    answer = replies[0]
    assert answer.reply_to is not None and answer.reply_to.text == FAKE_POLICE
    assert answer.text.startswith("🔴 高风险：这很像诈骗（冒充公检法）。")
    assert "要求把钱转到“安全账户”：公检法从不这样做" in answer.text
    assert "要您保密" in answer.text and "+1 646 555 0199" in answer.text
    assert "96110" in answer.text and "110 报警" in answer.text
    assert answer.buttons == [["📣 告诉社区", "💡 防骗提示"]]

    # The tip button adds the library's tip on the fake-police scam to the answer, once.
    await alice.press(text="💡 防骗提示")
    edited = fake.message(alice.id, answer.message_id)
    assert "真正的执法机关不会在电话里办案" in edited.text
    assert edited.buttons == [["📣 告诉社区"]]


async def test_tell_the_community_turns_the_check_into_a_routed_fraud_report(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    alice = fake.user("Alice", language_code="zh-hans")
    await forward(fake, alice, FAKE_POLICE)
    await alice.press(text="📣 告诉社区")
    assert alice.last_message.text.startswith("要让处理的队伍看到您的名字吗？")
    await alice.press(text="🙈 匿名")
    summary = alice.last_message.text
    assert "诈骗" in summary and "安全账户配合调查" in summary
    await alice.press(text="✅ 发送")
    assert "已发送，编号是 TX-" in alice.last_message.text
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff))
        drafts = list(await session.scalars(select(TipOffDraft)))
    assert tipoff is not None and drafts == []
    assert tipoff.category == "fraud" and tipoff.anonymous
    assert tipoff.description == FAKE_POLICE and tipoff.team_id is not None
    team_chats = (scene.cadre.id, scene.leader.id, scene.member.id, scene.group.id)
    await fake.wait_for(lambda: any(tipoff.reference in (m.text or m.caption or "")
                                    for chat in team_chats for m in fake.messages_to(chat)))
    for chat in team_chats:
        assert all("Alice" not in (m.text or "") for m in fake.messages_to(chat))


async def test_pasted_text_is_answered_in_the_readers_language_and_a_clean_one_is_left_alone(
    bot: BotRunner, fake: FakeTelegram,
) -> None:
    bob = fake.user("Bob", language_code="en")
    replies = await bob.send("Congratulations! You have won a prize of $10,000. Pay the "
                             "processing fee first to claim it: http://tinyurl.com/win-now")
    assert replies[0].text.startswith("🔴 High risk: this looks like a scam (fake prize).")
    assert "Links: http://tinyurl.com/win-now" in replies[0].text
    assert "Amounts: $10,000" in replies[0].text
    assert replies[0].buttons == [["📣 Tell the community", "💡 Anti-fraud tip"]]

    # Forwarded but clean: still an answer, which says no check is certain; no report button.
    clean = await forward(fake, bob, "Water will be off on Thursday from 8 am to noon.")
    assert clean[0].text.startswith("🟢 No obvious risk found.")
    assert "no check is certain" in clean[0].text
    assert clean[0].buttons == [["💡 Anti-fraud tip"]]

    # Pasted and clean: not ours (the free-text fallback answers it).
    other = await bob.send("See you at the meeting tomorrow!")
    assert all("risk" not in (m.text or "") for m in other)

    carol = fake.user("Carol", language_code="zh-hant")
    replies = await forward(fake, carol, "您的醫保卡異常已被凍結，請點擊 http://nhsa-gov.top/x "
                                         "處理，否則將影響報銷")
    assert replies[0].text.startswith("🔴 高風險：這很像詐騙（醫保卡、社保卡異常）。")
    assert "連結冒充銀行、政府或平台的網址" in replies[0].text
    assert replies[0].buttons == [["📣 告訴社區", "💡 防騙提示"]]


async def test_check_in_a_group_answers_the_replied_message_without_a_report_button(
    bot: BotRunner, fake: FakeTelegram,
) -> None:
    dan = fake.user("Dan", language_code="zh-hans")
    erin = fake.user("Erin", language_code="zh-hans")
    group = fake.group("幸福里居民群", [dan, erin])
    await fake.add_bot_to(group.record, dan.record)
    assert await dan.send("兼职刷单，一单佣金30元，日结，加我微信", chat=group) == []
    posted = list(group.record.messages.values())[-1]
    replies = await erin.send("/check", chat=group, reply_to=posted)
    assert len(replies) == 1 and replies[0].reply_to.message_id == posted.message_id
    assert replies[0].text.startswith("🔴 高风险：这很像诈骗（刷单返利）。")
    assert replies[0].buttons == [["💡 防骗提示"]]
    # A forged “tell” in the group is refused (reports are private); anyone may show the tip.
    await erin.press(data="sc:tell", chat=group, forged=True)
    assert erin.last_callback_answer.text == "这个按钮已经失效了。"
    await dan.press(text="💡 防骗提示", chat=group)
    assert "所有刷单都是诈骗" in fake.message(group.id, replies[0].message_id).text

    usage = await erin.send("/check", chat=group)
    assert usage[0].text == "请回复您想让我看的那条消息，并发送 /check。"


async def test_pictures_commands_and_forged_buttons_get_clear_answers(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    frank = fake.user("Frank", language_code="zh-hans")
    photo = fake.photo_content(None, as_document=False)
    replies = await forward(fake, frank, **photo)
    assert replies[0].text.startswith("我只能看文字，看不了图片和语音。")

    usage = await frank.send("/check")
    assert usage[0].text.startswith("把拿不准的消息转发给我")
    replies = await frank.send("/check 请把手机收到的验证码告诉我，我帮您办理退款")
    assert replies[0].text.startswith("🔴 高风险")
    assert "向您要验证码：验证码谁要都不能给" in replies[0].text

    for data in ("sc:tip:no-such-tip", "sc:tip:theft-ebike-lock-001", "sc:tip", "sc:nonsense"):
        await frank.press(data=data, forged=True)
        assert frank.last_callback_answer.text == "这个按钮已经失效了。"
    async with session_factory() as session:
        assert list(await session.scalars(select(TipOffDraft))) == []


async def test_a_screenshot_outside_a_flow_gets_the_text_only_hint_and_a_report_keeps_its_photo(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    await patrol_scene(fake, session_factory)
    gina = fake.user("Gina", language_code="zh-hans")
    for as_document in (False, True):  # a screenshot sent as a photo, or as a file
        replies = await gina.send_photo(as_document=as_document)
        assert len(replies) == 1
        assert replies[0].text.startswith("我只能看文字，看不了图片和语音。请直接转发那条消息")
        assert replies[0].text.endswith("想用这张图片向社区反映情况？请发送 /report。")

    # During /report a photo belongs to the report.
    await gina.send("/report")
    await gina.press(text="👀 可疑人员或行为")
    await gina.send("有个人一直在撬电动车的锁")
    replies = await gina.send_photo()
    assert all("我只能看文字" not in (m.text or "") for m in replies)
    async with session_factory() as session:
        draft = await session.scalar(select(TipOffDraft))
    assert draft is not None and len(draft.photos or []) == 1
