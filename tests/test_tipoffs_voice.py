"""Voice descriptions: the team hears the reporter's voice note (sent through the outbox as
a voice message, not only mentioned on the card), and the outbox carries voice end to end."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.tipoffs.models import TipOff, TipOffEvent
from broadcasts import Broadcast, OutgoingMessage, split_message
from broadcasts.content import content_from_json, content_to_json
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.tipoff_support import card_in, patrol_scene, report


# -- the outbox's message ------------------------------------------------------------
def test_a_voice_message_survives_storage_and_is_one_kind_of_media() -> None:
    message = OutgoingMessage(voice="VOICE-ID", text="🎤 语音", buttons=((("收到", "ack"),),))
    assert message.kind == "voice"
    stored = content_to_json({"zh-CN": message})
    assert stored["zh-CN"]["voice"] == "VOICE-ID"
    assert content_from_json(stored) == {"zh-CN": message}
    assert OutgoingMessage(voice="V").to_dict() == {"voice": "V"}  # no caption needed
    assert "voice" not in OutgoingMessage(text="hi").to_dict()
    with pytest.raises(ValueError, match="only one"):
        OutgoingMessage(voice="V", photo="P")
    with pytest.raises(ValueError, match="only one"):
        OutgoingMessage(voice="V", album=("A", "B"))


@pytest.mark.parametrize(("length", "kinds"), [(20, ["voice"]), (1500, ["voice", "text"])])
def test_a_voice_caption_is_cut_like_a_photo_caption(length: int, kinds: list[str]) -> None:
    text = "语" * length
    parts = split_message(OutgoingMessage(voice="V", text=text, buttons=((("好", "ok"),),)))
    assert [p.kind for p in parts] == kinds
    assert parts[0].voice == "V" and len(parts[0].text or "") <= 1024
    assert "".join(p.text or "" for p in parts) == text
    assert [bool(p.buttons) for p in parts] == [False] * (len(parts) - 1) + [True]


# -- end to end ----------------------------------------------------------------------
async def test_the_team_hears_the_reporters_voice_and_an_added_one(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    group = scene.group
    alice = fake.user("Alice", language_code="zh-hans", username="alice_on_3rd_floor")
    await alice.send("/report")
    await alice.press(text="👀 可疑人员或行为")
    replies = await alice.send_voice(duration=7)
    assert any("有照片吗" in (m.text or "") for m in replies)
    await alice.press(text="⏭ 没有照片")
    await alice.send_location(31.2304, 121.4737)
    await alice.press(text="🙈 匿名")
    # Anonymous but speaking: the summary says plainly that the team will hear the voice.
    assert "会听到您的语音" in alice.last_message.text
    await alice.press(text="✅ 发送")
    await fake.wait_for(lambda: card_in(group.messages) is not None)
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff))
    assert tipoff.voice_file_id is not None and tipoff.description == ""

    # The group got the voice note itself (the same file), then the card that points to it.
    await fake.settle()
    voices = [m for m in group.messages if m.voice]
    assert len(voices) == 1
    voice = voices[0]
    assert voice.voice["file_id"] == tipoff.voice_file_id and voice.voice["duration"] == 7
    assert fake.files[voice.voice["file_id"]].data.startswith(b"OggS")
    assert tipoff.reference in voice.caption and "Alice" not in voice.caption
    card = card_in(group.messages)
    assert voice.message_id < card.message_id
    assert "语音就在上面" in card.text and "反映人：匿名" in card.text
    async with session_factory() as session:
        kinds = list(await session.scalars(select(Broadcast.kind).order_by(Broadcast.id)))
    assert kinds == ["tipoff_voice", "tipoff_card"]

    # A second voice note, added from /mytips, reaches the team the same way.
    await alice.send("/mytips")
    await alice.press(text=f"➕ 补充 {tipoff.reference}")
    assert "文字、照片或语音" in alice.last_message.text
    await alice.send_voice(duration=3)
    assert "可能有人听得出是您" in alice.last_message.text  # she is anonymous: asked first
    await alice.press(text="🎤 照样发送语音")
    assert "已经转给处理的队伍了" in alice.last_message.text
    await fake.wait_for(lambda: len([m for m in group.messages if m.voice]) == 2)
    added = [m for m in group.messages if m.voice][-1]
    assert added.voice["duration"] == 3 and added.voice["file_id"] != tipoff.voice_file_id
    assert f"反映人给线索 {tipoff.reference} 补充了一段语音" in added.caption
    async with session_factory() as session:
        events = [e.kind.value for e in await session.scalars(
            select(TipOffEvent).order_by(TipOffEvent.id))]
    assert events[-1] == "voice_added"

    # Nothing the team received names Alice.
    for m in fake.messages_to(group.id, include_deleted=True):
        seen = f"{m.text} {m.caption} {m.voice} {m.reply_markup}"
        assert "Alice" not in seen and "alice_on_3rd_floor" not in seen
        assert str(alice.id) not in seen
    assert fake.stats.answered_429 == 0


async def test_an_anonymous_speaker_can_type_instead_and_keeps_the_rest_of_the_report(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    group = scene.group
    alice = fake.user("Alice", language_code="zh-hans")
    await alice.send("/report")
    await alice.press(text="👀 可疑人员或行为")
    await alice.send_voice(duration=7)
    await alice.send_album(count=2, quiet=1.5)
    await alice.press(text="✅ 完成")
    await alice.send_location(31.2304, 121.4737)
    await alice.press(text="🙈 匿名")
    summary = alice.last_message
    assert "会听到您的语音" in summary.text and "改为打字" in summary.text
    assert summary.button(text="⌨️ 改为打字") is not None

    await alice.press(text="⌨️ 改为打字")
    assert "请打字" in alice.last_message.text
    await alice.send("有个人一直在撬电动车的锁")
    # Back at the summary with everything else she gave: photos, pin, anonymity.
    summary = alice.last_message
    assert "情况：有个人一直在撬电动车的锁" in summary.text
    assert "照片：2 张" in summary.text and "地点：定位 31.23040, 121.47370" in summary.text
    assert "匿名" in summary.text and "会听到您的语音" not in summary.text
    assert summary.button(text="⌨️ 改为打字") is None
    await alice.press(text="✅ 发送")
    await fake.wait_for(lambda: card_in(group.messages) is not None)
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff))
    assert tipoff.voice_file_id is None and tipoff.description == "有个人一直在撬电动车的锁"
    assert tipoff.latitude is not None and tipoff.anonymous
    await fake.settle()
    assert not any(m.voice for m in group.messages)
    assert len([m for m in group.messages if m.media_group_id]) == 2


async def test_an_anonymous_reporters_added_voice_waits_for_their_choice(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    group = scene.group
    alice = fake.user("Alice", language_code="zh-hans")
    await alice.send("/report")
    await alice.press(text="👀 可疑人员或行为")
    await alice.send("有个人一直在撬电动车的锁")
    await alice.press(text="⏭ 没有照片")
    await alice.send_location(31.2304, 121.4737)
    await alice.press(text="🙈 匿名")
    await alice.press(text="✅ 发送")
    await fake.wait_for(lambda: card_in(group.messages) is not None)
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff))

    # A voice note for an anonymous report is held, with a warning, until she chooses.
    await alice.send("/mytips")
    await alice.press(text=f"➕ 补充 {tipoff.reference}")
    await alice.send_voice(duration=3)
    warning = alice.last_message
    assert "可能有人听得出是您" in warning.text
    assert warning.button(text="🎤 照样发送语音") is not None
    await fake.settle()
    assert not any(m.voice for m in group.messages)
    # She types instead: only her words reach the team.
    await alice.press(text="⌨️ 改为打字")
    assert "请打字写下要补充的内容" in alice.last_message.text
    await alice.send("那个人穿蓝色外套")
    assert "已经转给处理的队伍了" in alice.last_message.text
    await fake.wait_for(lambda: any("蓝色外套" in (m.text or "") for m in group.messages))
    assert not any(m.voice for m in group.messages)

    # Another time she sends the voice anyway: now it goes.
    await alice.send("/mytips")
    await alice.press(text=f"➕ 补充 {tipoff.reference}")
    await alice.send_voice(duration=4)
    await alice.press(text="🎤 照样发送语音")
    assert "已经转给处理的队伍了" in alice.last_message.text
    await fake.wait_for(lambda: any(m.voice for m in group.messages))
    (voice,) = [m for m in group.messages if m.voice]
    assert voice.voice["duration"] == 4
    async with session_factory() as session:
        kinds = [e.kind.value for e in await session.scalars(
            select(TipOffEvent).order_by(TipOffEvent.id))]
    assert kinds[-2:] == ["comment", "voice_added"]


async def test_an_album_with_a_held_voice_note_waits_and_goes_with_it(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    group = scene.group
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=True, album=0)
    await fake.wait_for(lambda: card_in(group.messages) is not None)
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff))
    await alice.send("/mytips")
    await alice.press(text=f"➕ 补充 {tipoff.reference}")
    # Sent together: the voice note arrives while the album is still being collected.
    await asyncio.gather(alice.send_album(count=2), alice.send_voice(duration=3))
    await fake.settle(quiet=1.5)  # past the album window: the album waits for her choice
    assert not any(m.photo or m.voice for m in group.messages)
    await alice.press(text="🎤 照样发送语音")
    await fake.wait_for(lambda: any(m.voice for m in group.messages))
    assert len([m for m in group.messages if m.media_group_id]) == 2
    assert "已经转给处理的队伍了" in alice.last_message.text
