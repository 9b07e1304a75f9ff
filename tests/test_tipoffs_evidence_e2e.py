"""Tip-offs end to end: the evidence travels with the report — to the duty cadres when an
unclaimed report is escalated, and to the team when the reporter adds an album later."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from bot.db import transaction
from bot.tipoffs.handlers import SCAN_JOB
from bot.tipoffs.models import TipOff, TipOffEvent, TipOffPhoto
from broadcasts import Broadcast
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.tipoff_support import card_in, patrol_scene, report

ESCALATED = "30 分钟没人认领"


def _photo_ids(messages) -> list[str]:
    return [m.photo[-1]["file_unique_id"] for m in messages if m.photo]


async def test_an_escalated_report_reaches_the_cadres_with_its_photos_before_the_card(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    group, cadre = scene.group, scene.cadre
    alice = fake.user("Alice Reporter", language_code="zh-hans", username="alice_b3")
    await report(alice, anonymous=True, album=2)
    await fake.wait_for(lambda: card_in(group.messages) is not None)
    team_photos = _photo_ids(group.messages)
    assert len(team_photos) == 2
    assert cadre.messages == []  # the cadres hear of it only when it is escalated

    async with transaction(session_factory) as session:
        tipoff = await session.scalar(select(TipOff))
        await session.execute(update(TipOff).values(routed_at=tipoff.routed_at
                                                    - timedelta(minutes=31)))
    (job,) = bot.application.job_queue.get_jobs_by_name(SCAN_JOB)
    await job.run(bot.application)
    await fake.wait_for(lambda: any(ESCALATED in (m.text or "") for m in cadre.messages))
    await fake.settle(quiet=0.3)

    received = cadre.messages
    album = [m for m in received if m.media_group_id]
    assert len(album) == 2 and _photo_ids(album) == team_photos
    assert tipoff.reference in (album[0].caption or "")
    (card,) = [m for m in received if ESCALATED in (m.text or "")]
    assert received.index(card) > received.index(album[-1])  # the photos are above it
    # What the card says about the evidence is what the cadres hold: two photos, no voice.
    assert "照片：2 张（见上方）" in card.text and "语音" not in card.text
    assert card.button(text="✋ 认领") is not None
    # The group got its evidence once: escalation did not send the album there again.
    assert len([m for m in group.messages if m.media_group_id]) == 2

    # Anonymity: nothing the cadres received names Alice.
    for m in fake.messages_to(cadre.id, include_deleted=True):
        for version in [m.content or "", str(m.caption), *[str(e) for e in m.edits]]:
            assert "Alice" not in version and "alice_b3" not in version
            assert str(alice.id) not in version


async def test_an_album_added_from_mytips_reaches_the_team_whole(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    group = scene.group
    alice = fake.user("Alice Reporter", language_code="zh-hans", username="alice_b3")
    await report(alice, anonymous=True, album=0)
    await fake.wait_for(lambda: card_in(group.messages) is not None)
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff))
    ref = tipoff.reference

    await alice.send("/mytips")
    await alice.press(text=f"➕ 补充 {ref}")
    await alice.send_album(count=3, caption="从三个角度拍的", quiet=1.5)
    await fake.wait_for(lambda: "已经转给处理的队伍了" in (alice.last_message.text or ""))
    await fake.wait_for(lambda: len([m for m in group.messages if m.media_group_id]) == 3)
    await fake.settle(quiet=0.3)

    # The team got all three, as one album, captioned with the reference and her words.
    album = [m for m in group.messages if m.media_group_id]
    assert len(album) == 3 and len({m.media_group_id for m in album}) == 1
    assert f"反映人给线索 {ref} 补充了 3 张照片" in album[0].caption
    assert "从三个角度拍的" in album[0].caption
    # Alice was thanked once, not once per photo, and the addition is over.
    thanks = [m for m in alice.messages if "已经转给处理的队伍了" in (m.text or "")]
    assert len(thanks) == 1
    async with session_factory() as session:
        photos = await session.scalar(select(func.count(TipOffPhoto.id))
                                      .where(TipOffPhoto.tipoff_id == tipoff.id))
        kinds = [e.kind.value for e in await session.scalars(
            select(TipOffEvent).where(TipOffEvent.tipoff_id == tipoff.id)
            .order_by(TipOffEvent.id))]
        additions = await session.scalar(select(func.count(Broadcast.id))
                                         .where(Broadcast.kind == "tipoff_addition"))
    assert photos == 3 and additions == 1
    assert kinds == ["created", "routed", "photo_added", "photo_added", "photo_added",
                     "comment"]
    await alice.send("还有一句")  # the addition ended: this is not passed on
    await fake.settle(quiet=0.3)
    assert not any("还有一句" in (m.text or m.caption or "") for m in group.messages)

    # Nothing the team saw names Alice.
    for m in fake.messages_to(group.id, include_deleted=True):
        for version in [m.content or "", str(m.caption), *[str(e) for e in m.edits]]:
            assert "Alice" not in version and "alice_b3" not in version
            assert str(alice.id) not in version
